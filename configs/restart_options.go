package configs

import (
	"math"
	"time"
)

// Restart strategy and failover options.

// RestartStrategyType is the value of restart-strategy.type.
type RestartStrategyType string

// Restart strategies.
const (
	RestartNone             RestartStrategyType = "none"
	RestartFixedDelay       RestartStrategyType = "fixed-delay"
	RestartFailureRate      RestartStrategyType = "failure-rate"
	RestartExponentialDelay RestartStrategyType = "exponential-delay"
)

// FailoverStrategy is the value of jobmanager.execution.failover-strategy.
type FailoverStrategy string

// Failover strategies.
const (
	FailoverFull   FailoverStrategy = "full"
	FailoverRegion FailoverStrategy = "region"
)

var (
	// RestartStrategy selects how failed jobs are restarted.
	RestartStrategy = Enum("restart-strategy.type", RestartStrategyType(""),
		[]RestartStrategyType{RestartNone, RestartFixedDelay, RestartFailureRate, RestartExponentialDelay},
		"How a failed job is restarted. Unset means none without checkpointing and exponential-delay with checkpointing (as in Flink). Flink's spellings off, disable, fixeddelay, failurerate and exponentialdelay are accepted.").
		WithAliases(map[string]string{
			"off": string(RestartNone), "disable": string(RestartNone),
			"fixeddelay": string(RestartFixedDelay), "failurerate": string(RestartFailureRate),
			"exponentialdelay": string(RestartExponentialDelay),
		}).
		WithDeprecatedKeys("restart-strategy")

	// FixedDelayAttempts is the number of restarts before the job fails.
	FixedDelayAttempts = Int("restart-strategy.fixed-delay.attempts", 1,
		"fixed-delay: number of restart attempts before the job is declared failed.")

	// FixedDelayDelay is the pause between restarts.
	FixedDelayDelay = Duration("restart-strategy.fixed-delay.delay", time.Second,
		"fixed-delay: pause between two restart attempts.")

	// FailureRateMaxFailures is the number of failures tolerated per interval.
	FailureRateMaxFailures = Int("restart-strategy.failure-rate.max-failures-per-interval", 1,
		"failure-rate: number of failures within one interval before the job is declared failed.")

	// FailureRateInterval is the measuring interval.
	FailureRateInterval = Duration("restart-strategy.failure-rate.failure-rate-interval", time.Minute,
		"failure-rate: time window over which failures are counted.")

	// FailureRateDelay is the pause between restarts.
	FailureRateDelay = Duration("restart-strategy.failure-rate.delay", time.Second,
		"failure-rate: pause between two restart attempts.")

	// ExpDelayInitialBackoff is the first restart delay.
	ExpDelayInitialBackoff = Duration("restart-strategy.exponential-delay.initial-backoff", time.Second,
		"exponential-delay: delay before the first restart.")

	// ExpDelayMaxBackoff caps the restart delay.
	ExpDelayMaxBackoff = Duration("restart-strategy.exponential-delay.max-backoff", time.Minute,
		"exponential-delay: upper bound of the delay between restarts.")

	// ExpDelayMultiplier grows the delay after each failure.
	ExpDelayMultiplier = Float("restart-strategy.exponential-delay.backoff-multiplier", 1.5,
		"exponential-delay: factor the delay is multiplied by after each failure.")

	// ExpDelayResetThreshold resets the delay after a stable period.
	ExpDelayResetThreshold = Duration("restart-strategy.exponential-delay.reset-backoff-threshold", time.Hour,
		"exponential-delay: after running this long without failure the delay goes back to the initial backoff.")

	// ExpDelayJitter randomises delays.
	ExpDelayJitter = Float("restart-strategy.exponential-delay.jitter-factor", 0.1,
		"exponential-delay: relative random jitter added to or subtracted from each delay, so that many jobs do not restart in lockstep.")

	// ExpDelayAttempts bounds restarts between resets.
	ExpDelayAttempts = Int("restart-strategy.exponential-delay.attempts-before-reset-backoff", math.MaxInt32,
		"exponential-delay: number of restarts allowed before the backoff is reset; the job fails when exceeded.")

	// Failover selects which tasks restart on a task failure.
	Failover = Enum("jobmanager.execution.failover-strategy", FailoverRegion,
		[]FailoverStrategy{FailoverFull, FailoverRegion},
		"Which tasks restart when one fails: full restarts all tasks; region restarts only the pipelined region of the failed task.").
		WithoutEffect("any task failure restarts all tasks of the job from the latest completed checkpoint, as 'full' does; 'region' behaves the same.")
)
