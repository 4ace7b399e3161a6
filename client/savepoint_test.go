package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
)

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var savepointRe = regexp.MustCompile(`Savepoint completed\. Path: (\S+)`)

// TestSavepointRescale is issue 3's acceptance point 2: stop with a savepoint at parallelism 2,
// resume from it at parallelism 3 and at 1; the output equals that of a run without the stop.
// Both state backends run it: with pebble the periodic checkpoints are incremental and the
// savepoint is the canonical FGKS dump, restored by import at the new parallelism.
func TestSavepointRescale(t *testing.T) {
	for _, backend := range []string{"hashmap", "pebble"} {
		t.Run(backend, func(t *testing.T) { testSavepointRescale(t, backend) })
	}
}

func testSavepointRescale(t *testing.T, backend string) {
	const records, keys, every = 1_500_000, 500, 50
	want := countingcheck.Expected(records, keys, every)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	common := []string{"-D", "local.taskmanagers=2", "-D", "execution.checkpointing.interval=500ms",
		"-D", "execution.checkpointing.dir=file://" + filepath.Join(dir, "ckpt"), "-D", "state.backend.type=" + backend,
		"-D", "io.tmp.dirs=" + filepath.Join(dir, "tmp")}
	jobArgs := func(o string) []string {
		return []string{bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--rate", "300000", "--output", o}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(append([]string{"run", "-t", "local", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port)}, common...), jobArgs(out)...)
	run := startFlinkGo(ctx, t, dir, args...)
	id := run.runningJob(t, addr)
	time.Sleep(2 * time.Second) // let it count and checkpoint for a while
	// flink-go list shows the job's checkpoint metrics.
	if l := flinkGoHome(t, dir, 10*time.Second, "list", "-m", addr).stdout; !regexp.MustCompile(`#\d+ \d+ms \S+ align \d+ms \(\d+ ok, 0 failed\)`).MatchString(l) {
		t.Errorf("list shows no checkpoint metrics:\n%s", l)
	}
	r := flinkGoHome(t, dir, 2*time.Minute, "stop", "-m", addr, "--savepointPath", "file://"+filepath.Join(dir, "savepoints"), id)
	m := savepointRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	savepoint := m[1]
	if err := run.wait(); err != nil {
		t.Fatalf("the stopped job should end cleanly: %v\n%s", err, run.stderr.String())
	}
	before := committedLines(t, out)
	if len(before) == 0 || len(before) >= len(want) {
		t.Fatalf("%d lines committed before the stop (of %d): the stop should be mid-run", len(before), len(want))
	}
	t.Logf("stopped with savepoint %s after %d of %d output lines", savepoint, len(before), len(want))
	// Committables in the savepoint name the output files by path: each resumption runs on the
	// same output directory, reset to what the stopped run left.
	base := filepath.Join(dir, "out-at-stop")
	copyDir(t, out, base)
	for _, p := range []int{3, 1} {
		t.Run(fmt.Sprintf("resume-p%d", p), func(t *testing.T) {
			o := out
			if err := os.RemoveAll(o); err != nil {
				t.Fatal(err)
			}
			copyDir(t, base, o)
			args := append(append([]string{"run", "-t", "local", "-p", strconv.Itoa(p), "-s", savepoint, "-D", "rest.port=0"}, common...), jobArgs(o)...)
			res := flinkGoHome(t, dir, 2*time.Minute, args...)
			if res.code != 0 {
				t.Fatalf("resume: exit %d\n%s", res.code, res.stderr)
			}
			got := committedLines(t, o)
			if !slices.Equal(got, want) {
				have := map[string]int{}
				for _, l := range got {
					have[l]++
				}
				var missing []string
				for _, l := range want {
					if have[l] == 0 {
						missing = append(missing, l)
					}
					have[l]--
				}
				entries, _ := os.ReadDir(o)
				for _, e := range entries {
					info, _ := e.Info()
					t.Logf("%s %d", e.Name(), info.Size())
				}
				t.Logf("resume stderr:\n%s", res.stderr)
				t.Fatalf("output differs from a run without the stop: %d lines, want %d; missing %d, e.g. %q", len(got), len(want), len(missing), missing[:min(5, len(missing))])
			}
		})
	}
	// Every task removed its local state directory when it ended.
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "flink-go-*")); len(left) > 0 {
		t.Errorf("local state directories left behind: %v", left)
	}
}
