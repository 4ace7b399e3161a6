package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
)

// TestPebbleCheckpointRescale: a counting job on the pebble backend is cancelled mid-run with
// its incremental checkpoints retained (SST files in <job>/shared). Its newest checkpoint
// restores at the same parallelism (direct Pebble restore), at parallelism 3 (import of the
// pebble-v1 handles into new stores) and on the hashmap backend at parallelism 1 (temporary
// Pebble restore, export into the heap); each resumed run's output equals a run without the
// cancellation.
func TestPebbleCheckpointRescale(t *testing.T) {
	const records, keys, every = 1_500_000, 500, 50
	want := countingcheck.Expected(records, keys, every)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	out := filepath.Join(dir, "out")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	common := []string{"-D", "local.taskmanagers=2", "-D", "execution.checkpointing.interval=300ms",
		"-D", "execution.checkpointing.dir=file://" + ckpt, "-D", "execution.checkpointing.num-retained=2",
		"-D", "execution.checkpointing.externalized-checkpoint-retention=RETAIN_ON_CANCELLATION",
		"-D", "io.tmp.dirs=" + filepath.Join(dir, "tmp")}
	jobArgs := func(o string) []string {
		return []string{bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--rate", "200000", "--output", o}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(append([]string{"run", "-t", "local", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port), "-D", "state.backend.type=pebble"}, common...), jobArgs(out)...)
	run := startFlinkGo(ctx, t, dir, args...)
	id := run.runningJob(t, addr)
	time.Sleep(3 * time.Second)
	if r := flinkGoHome(t, dir, 10*time.Second, "cancel", "-m", addr, id); r.code != 0 {
		t.Fatalf("cancel: exit %d\n%s", r.code, r.stderr)
	}
	_ = run.wait()
	jobDir := filepath.Join(ckpt, id)
	chks := retainedCheckpoints(jobDir)
	if len(chks) == 0 {
		t.Fatalf("no retained checkpoint in %s\n%s", jobDir, run.stderr.String())
	}
	newest := chks[len(chks)-1]
	ssts, _ := filepath.Glob(filepath.Join(jobDir, "shared", "*.sst"))
	descs, _ := filepath.Glob(filepath.Join(newest, "*", "pebble-snapshot.json"))
	if len(ssts) == 0 || len(descs) != 2 {
		t.Fatalf("incremental checkpoint layout: %d shared SST files, %d descriptors in %s (want > 0, 2)", len(ssts), len(descs), newest)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "flink-go-*")); len(left) > 0 {
		t.Errorf("local state directories left behind by the cancelled job: %v", left)
	}
	before := committedLines(t, out)
	if len(before) >= len(want) {
		t.Fatalf("the job finished before the cancellation (%d lines)", len(before))
	}
	t.Logf("cancelled after %d of %d output lines; restoring %s", len(before), len(want), newest)
	base := filepath.Join(dir, "out-at-cancel")
	copyDir(t, out, base)
	for _, c := range []struct {
		p       int
		backend string
	}{{2, "pebble"}, {3, "pebble"}, {1, "hashmap"}} {
		t.Run(fmt.Sprintf("%s-p%d", c.backend, c.p), func(t *testing.T) {
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}
			copyDir(t, base, out)
			args := append(append([]string{"run", "-t", "local", "-p", strconv.Itoa(c.p), "-s", newest, "-D", "rest.port=0",
				"-D", "state.backend.type=" + c.backend}, common...), jobArgs(out)...)
			res := flinkGoHome(t, dir, 2*time.Minute, args...)
			if res.code != 0 {
				t.Fatalf("resume: exit %d\n%s", res.code, res.stderr)
			}
			got := committedLines(t, out)
			if !slices.Equal(got, want) {
				t.Fatalf("output differs from a run without the cancellation: %d lines, want %d\n%s", len(got), len(want), res.stderr)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "flink-go-*")); len(left) > 0 {
		t.Errorf("local state directories left behind: %v", left)
	}
}
