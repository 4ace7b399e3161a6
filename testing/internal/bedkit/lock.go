package bedkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPollInterval is how often Lock retries a lock another process holds.
const lockPollInterval = 50 * time.Millisecond

// errLockHeld is the reason Lock gives while another open file holds the lock.
var errLockHeld = errors.New("held by another process (a test process starting or stopping the server?)")

// Lock takes an exclusive flock(2) lock on path, creating the file and its directory, and
// returns the function that releases it. Test processes use it to serialise the start, join
// and stop of a shared server. The lock belongs to the open file, so two Lock calls in one
// process exclude each other too, and a process that dies releases it. Lock waits until ctx
// ends; the error then is a *WaitError naming the file.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	err = Poll(ctx, lockPollInterval, "lock "+path, func() (bool, error) {
		switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
			return false, errLockHeld
		default:
			return true, fmt.Errorf("lock %s: %w", path, err)
		}
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
