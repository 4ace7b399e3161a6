package bedkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Leases counts the test processes that use a shared server: one empty file per user in Dir,
// named "<pid>" (ProcessLease) or "<pid>.<n>" (NewLease). Callers hold the server's Lock while
// they add and drop leases.
type Leases struct {
	// Dir holds the lease files, e.g. <work dir>/users.
	Dir string
}

// ProcessLease is a lease name for this process: its pid. One process holds at most one
// such lease per server.
func ProcessLease() string { return strconv.Itoa(os.Getpid()) }

var leaseSeq atomic.Int64

// NewLease is a lease name unique within this process, "<pid>.<n>", for a process that may
// hold several leases on one server.
func NewLease() string {
	return fmt.Sprintf("%d.%d", os.Getpid(), leaseSeq.Add(1))
}

// Add records the user name.
func (l Leases) Add(name string) error {
	if err := validLease(name); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return fmt.Errorf("lease dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, name), nil, 0o644); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	return nil
}

// Drop removes the lease name and returns how many leases of live processes remain. Leases
// of processes that no longer run, and files that are no lease, are removed.
func (l Leases) Drop(name string) (int, error) {
	if err := validLease(name); err != nil {
		return 0, err
	}
	_ = os.Remove(filepath.Join(l.Dir, name))
	entries, err := os.ReadDir(l.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("read leases: %w", err)
	}
	live := 0
	for _, e := range entries {
		if pid := leasePID(e.Name()); pid > 0 && processAlive(pid) {
			live++
			continue
		}
		_ = os.Remove(filepath.Join(l.Dir, e.Name()))
	}
	return live, nil
}

// validLease rejects names that are not a plain file name.
func validLease(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, filepath.Separator) {
		return fmt.Errorf("lease name %q: want a plain file name such as ProcessLease() or NewLease()", name)
	}
	return nil
}

// leasePID is the process id a lease file names ("<pid>" or "<pid>.<n>"), 0 if none.
func leasePID(name string) int {
	pidStr, _, _ := strings.Cut(name, ".")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// processAlive reports whether a signal could be sent to pid (as kill -0 does).
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }
