package jobmanager

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/flink-go/flink-go/configs"
)

// RestartStrategy decides whether and when a failed job restarts (Flink's restart-strategy.*).
// It is pure: the failure time is passed in.
type RestartStrategy interface {
	// NextDelay is called at each failure; ok=false means the job fails for good.
	NextDelay(failedAt time.Time) (delay time.Duration, ok bool)
	String() string
}

type noRestart struct{}

func (noRestart) NextDelay(time.Time) (time.Duration, bool) { return 0, false }
func (noRestart) String() string                            { return "none" }

type fixedDelay struct {
	attempts, used int
	delay          time.Duration
}

func (f *fixedDelay) NextDelay(time.Time) (time.Duration, bool) {
	if f.used >= f.attempts {
		return 0, false
	}
	f.used++
	return f.delay, true
}
func (f *fixedDelay) String() string {
	return fmt.Sprintf("fixed-delay (%d attempts, %s)", f.attempts, f.delay)
}

// failureRate restarts unless more than maxFailures failures happened within interval.
type failureRate struct {
	maxFailures int
	interval    time.Duration
	delay       time.Duration
	failures    []time.Time
}

func (f *failureRate) NextDelay(now time.Time) (time.Duration, bool) {
	f.failures = append(f.failures, now)
	cut := 0
	for cut < len(f.failures) && now.Sub(f.failures[cut]) > f.interval {
		cut++
	}
	f.failures = f.failures[cut:]
	if len(f.failures) > f.maxFailures {
		return 0, false
	}
	return f.delay, true
}
func (f *failureRate) String() string {
	return fmt.Sprintf("failure-rate (%d per %s, delay %s)", f.maxFailures, f.interval, f.delay)
}

// exponentialDelay doubles (multiplier) the backoff up to max, with jitter, and resets it after
// a quiet period (reset threshold), as Flink's ExponentialDelayRestartBackoffTimeStrategy.
type exponentialDelay struct {
	initial, max, reset time.Duration
	multiplier, jitter  float64
	attempts, used      int
	current             time.Duration
	last                time.Time
	rnd                 *rand.Rand
}

func (e *exponentialDelay) NextDelay(now time.Time) (time.Duration, bool) {
	if !e.last.IsZero() && now.Sub(e.last) >= e.reset {
		e.current, e.used = 0, 0
	}
	e.last = now
	if e.used >= e.attempts {
		return 0, false
	}
	e.used++
	if e.current == 0 {
		e.current = e.initial
	} else {
		next := time.Duration(math.Min(float64(e.current)*e.multiplier, float64(e.max)))
		e.current = next
	}
	d := e.current
	if e.jitter > 0 {
		j := float64(d) * e.jitter
		d += time.Duration((e.rnd.Float64()*2 - 1) * j)
	}
	if d < 0 {
		d = 0
	}
	return d, true
}
func (e *exponentialDelay) String() string {
	return fmt.Sprintf("exponential-delay (initial %s, max %s, x%.2f)", e.initial, e.max, e.multiplier)
}

// RestartStrategyFrom reads restart-strategy.* from a job configuration. Without a type, a job
// with checkpointing restarts with exponential-delay (Flink's default), otherwise it does not.
func RestartStrategyFrom(m map[string]string) (RestartStrategy, error) {
	c := configs.New()
	if err := c.SetAll(m, configs.CodeOrigin("job")); err != nil {
		return noRestart{}, err
	}
	typ := string(configs.Get(c, configs.RestartStrategy))
	if typ == "" {
		if configs.Get(c, configs.CheckpointInterval) > 0 {
			typ = "exponential-delay"
		} else {
			typ = "none"
		}
	}
	switch typ {
	case "none", "off", "disable":
		return noRestart{}, nil
	case "fixed-delay", "fixeddelay":
		return &fixedDelay{attempts: configs.Get(c, configs.FixedDelayAttempts), delay: configs.Get(c, configs.FixedDelayDelay)}, nil
	case "failure-rate", "failurerate":
		return &failureRate{maxFailures: configs.Get(c, configs.FailureRateMaxFailures), interval: configs.Get(c, configs.FailureRateInterval),
			delay: configs.Get(c, configs.FailureRateDelay)}, nil
	case "exponential-delay", "exponentialdelay":
		return &exponentialDelay{initial: configs.Get(c, configs.ExpDelayInitialBackoff), max: configs.Get(c, configs.ExpDelayMaxBackoff),
			reset: configs.Get(c, configs.ExpDelayResetThreshold), multiplier: configs.Get(c, configs.ExpDelayMultiplier),
			jitter: configs.Get(c, configs.ExpDelayJitter), attempts: configs.Get(c, configs.ExpDelayAttempts),
			rnd: rand.New(rand.NewPCG(1, 2))}, nil
	default:
		return noRestart{}, fmt.Errorf("restart-strategy.type %q is not supported (none, fixed-delay, failure-rate, exponential-delay)", typ)
	}
}
