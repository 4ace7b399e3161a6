package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
)

// TestRestoreErrors is issue 3's acceptance point 3: a corrupted or truncated _metadata, a
// missing state file and a savepoint of another job give a clear error naming the file and the
// cause; restoring from a job's checkpoint directory falls back to the newest usable retained
// checkpoint; nothing is deleted.
func TestRestoreErrors(t *testing.T) {
	const records, keys, every = 3_000_000, 200, 1000
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	common := []string{"-D", "execution.checkpointing.interval=300ms", "-D", "execution.checkpointing.dir=file://" + ckpt,
		"-D", "execution.checkpointing.num-retained=3", "-D", "execution.checkpointing.externalized-checkpoint-retention=RETAIN_ON_CANCELLATION"}
	jobArgs := func(out string) []string {
		return []string{bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--rate", "200000", "--output", out}
	}
	// A run cancelled mid-way leaves 3 retained checkpoints.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := startFlinkGo(ctx, t, dir, append(append([]string{"run", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port)}, common...), jobArgs(filepath.Join(dir, "out0"))...)...)
	id := first.runningJob(t, addr)
	time.Sleep(3 * time.Second)
	flinkGoHome(t, dir, 10*time.Second, "cancel", "-m", addr, id)
	_ = first.wait()
	jobDir := filepath.Join(ckpt, id)
	chks := retainedCheckpoints(jobDir)
	if len(chks) < 3 {
		t.Fatalf("want 3 retained checkpoints, found %v", chks)
	}
	newest, older := chks[len(chks)-1], chks[len(chks)-2]
	run := func(args ...string) result {
		return flinkGoHome(t, dir, 2*time.Minute, append([]string{"run", "-p", "2", "-D", "rest.port=0"}, args...)...)
	}

	// 1. Truncated _metadata of the newest checkpoint.
	meta := filepath.Join(newest, "_metadata")
	data, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(append(append([]string{"-s", newest}, common...), jobArgs(filepath.Join(dir, "out1"))...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "_metadata") || !strings.Contains(strings.ToLower(r.stderr), "truncated") {
		t.Errorf("truncated _metadata: exit %d, stderr should name _metadata and say truncated:\n%s", r.code, r.stderr)
	}
	// 2. The job's checkpoint directory: falls back to the older checkpoint and completes with
	// exact final counts (state is restored from the older checkpoint; only the finals are
	// compared, since the cancelled run already committed output of the newer one).
	r = run(append(append([]string{"-s", jobDir}, common...), jobArgs(filepath.Join(dir, "out2"))...)...)
	if r.code != 0 {
		t.Fatalf("fallback restore failed: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, filepath.Base(newest)) {
		t.Errorf("the fallback should report the skipped %s:\n%s", filepath.Base(newest), r.stderr)
	}
	finals := countingcheck.Finals(committedLines(t, filepath.Join(dir, "out2")))
	wantFinals := countingcheck.Finals(countingcheck.Expected(records, keys, every))
	if !slices.Equal(finals, wantFinals) {
		t.Errorf("final counts after the fallback restore differ (%d lines, want %d)", len(finals), len(wantFinals))
	}
	// 3. A missing state file.
	files, _ := filepath.Glob(filepath.Join(older, "*.keyed"))
	if len(files) == 0 {
		t.Fatalf("no state files in %s", older)
	}
	if err := os.Rename(files[0], files[0]+".moved"); err != nil {
		t.Fatal(err)
	}
	r = run(append(append([]string{"-s", older}, common...), jobArgs(filepath.Join(dir, "out3"))...)...)
	if r.code == 0 || !strings.Contains(r.stderr, filepath.Base(files[0])) {
		t.Errorf("missing state file: exit %d, stderr should name %s:\n%s", r.code, filepath.Base(files[0]), r.stderr)
	}
	os.Rename(files[0]+".moved", files[0])
	// 4. A checkpoint of another job.
	input := filepath.Join(dir, "words.txt")
	os.WriteFile(input, []byte("a b c\n"), 0o644)
	r = run("-s", older, bin("wordcount"), "--input", input)
	if r.code == 0 || !strings.Contains(r.stderr, "not in this job") || !strings.Contains(r.stderr, "allowNonRestoredState") {
		t.Errorf("foreign savepoint: exit %d, stderr should explain:\n%s", r.code, r.stderr)
	}
	// Nothing was deleted.
	for _, c := range chks {
		if _, err := os.Stat(filepath.Join(c, "_metadata")); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}
