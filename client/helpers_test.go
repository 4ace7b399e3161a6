package client_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/bench"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// The steps the end-to-end tests of this package share: reading and comparing the output of
// examples/counting, running `flink-go run` in the background and finding its job, the
// TaskManager processes below it, and the retained checkpoints it left.

// taskManagers returns the TaskManager processes below pid (local.taskmanagers.processes).
func taskManagers(pid int) []int {
	var tms []int
	for _, p := range bench.Descendants(pid) {
		if bench.IsTaskManager(p) {
			tms = append(tms, p)
		}
	}
	return tms
}

// committedLines reads the committed part files of a local output directory, sorted; a missing
// directory has none.
func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	return localParts(t, dir).Lines
}

// localParts reads the part files of a local output directory; a missing directory has none.
func localParts(t *testing.T, dir string) countingcheck.Parts {
	t.Helper()
	p, err := countingcheck.ReadParts(context.Background(), fs.Local{}, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return countingcheck.Parts{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hdfsPartLines reads the committed part files (part-*) of an output directory, sorted.
func hdfsPartLines(t *testing.T, fsys fs.FileSystem, dir string) []string {
	t.Helper()
	p, err := countingcheck.ReadParts(context.Background(), fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p.Lines
}

// checkCounting fails the test unless got is exactly the output of a failure-free run of
// examples/counting with these parameters; what names the output in the message.
func checkCounting(t *testing.T, what string, got []string, records, keys, every int64) {
	t.Helper()
	if want := countingcheck.Expected(records, keys, every); !slices.Equal(got, want) {
		t.Fatalf("%s: %d lines, want %d (first got %q)", what, len(got), len(want), got[:min(3, len(got))])
	}
}

// bgRun is a `flink-go run` started in the background.
type bgRun struct {
	cmd    *exec.Cmd
	home   string
	stderr bench.LockedBuffer // read by failure messages while the command runs
	// done receives the command's exit (once).
	done chan error
}

// startFlinkGo starts the CLI with args in FLINK_GO_HOME=home (no configuration directory,
// log level warn), bounded by ctx: when ctx ends, the processes below the CLI get SIGQUIT and
// the CLI is killed.
func startFlinkGo(ctx context.Context, t *testing.T, home string, args ...string) *bgRun {
	t.Helper()
	r := &bgRun{cmd: exec.CommandContext(ctx, bin("flink-go"), args...), home: home, done: make(chan error, 1)}
	bounded(r.cmd)
	r.cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+home, "FLINK_CONF_DIR=", "FLINK_GO_LOG_LEVEL=warn")
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting flink-go %s: %v", strings.Join(args, " "), err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	return r
}

// wait waits for the command to end (at the latest when its context ends).
func (r *bgRun) wait() error { return <-r.done }

// runningJob polls `flink-go list -m addr` (every 100 ms, for at most 30 s) until a job is
// RUNNING, and returns its id.
func (r *bgRun) runningJob(t *testing.T, addr string) string {
	t.Helper()
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, l := range strings.Split(flinkGoHome(t, r.home, 10*time.Second, "list", "-m", addr).stdout, "\n") {
			if strings.Contains(l, "RUNNING") {
				id = strings.Fields(l)[0]
			}
		}
	}
	if id == "" {
		t.Fatalf("job not running: `flink-go list -m %s` showed no RUNNING job within 30 s\n%s", addr, r.stderr.String())
	}
	return id
}

// retainedCheckpoints lists the chk-<n> directories of a job's local checkpoint directory,
// oldest (lowest n) first.
func retainedCheckpoints(jobDir string) []string {
	chks, _ := filepath.Glob(filepath.Join(jobDir, "chk-*"))
	num := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "chk-"))
		return n
	}
	sort.Slice(chks, func(i, j int) bool { return num(chks[i]) < num(chks[j]) })
	return chks
}

// faultProxy puts a fault-injecting proxy with rule in front of the S3 server; the test's end
// closes it.
func faultProxy(t *testing.T, srv *s3bed.Server, rule s3bed.Rule) *s3bed.FaultProxy {
	t.Helper()
	proxy, err := s3bed.NewFaultProxy(srv.Endpoint)
	if err != nil {
		t.Fatalf("starting the S3 fault proxy in front of %s: %v", srv.Endpoint, err)
	}
	t.Cleanup(func() { proxy.Close() })
	proxy.SetRule(rule)
	return proxy
}
