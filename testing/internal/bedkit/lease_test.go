package bedkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"
)

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
