package client_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
)

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
	want := countingcheck.Expected(records, keys, every)
	for _, backend := range []string{"hashmap", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			run := startFlinkGo(ctx, t, dir, "run", "-t", "local", "-p", "2",
				"-D", "rest.port=0", "-D", "local.taskmanagers=2", "-D", "local.taskmanagers.processes=true",
				"-D", "state.backend.type="+backend, "-D", "io.tmp.dirs="+filepath.Join(dir, "tmp"),
				"-D", "execution.checkpointing.interval=1s", "-D", "execution.checkpointing.dir=file://"+filepath.Join(dir, "ckpt"),
				"-D", "restart-strategy.type=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=20", "-D", "restart-strategy.fixed-delay.delay=200ms",
				bin("counting"), "--records", strconv.FormatInt(records, 10), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every),
				"--rate", "800000", "--output", out)
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			killed := 0
			for killed < kills {
				select {
				case err := <-run.done:
					t.Fatalf("the job ended after %d of %d kills (%v): give it more records or a lower rate\n%s", killed, kills, err, run.stderr.String())
				case <-time.After(time.Duration(1500+r.IntN(1000)) * time.Millisecond):
				}
				tms := taskManagers(run.cmd.Process.Pid)
				if len(tms) == 0 {
					continue
				}
				victim := tms[r.IntN(len(tms))]
				if err := syscall.Kill(victim, syscall.SIGKILL); err == nil {
					killed++
					t.Logf("killed TaskManager process %d (%d/%d)", victim, killed, kills)
				}
			}
			if err := run.wait(); err != nil {
				t.Fatalf("job failed: %v\n%s", err, run.stderr.String())
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
