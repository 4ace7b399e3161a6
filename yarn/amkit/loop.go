package amkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/rs/zerolog"
)

// Allocator is the RM side of the loop: yarn.AMRMClient implements it.
type Allocator interface {
	Allocate(ctx context.Context, r yarn.AllocateRequest) (yarn.AllocateResponse, error)
}

// Default heartbeat intervals.
const (
	DefaultInterval     = 5 * time.Second
	DefaultFastInterval = 500 * time.Millisecond
)

// LoopConfig configures a Loop.
type LoopConfig struct {
	// Client sends the heartbeats (required).
	Client Allocator
	// Launch starts an accepted container (required), e.g. with yarn.NMClient.StartContainer. It
	// runs on its own goroutine; on error the container is released and OnLaunchFailed is called.
	Launch func(ctx context.Context, a Accepted) error
	// OnLaunchFailed is told about a failed launch (after the container was queued for release);
	// a typical reaction is Loop.Request(a.Key, 1) under a restart rate limit. Optional.
	OnLaunchFailed func(a Accepted, err error)
	// OnCompleted is told about every completed container. Optional; called on the loop goroutine.
	OnCompleted func(c Completion)
	// Progress is reported to the RM with each heartbeat. Optional.
	Progress func() float32
	// Interval between heartbeats when nothing is pending (default 5 s) and FastInterval while
	// requests are outstanding (default 500 ms).
	Interval     time.Duration
	FastInterval time.Duration
	// MaxConsecutiveFailures of allocate calls before Run gives up (default 10; the RM expires an
	// AM that stays silent for yarn.am.liveness-monitor.expiry-interval-ms, 10 min by default).
	MaxConsecutiveFailures int
	Logger                 zerolog.Logger
}

// Loop drives a Tracker against the RM: it heartbeats (fast while requests are pending), applies
// the responses and launches accepted containers through the Launch callback. Its methods are safe
// for concurrent use.
type Loop struct {
	cfg  LoopConfig
	log  zerolog.Logger
	mu   sync.Mutex
	tr   *Tracker
	wake chan struct{}
	wg   sync.WaitGroup
	hbMu sync.Mutex // serializes heartbeats
}

// NewLoop validates cfg and fills in the defaults.
func NewLoop(cfg LoopConfig) (*Loop, error) {
	if cfg.Client == nil {
		return nil, errors.New("amkit: LoopConfig.Client is required")
	}
	if cfg.Launch == nil {
		return nil, errors.New("amkit: LoopConfig.Launch is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FastInterval <= 0 {
		cfg.FastInterval = DefaultFastInterval
	}
	if cfg.FastInterval > cfg.Interval {
		return nil, fmt.Errorf("amkit: FastInterval %v must not exceed Interval %v", cfg.FastInterval, cfg.Interval)
	}
	if cfg.MaxConsecutiveFailures <= 0 {
		cfg.MaxConsecutiveFailures = 10
	}
	return &Loop{cfg: cfg, log: cfg.Logger.With().Str("component", "am-loop").Logger(), tr: NewTracker(), wake: make(chan struct{}, 1)}, nil
}

func (l *Loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Request asks for n more containers of key k; the next heartbeat is sent at once.
func (l *Loop) Request(k Key, n int) error {
	l.mu.Lock()
	err := l.tr.Request(k, n)
	l.mu.Unlock()
	if err == nil {
		l.poke()
	}
	return err
}

// Cancel withdraws up to n outstanding containers of key k.
func (l *Loop) Cancel(k Key, n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.Cancel(k, n)
}

// Release gives a held container back to the RM.
func (l *Loop) Release(id yarn.ContainerID) error {
	l.mu.Lock()
	err := l.tr.Release(id)
	l.mu.Unlock()
	if err == nil {
		l.poke()
	}
	return err
}

// Stopped records that the AM stopped a container through its NodeManager.
func (l *Loop) Stopped(id yarn.ContainerID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tr.MarkReleased(id)
}

// Adopt records containers kept from previous attempts.
func (l *Loop) Adopt(cs []yarn.Container) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tr.Adopt(cs)
}

// Pending returns the number of containers requested and not yet allocated.
func (l *Loop) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.Pending()
}

// Running returns the number of containers held for key k.
func (l *Loop) Running(k Key) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.Running(k)
}

// Heartbeat sends one allocate call and applies its response. After a re-registration
// (yarn.ErrReregistered) it schedules a full re-send and returns nil.
func (l *Loop) Heartbeat(ctx context.Context) error {
	l.hbMu.Lock()
	defer l.hbMu.Unlock()
	l.mu.Lock()
	ready := l.tr.Ready()
	l.mu.Unlock()
	req := yarn.AllocateRequest{Asks: ready.Asks, Releases: ready.Releases}
	if l.cfg.Progress != nil {
		req.Progress = l.cfg.Progress()
	}
	resp, err := l.cfg.Client.Allocate(ctx, req)
	if errors.Is(err, yarn.ErrReregistered) {
		l.mu.Lock()
		l.tr.Resync()
		l.mu.Unlock()
		l.log.Warn().Msg("re-registered with the RM; re-sending all outstanding requests")
		l.poke()
		return nil
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.tr.Advance(ready)
	u := l.tr.HandleResponse(resp)
	l.mu.Unlock()
	if len(ready.Asks)+len(ready.Releases)+len(u.Accepted)+len(u.Extra)+len(u.Completed) > 0 {
		l.log.Debug().Int("asks", len(ready.Asks)).Int("releases", len(ready.Releases)).Int("accepted", len(u.Accepted)).
			Int("extra", len(u.Extra)).Int("completed", len(u.Completed)).Msg("heartbeat")
	}
	for _, a := range u.Accepted {
		l.wg.Add(1)
		go l.launch(ctx, a)
	}
	if len(u.Extra) > 0 {
		l.poke() // give extras back promptly
	}
	for _, c := range u.Completed {
		if l.cfg.OnCompleted != nil {
			l.cfg.OnCompleted(c)
		}
	}
	return nil
}

func (l *Loop) launch(ctx context.Context, a Accepted) {
	defer l.wg.Done()
	err := l.cfg.Launch(ctx, a)
	if err == nil {
		return
	}
	l.log.Warn().Err(err).Str("container", a.Container.ID.String()).Str("node", a.Container.Node.String()).Msg("container launch failed; releasing it")
	l.mu.Lock()
	_ = l.tr.Release(a.Container.ID)
	l.mu.Unlock()
	l.poke()
	if l.cfg.OnLaunchFailed != nil {
		l.cfg.OnLaunchFailed(a, err)
	}
}

// Run heartbeats until ctx ends (it then waits for running launches and returns nil), the RM orders
// a shutdown (yarn.ErrAMShutdown) or no longer knows the attempt (yarn.ErrApplicationNotFound), or
// MaxConsecutiveFailures allocate calls in a row failed.
func (l *Loop) Run(ctx context.Context) error {
	defer l.wg.Wait()
	failures := 0
	for {
		err := l.Heartbeat(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, yarn.ErrAMShutdown), errors.Is(err, yarn.ErrApplicationNotFound):
			// The RM ordered a shutdown, or no longer knows the attempt (finished, killed, or
			// superseded by a newer attempt): heartbeating on cannot succeed.
			return err
		case err != nil:
			failures++
			l.log.Warn().Err(err).Int("failures", failures).Msg("heartbeat failed")
			if failures >= l.cfg.MaxConsecutiveFailures {
				return fmt.Errorf("amkit: %d heartbeats in a row failed, last: %w", failures, err)
			}
		default:
			failures = 0
		}
		wait := l.cfg.Interval
		if l.Pending() > 0 || failures > 0 {
			wait = l.cfg.FastInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-l.wake:
			t.Stop()
		case <-t.C:
		}
	}
}
