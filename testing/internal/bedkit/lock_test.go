package bedkit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockExcludesAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", ".bed.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("lock file not created: %v", err)
	}
	// A second holder (another open file, as in another process) waits until its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if un2, err := Lock(ctx, path); err == nil {
		un2()
		t.Fatal("a second Lock got a held lock")
	} else {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second Lock = %v, want a deadline error", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "lock "+path) || !strings.Contains(msg, "held by another process") {
			t.Errorf("message %q does not name the lock and why it waited", msg)
		}
	}
	// Once released, a waiting Lock gets it.
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		un, err := Lock(ctx, path)
		if err == nil {
			un()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Lock after release: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Lock did not return within 15 s after the lock was released")
	}
}

// TestLockHeldByAnotherProcess: the lock excludes other processes (flock(1) here) and is free
// again once the holder ends.
func TestLockHeldByAnotherProcess(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) not installed")
	}
	path := filepath.Join(t.TempDir(), ".bed.lock")
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := exec.CommandContext(ctx, flock, path, "sh", "-c", "touch "+ready+"; sleep 1")
	holder.WaitDelay = 5 * time.Second
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, 10*time.Millisecond, "flock(1) to take the lock", func() (bool, error) {
		_, err := os.Stat(ready)
		return err == nil, nil
	}); err != nil {
		_ = holder.Process.Kill()
		_ = holder.Wait()
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if un, err := Lock(short, path); err == nil {
		un()
		t.Fatal("Lock got the lock flock(1) holds")
	}
	began := time.Now()
	unlock, err := Lock(ctx, path)
	if err != nil {
		t.Fatalf("Lock after the holder (pid %s) ends: %v", strconv.Itoa(holder.Process.Pid), err)
	}
	unlock()
	if waited := time.Since(began); waited < 100*time.Millisecond {
		t.Errorf("Lock returned after %s while flock(1) still held it", waited)
	}
	if err := holder.Wait(); err != nil {
		t.Errorf("flock(1): %v", err)
	}
}

func TestLockErrorNamesTheCause(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The lock's directory would have to be inside a regular file.
	if _, err := Lock(context.Background(), filepath.Join(file, "sub", ".lock")); err == nil {
		t.Fatal("Lock under a regular file succeeded")
	} else if !strings.Contains(err.Error(), file) {
		t.Errorf("error %q does not name the path", err)
	}
	// The lock path is a directory.
	dir := t.TempDir()
	if _, err := Lock(context.Background(), dir); err == nil || !strings.HasPrefix(err.Error(), "open lock: ") {
		t.Errorf("Lock on a directory = %v, want an open lock error", err)
	}
}
