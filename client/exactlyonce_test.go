package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// descendants returns the pids of all descendants of pid (from /proc).
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

func isTaskManager(pid int) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return err == nil && strings.Contains(string(env), "FLINK_GO_ROLE=taskmanager")
}

func expectedCounting(records, keys, every int64) []string {
	counts := make([]int64, keys)
	var out []string
	for i := int64(0); i < records; i++ {
		k := (i * 7919) % keys
		counts[k]++
		if counts[k]%every == 0 {
			out = append(out, fmt.Sprintf("%d %d", k, counts[k]))
		}
	}
	for k := int64(0); k < keys; k++ {
		out = append(out, fmt.Sprintf("final %d %d", k, counts[k]))
	}
	sort.Strings(out)
	return out
}

func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "part-*"))
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestExactlyOnceKillTaskManagers is issue 3's acceptance point 1: a keyed counting job over 10
// million generated records with checkpoints every second and TaskManagers as processes; a random
// TaskManager process is killed with SIGKILL 5 times during the run. The committed output must
// equal the failure-free output exactly.
func TestExactlyOnceKillTaskManagers(t *testing.T) {
	records, kills := int64(10_000_000), 5
	if testing.Short() {
		records, kills = 2_000_000, 2
	}
	const keys, every = 1000, 100
	want := expectedCounting(records, keys, every)
	for _, backend := range []string{"hashmap", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin("flink-go"), "run", "-t", "local", "-p", "2",
				"-D", "rest.port=0", "-D", "local.taskmanagers=2", "-D", "local.taskmanagers.processes=true",
				"-D", "state.backend.type="+backend, "-D", "io.tmp.dirs="+filepath.Join(dir, "tmp"),
				"-D", "execution.checkpointing.interval=1s", "-D", "execution.checkpointing.dir=file://"+filepath.Join(dir, "ckpt"),
				"-D", "restart-strategy.type=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=20", "-D", "restart-strategy.fixed-delay.delay=200ms",
				bin("counting"), "--records", strconv.FormatInt(records, 10), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every),
				"--rate", "800000", "--output", out)
			cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+dir, "FLINK_CONF_DIR=", "FLINK_GO_LOG_LEVEL=warn")
			bounded(cmd)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			killed := 0
			for killed < kills {
				select {
				case err := <-done:
					t.Fatalf("the job ended after %d of %d kills (%v): give it more records or a lower rate\n%s", killed, kills, err, stderr.String())
				case <-time.After(time.Duration(1500+r.IntN(1000)) * time.Millisecond):
				}
				var tms []int
				for _, p := range descendants(cmd.Process.Pid) {
					if isTaskManager(p) {
						tms = append(tms, p)
					}
				}
				if len(tms) == 0 {
					continue
				}
				victim := tms[r.IntN(len(tms))]
				if err := syscall.Kill(victim, syscall.SIGKILL); err == nil {
					killed++
					t.Logf("killed TaskManager process %d (%d/%d)", victim, killed, kills)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("job failed: %v\n%s", err, stderr.String())
			}
			// Killed TaskManagers cannot remove their local state; later restores sweep it.
			left, _ := filepath.Glob(filepath.Join(dir, "tmp", "flink-go-*"))
			t.Logf("%d local state directories left after the run", len(left))
			got := committedLines(t, out)
			if len(got) != len(want) {
				t.Fatalf("%d committed lines, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}
