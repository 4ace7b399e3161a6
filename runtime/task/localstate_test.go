package task

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestSweepStaleLocalState: directories of dead processes of this host are removed; those of
// live processes, of other hosts and unrelated ones are kept.
func TestSweepStaleLocalState(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a process:", err)
	}
	dead := cmd.Process.Pid // exited and reaped
	if processAlive(dead) {
		t.Skip("the PID was reused at once")
	}
	if !processAlive(os.Getpid()) {
		t.Fatal("this process is not alive?")
	}
	base := t.TempDir()
	owner := localOwner()
	host, _, _ := strings.Cut(owner, ".")
	mk := func(name string) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(p, "db"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deadPebble := mk("flink-go-pebble-" + host + "." + strconv.Itoa(dead) + "-job-op-0-0-abcd")
	deadRestore := mk("flink-go-restore-" + host + "." + strconv.Itoa(dead) + "-job-op-1-0-abcd")
	live := mk("flink-go-pebble-" + owner + "-job-op-0-1-abcd")
	other := mk("flink-go-pebble-otherhost." + strconv.Itoa(dead) + "-job-op-0-0-abcd")
	unrelated := mk("flink-go-pebble-garbage")
	mine := mk("something-else")
	got := staleLocalState(base, owner, processAlive)
	slices.Sort(got)
	want := []string{deadPebble, deadRestore}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stale: %v, want %v", got, want)
	}
	sweepStaleLocalState(base, false, zerolog.Nop())
	for _, p := range []string{live, other, unrelated, mine} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	for _, p := range want {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s kept", p)
		}
	}
}
