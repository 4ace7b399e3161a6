package bedkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// DefaultLockTimeout bounds the wait for a shared server's lock when Shared.LockTimeout is 0.
// Another test process holds it while it starts the server, which can take many minutes the
// first time (Maven downloads, a MinIO build).
const DefaultLockTimeout = 20 * time.Minute

// autostartedMarker is the file in the work dir that says a test started the server, so the
// last test process out may stop it (a server started by hand is never stopped).
const autostartedMarker = "autostarted"

// Shared is the bookkeeping of a server that test processes share (a Hadoop mini-cluster, an
// S3 server): every process joins it under a lock file in the server's work dir and holds a
// lease; a test that found no server running starts one and marks it "autostarted"; the last
// process to leave stops an autostarted server unless the keep variable is set.
type Shared struct {
	// Name prefixes the errors Shared makes itself, e.g. "testbed".
	Name string
	// Noun names the server in log lines and errors, e.g. "mini-cluster".
	Noun string
	// WorkDir is the server's work dir: lock file, marker and leases live here.
	WorkDir string
	// LockFile is the lock file's name in WorkDir, e.g. ".testbed.lock".
	LockFile string
	// KeepEnv names the variable that, when true (EnvTrue), keeps an autostarted server
	// running after the last user left.
	KeepEnv string
	// StopTimeout bounds the stop function given to Leave.
	StopTimeout time.Duration
	// LockTimeout bounds each wait for the lock; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// Log receives Leave's decisions.
	Log zerolog.Logger
}

func (s *Shared) lockPath() string { return filepath.Join(s.WorkDir, s.LockFile) }
func (s *Shared) marker() string   { return filepath.Join(s.WorkDir, autostartedMarker) }

// Leases are the server's leases, in WorkDir/users.
func (s *Shared) Leases() Leases { return Leases{Dir: filepath.Join(s.WorkDir, "users")} }

func (s *Shared) lock(ctx context.Context) (func(), error) {
	d := s.LockTimeout
	if d <= 0 {
		d = DefaultLockTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	unlock, err := Lock(ctx, s.lockPath())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return unlock, nil
}

// Join makes this process a user of the server, under the lock. probe tells whether the server
// runs (nil error) and returns its result line; when it does not, start starts it and the
// server is marked autostarted. use then takes the result (of probe or start), and only when
// it succeeds is the lease added. Errors of probe, start and use are returned as they are, so
// they should name the bed and the cause.
func (s *Shared) Join(ctx context.Context, lease string, probe, start func(context.Context) (string, error), use func(result string) error) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	result, err := probe(ctx)
	if err != nil {
		if result, err = start(ctx); err != nil {
			return err
		}
		if err := os.WriteFile(s.marker(), nil, 0o644); err != nil {
			return fmt.Errorf("%s: mark the %s as started by tests: %w", s.Name, s.Noun, err)
		}
	}
	if err := use(result); err != nil {
		return err
	}
	if err := s.Leases().Add(lease); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// leaveAction is what Leave does once this process's lease is dropped.
type leaveAction int

const (
	leaveNotOurs  leaveAction = iota // started by hand (no marker): leave it running
	leaveInUse                       // other live users remain
	leaveKeep                        // the keep variable is set
	leaveStopping                    // the last user of an autostarted server: stop it
)

// decideLeave is Leave's decision: stop only an autostarted server nobody else uses, unless
// asked to keep it.
func decideLeave(autostarted bool, others int, keep bool) leaveAction {
	switch {
	case !autostarted:
		return leaveNotOurs
	case others > 0:
		return leaveInUse
	case keep:
		return leaveKeep
	default:
		return leaveStopping
	}
}

// Leave drops this process's lease under the lock and, when this was the last live user of an
// autostarted server and KeepEnv is not set, stops it with stop (bounded by StopTimeout) and
// removes the autostarted marker.
func (s *Shared) Leave(lease string, stop func(context.Context) error) error {
	unlock, err := s.lock(context.Background())
	if err != nil {
		return err
	}
	defer unlock()
	others, err := s.Leases().Drop(lease)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	_, statErr := os.Stat(s.marker())
	switch decideLeave(statErr == nil, others, EnvTrue(s.KeepEnv)) {
	case leaveNotOurs:
		return nil
	case leaveInUse:
		s.Log.Info().Int("users", others).Msg("other test processes still use the " + s.Noun + ": leaving it up")
		return nil
	case leaveKeep:
		s.Log.Info().Msg(s.KeepEnv + " set: leaving the " + s.Noun + " up")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.StopTimeout)
	defer cancel()
	if err := stop(ctx); err != nil {
		return fmt.Errorf("%s: stop the %s: %w", s.Name, s.Noun, err)
	}
	if err := os.Remove(s.marker()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}
