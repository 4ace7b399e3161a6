// Package bedkit is the process plumbing the test beds share (testing/hadoop/testbed,
// testing/s3/s3bed, testing/emr/emrbed): finding and running a bed's control script, an flock
// lock file, leases that count the test processes using a shared server so the last one out
// stops it, the once-per-package start behind Require and Main, and polling with a deadline.
//
// The pieces, from the bottom up:
//
//   - FindScript and Script.Run: locate a script such as testing/hadoop/minicluster.sh and run
//     one verb of it; the last line of its stdout is the result, its stderr is progress.
//   - Lock: an exclusive flock on a file, waited for with a deadline.
//   - Leases: one file per user of a shared server; Drop reports how many live users remain,
//     removing the leases of processes that died.
//   - Shared: Join and Leave a server that test processes share (lock, autostarted marker,
//     leases, keep variable), with the bed's own probe, start and stop.
//   - Once and Beds: a test package's servers, started on first use and released by TestMain.
//   - Poll: wait for a condition with a deadline, naming what was awaited when it ends.
//
// Errors of the low-level pieces carry no bed prefix; Shared prefixes its own with its Name.
package bedkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Logger is a test bed's logger: human-readable lines on stderr with the time of day and the
// component ("testbed", "s3bed").
func Logger(component string) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: true}).
		With().Timestamp().Str("component", component).Logger()
}

// EnvTrue reports whether the environment variable name is "1" or "true" (any case).
func EnvTrue(name string) bool {
	v := os.Getenv(name)
	return v == "1" || strings.EqualFold(v, "true")
}

// WaitError is what Poll returns when its context ends before the condition held: What names
// what was awaited, Err is the context's error and Last the last reason the check gave for not
// being done yet (nil if it gave none).
type WaitError struct {
	What string
	Err  error
	Last error
}

// Error reads "<what>: <context error> (last: <last reason>)".
func (e *WaitError) Error() string {
	msg := e.Err.Error()
	if e.What != "" {
		msg = e.What + ": " + msg
	}
	if e.Last != nil {
		msg += " (last: " + e.Last.Error() + ")"
	}
	return msg
}

// Unwrap returns the context's error and the last reason, so errors.Is(err,
// context.DeadlineExceeded) holds for a wait that timed out.
func (e *WaitError) Unwrap() []error {
	if e.Last == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Last}
}

// Poll calls check at once and then every interval until check reports done or ctx ends.
// check returns done=true to end the wait, with its error as Poll's result; done=false with
// a non-nil error gives the reason it is not done yet, kept for the timeout message. When ctx
// ends first, Poll returns a *WaitError naming what ("testbed: wait for 2 NodeManagers").
func Poll(ctx context.Context, interval time.Duration, what string, check func() (done bool, err error)) error {
	if interval <= 0 {
		return fmt.Errorf("bedkit: poll %q: interval %s: want a positive interval", what, interval)
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var last error
	for {
		done, err := check()
		if done {
			return err
		}
		if err != nil {
			last = err
		}
		timer.Reset(interval)
		select {
		case <-ctx.Done():
			return &WaitError{What: what, Err: ctx.Err(), Last: last}
		case <-timer.C:
		}
	}
}
