package bedkit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeScript writes a bash script into a temp dir and returns its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bed.sh")
	if err := os.WriteFile(p, []byte("set -eu\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptRunReturnsTheLastLine(t *testing.T) {
	p := writeScript(t, `
echo "progress for $1" >&2
echo first
echo "  $1 $BED_A $BED_B  "
echo
`)
	var stderr bytes.Buffer
	s := Script{Path: p, Env: []string{"BED_A=from-script-env", "BED_B=overridden"}, Stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := s.Run(ctx, "conf-dir", "BED_B=from-run")
	if err != nil {
		t.Fatal(err)
	}
	if got != "conf-dir from-script-env from-run" {
		t.Errorf("result %q", got)
	}
	if stderr.String() != "progress for conf-dir\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestScriptRunErrorNamesScriptAndVerb(t *testing.T) {
	p := writeScript(t, "echo partial; exit 3\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Script{Path: p, Stderr: &bytes.Buffer{}}.Run(ctx, "status")
	if err == nil || err.Error() != "bed.sh status: exit status 3" {
		t.Fatalf("Run = %v, want bed.sh status: exit status 3", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("%v does not wrap the exit error", err)
	}
	if _, err := (Script{}).Run(ctx, "start"); err == nil {
		t.Error("Run without a path succeeded")
	}
}

func TestScriptRunStopsWhenTheContextEnds(t *testing.T) {
	p := writeScript(t, "exec sleep 30\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Script{Path: p, WaitDelay: time.Second}.Run(ctx, "start")
	if err == nil {
		t.Fatal("a script killed by its context succeeded")
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Run took %s after its context ended", took)
	}
}

// TestScriptRunDoesNotWaitForADaemonHoldingStdout: a script that leaves a process behind with
// its stdout open does not block Run beyond WaitDelay.
func TestScriptRunDoesNotWaitForADaemonHoldingStdout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	p := writeScript(t, "sleep 30 &\necho $! >"+pidFile+"\necho started\n")
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	_, err := Script{Path: p, WaitDelay: 300 * time.Millisecond}.Run(ctx, "start")
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Run waited %s for the daemon's stdout", took)
	}
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("Run = %v, want exec.ErrWaitDelay (stdout held open past WaitDelay)", err)
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"one":              "one",
		"a\nb\n":           "b",
		"a\n  /conf  \n\n": "/conf",
		"a\r\nb\r\n":       "b",
	} {
		if got := LastLine(in); got != want {
			t.Errorf("LastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindScriptPrefersTheEnvironment(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "/nowhere/custom.sh")
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/none/none.sh")
	if err != nil || got != "/nowhere/custom.sh" {
		t.Fatalf("FindScript = %q, %v", got, err)
	}
}

func TestFindScriptInTheSourceTree(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/hadoop/minicluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(filepath.Join("..", "..", "hadoop", "minicluster.sh"))
	if got != want {
		t.Errorf("FindScript = %q, want %q", got, want)
	}
}

func TestFindScriptWalksUpFromTheWorkingDirectory(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	root := t.TempDir()
	script := filepath.Join(root, "testing", "probe", "bedkit-probe.sh")
	deep := filepath.Join(root, "a", "b", "c")
	for _, d := range []string{filepath.Dir(script), deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A directory of the script's name nearer to the working directory is not the script.
	if err := os.MkdirAll(filepath.Join(root, "a", "testing", "probe", "bedkit-probe.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("exit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/probe/bedkit-probe.sh")
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := filepath.EvalSymlinks(script); got != script && got != real {
		t.Errorf("FindScript = %q, want %q", got, script)
	}
}

func TestFindScriptNotFoundNamesTheVariable(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	t.Chdir(t.TempDir())
	_, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/none/none.sh")
	if err == nil {
		t.Fatal("a missing script was found")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "testing/none/none.sh not found from [") || !strings.HasSuffix(msg, "]; set BEDKIT_TEST_SCRIPT") {
		t.Errorf("message %q", msg)
	}
	if _, err := findUnder(nil, "X", "a.sh"); err == nil || err.Error() != "a.sh not found from []; set X" {
		t.Errorf("findUnder without roots = %v", err)
	}
}

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

// startChild starts a process that lives until the test ends and returns its pid.
func startChild(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, "sleep", "60")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// deadPID returns the pid of a process that has ended and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestLeaseNames(t *testing.T) {
	if ProcessLease() != strconv.Itoa(os.Getpid()) {
		t.Errorf("ProcessLease = %q", ProcessLease())
	}
	a, b := NewLease(), NewLease()
	re := regexp.MustCompile(`^` + strconv.Itoa(os.Getpid()) + `\.[0-9]+$`)
	if a == b || !re.MatchString(a) || !re.MatchString(b) {
		t.Errorf("NewLease gave %q and %q, want distinct <pid>.<n>", a, b)
	}
	if leasePID(a) != os.Getpid() || leasePID(ProcessLease()) != os.Getpid() {
		t.Errorf("leasePID(%q) = %d, leasePID(%q) = %d", a, leasePID(a), ProcessLease(), leasePID(ProcessLease()))
	}
	for _, bad := range []string{"", "x", "-3", "0", ".7"} {
		if pid := leasePID(bad); pid != 0 {
			t.Errorf("leasePID(%q) = %d, want 0", bad, pid)
		}
	}
}

func TestLeasesCountLiveUsers(t *testing.T) {
	l := Leases{Dir: filepath.Join(t.TempDir(), "users")}
	mine, also := NewLease(), NewLease()
	other := strconv.Itoa(startChild(t)) + ".1"
	for _, name := range []string{mine, also, other} {
		if err := l.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	n, err := l.Drop(mine)
	if err != nil || n != 2 {
		t.Fatalf("Drop = %d, %v; want 2 live users left (this process's other lease and the child)", n, err)
	}
	if got := listDir(t, l.Dir); len(got) != 2 {
		t.Errorf("leases left %v", got)
	}
	if n, err = l.Drop(also); err != nil || n != 1 {
		t.Fatalf("Drop = %d, %v; want the child left", n, err)
	}
	if n, err = l.Drop(other); err != nil || n != 0 {
		t.Fatalf("Drop = %d, %v; want none left", n, err)
	}
	// Dropping again, or from a dir that does not exist, is not an error.
	if n, err = l.Drop(other); err != nil || n != 0 {
		t.Fatalf("second Drop = %d, %v", n, err)
	}
	if n, err = (Leases{Dir: filepath.Join(t.TempDir(), "none")}).Drop(mine); err != nil || n != 0 {
		t.Fatalf("Drop without a lease dir = %d, %v", n, err)
	}
}

// TestLeasesOfDeadProcessesAreRemoved: a test process killed before it dropped its lease does
// not keep the server up forever.
func TestLeasesOfDeadProcessesAreRemoved(t *testing.T) {
	l := Leases{Dir: filepath.Join(t.TempDir(), "users")}
	dead := deadPID(t)
	live := ProcessLease()
	for _, name := range []string{strconv.Itoa(dead), strconv.Itoa(dead) + ".4", "not-a-lease", live} {
		if err := l.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	mine := NewLease()
	if err := l.Add(mine); err != nil {
		t.Fatal(err)
	}
	n, err := l.Drop(mine)
	if err != nil || n != 1 {
		t.Fatalf("Drop = %d, %v; want 1 (this process's pid lease)", n, err)
	}
	if got := listDir(t, l.Dir); len(got) != 1 || got[0] != live {
		t.Errorf("leases left %v, want only %s", got, live)
	}
}

func TestLeasesRejectBadNames(t *testing.T) {
	l := Leases{Dir: t.TempDir()}
	for _, bad := range []string{"", ".", "..", "../escape", "a/b"} {
		if err := l.Add(bad); err == nil {
			t.Errorf("Add(%q) succeeded", bad)
		}
		if _, err := l.Drop(bad); err == nil {
			t.Errorf("Drop(%q) succeeded", bad)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Leases{Dir: filepath.Join(file, "users")}).Add(NewLease()); err == nil {
		t.Error("Add under a regular file succeeded")
	}
}
