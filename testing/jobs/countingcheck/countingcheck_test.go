package countingcheck

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/fs"
)

func TestExpectedSmallRun(t *testing.T) {
	// 7 records over 3 keys: i*7919 mod 3 = 0, 2, 1, 0, 2, 1, 0 -> key 0 three times, keys 1
	// and 2 twice each; every 2nd count of a key is emitted.
	got := Expected(7, 3, 2)
	want := []string{"0 2", "1 2", "2 2", "final 0 3", "final 1 2", "final 2 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("Expected(7, 3, 2) = %q, want %q", got, want)
	}
	if f := Finals(got); !slices.Equal(f, want[3:]) {
		t.Fatalf("Finals = %q, want %q", f, want[3:])
	}
}

func TestExpectedCountsAddUp(t *testing.T) {
	const records, keys, every = 100_000, 37, 10
	lines := Expected(records, keys, every)
	var total, running int64
	for _, l := range lines {
		f := strings.Fields(l)
		if f[0] == "final" {
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			total += n
		} else {
			running++
		}
	}
	if total != records {
		t.Fatalf("final counts add up to %d, want %d", total, records)
	}
	if len(Finals(lines)) != keys {
		t.Fatalf("%d final lines, want %d", len(Finals(lines)), keys)
	}
	// Each key's count is records/keys or one more; every 10th count is emitted.
	if running < records/every-keys || running > records/every {
		t.Fatalf("%d running counts, want about %d", running, records/every)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Fatalf("not sorted at %d: %q > %q", i, lines[i-1], lines[i])
		}
	}
}

func TestExpectedBadInput(t *testing.T) {
	for _, c := range [][3]int64{{10, 0, 1}, {10, 1, 0}, {-1, 1, 1}, {10, -3, 2}} {
		if got := Expected(c[0], c[1], c[2]); got != nil {
			t.Errorf("Expected%v = %q, want nil", c, got)
		}
	}
	if got := Expected(0, 2, 5); !slices.Equal(got, []string{"final 0 0", "final 1 0"}) {
		t.Errorf("no records: %q", got)
	}
}

func TestLines(t *testing.T) {
	got := Lines([]byte("b 1\na 2\n"), []byte(""), []byte("\n"), []byte("c 3\n\nfinal 1 1"))
	want := []string{"a 2", "b 1", "c 3", "final 1 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	if Lines() != nil {
		t.Fatal("no contents should give no lines")
	}
}

func TestReadPartsLocal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("part-1-0", "final 1 5\n3 10\n")
	write("part-0-0", "0 10\nfinal 0 7\n")
	write("part-0-1", "")
	write(".part-0-2.inprogress", "9 99\n") // uncommitted: hidden
	write("_SUCCESS", "x\n")
	if err := os.Mkdir(filepath.Join(dir, "part-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := ReadParts(context.Background(), fs.Local{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0 10", "3 10", "final 0 7", "final 1 5"}; !slices.Equal(p.Lines, want) {
		t.Fatalf("lines %q, want %q", p.Lines, want)
	}
	if len(p.Files) != 3 || filepath.Base(p.Files[0]) != "part-0-0" || filepath.Base(p.Files[2]) != "part-1-0" {
		t.Fatalf("files %q, want the 3 part files sorted", p.Files)
	}
}

func TestReadPartsErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := ReadParts(context.Background(), fs.Local{}, missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing directory: %v, want ErrNotExist naming %s", err, missing)
	}
	if _, err := ReadParts(context.Background(), nil, "/x"); err == nil {
		t.Fatal("nil file system accepted")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "part-0"), []byte("a\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root reads anything
		if _, err := ReadParts(context.Background(), fs.Local{}, dir); err == nil || !strings.Contains(err.Error(), "part-0") {
			t.Fatalf("unreadable part file: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadParts(ctx, fs.Local{}, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestTaskManagerProcesses(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary:", err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, BinaryName)
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	const container = "container_1700000000000_0042_01_000002"
	start := func(bin, role string) *exec.Cmd {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, bin, "30")
		cmd.Env = append(os.Environ(), cluster.EnvRole+"="+role, cluster.EnvResourceID+"="+container)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	tm := start(fake, cluster.RoleTaskManger)
	start(sleep, cluster.RoleTaskManger) // not the job binary
	start(fake, cluster.RolePlan)        // not a TaskManager
	var found map[int]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The environment is readable once the child has exec'd.
		if found = TaskManagerProcesses("application_1700000000000_0042"); len(found) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake TaskManager process did not show up in /proc within 10 s")
		}
	}
	if len(found) != 1 || found[tm.Process.Pid] != container {
		t.Fatalf("found %v, want only pid %d -> %s", found, tm.Process.Pid, container)
	}
	if other := TaskManagerProcesses("application_1700000000000_0043"); len(other) != 0 {
		t.Fatalf("another application's processes: %v", other)
	}
	if none := TaskManagerProcesses(""); len(none) != 0 {
		t.Fatalf("no application id: %v", none)
	}
}
