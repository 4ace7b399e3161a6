package bedkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultWaitDelay is how long Script.Run waits, once the script has exited or its context
// ended, for stdout and stderr to close (a daemon the script left behind may hold them)
// before it closes them itself.
const DefaultWaitDelay = 5 * time.Second

// FindScript returns the path of a test bed's control script. rel is its slash-separated path
// from the repository root, e.g. "testing/hadoop/minicluster.sh". The environment variable
// env, when set, wins (its value is returned as is); otherwise rel is looked for in the source
// tree this package was compiled from, then below the working directory and each of its
// parents. The error names the first place looked and the variable to set.
func FindScript(env, rel string) (string, error) {
	if s := os.Getenv(env); s != "" {
		return s, nil
	}
	var roots []string
	if _, file, _, ok := runtime.Caller(0); ok {
		// This file is <root>/testing/internal/bedkit/script.go.
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			roots = append(roots, dir)
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return findUnder(roots, env, rel)
}

// findUnder returns the first regular file rel below one of roots.
func findUnder(roots []string, env, rel string) (string, error) {
	candidates := make([]string, 0, len(roots))
	for _, r := range roots {
		c := filepath.Join(r, filepath.FromSlash(rel))
		candidates = append(candidates, c)
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s not found from %v; set %s", rel, candidates[:min(1, len(candidates))], env)
}

// Script runs one verb of a test bed's control script with bash.
type Script struct {
	// Path is the script's path.
	Path string
	// Env is added to this process's environment (later entries win).
	Env []string
	// Stderr receives the script's progress output; nil means os.Stderr.
	Stderr io.Writer
	// WaitDelay bounds the wait for the script's output pipes after it exited or its
	// context ended; 0 means DefaultWaitDelay.
	WaitDelay time.Duration
}

// Run runs "bash <Path> <verb>" with Env plus env and returns the last line of its stdout,
// trimmed ("" for no output). ctx bounds the run: when it ends the script is killed. The
// error names the script and the verb.
func (s Script) Run(ctx context.Context, verb string, env ...string) (string, error) {
	if s.Path == "" {
		return "", fmt.Errorf("run script verb %q: no script path", verb)
	}
	cmd := exec.CommandContext(ctx, "bash", s.Path, verb)
	cmd.Env = append(append(os.Environ(), s.Env...), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = s.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.WaitDelay = s.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w", filepath.Base(s.Path), verb, err)
	}
	return LastLine(out.String()), nil
}

// LastLine returns the last line of out, trimmed of surrounding white space; trailing blank
// lines are skipped.
func LastLine(out string) string {
	out = strings.TrimSpace(out)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return strings.TrimSpace(out)
}

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
