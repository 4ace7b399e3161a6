package amkit

import (
	"fmt"
	"time"
)

// RestartBudget decides whether a failed container may be replaced, as a failure-rate limit: at
// most MaxFailures failures within any Window (Flink's yarn.maximum-failed-containers and
// failure-rate restart strategy have the same shape). It is pure: callers pass the time.
type RestartBudget struct {
	maxFailures int
	window      time.Duration
	failures    []time.Time
}

// NewRestartBudget allows maxFailures failures per window; maxFailures < 0 means unlimited.
func NewRestartBudget(maxFailures int, window time.Duration) (*RestartBudget, error) {
	if maxFailures >= 0 && window <= 0 {
		return nil, fmt.Errorf("amkit: restart budget window %v must be positive", window)
	}
	return &RestartBudget{maxFailures: maxFailures, window: window}, nil
}

// Failure records a container failure at now and reports whether a replacement is still within
// the budget. Failures older than the window are forgotten.
func (b *RestartBudget) Failure(now time.Time) bool {
	if b.maxFailures < 0 {
		return true
	}
	cut := 0
	for cut < len(b.failures) && now.Sub(b.failures[cut]) >= b.window {
		cut++
	}
	b.failures = append(b.failures[:0], b.failures[cut:]...)
	b.failures = append(b.failures, now)
	return len(b.failures) <= b.maxFailures
}

// Recent returns the number of failures within the window ending at now.
func (b *RestartBudget) Recent(now time.Time) int {
	n := 0
	for _, f := range b.failures {
		if now.Sub(f) < b.window {
			n++
		}
	}
	return n
}
