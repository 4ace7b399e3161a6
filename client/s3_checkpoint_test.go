package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

func s3Flags(conf map[string]string) []string {
	var out []string
	for k, v := range conf {
		out = append(out, "-D", k+"="+v)
	}
	return out
}

// TestS3CheckpointsExactlyOnce: checkpoints on a real S3-compatible server, behind a proxy that
// throttles every third PutObject (503 SlowDown, retried); two TaskManager processes are killed;
// the job recovers from the S3 checkpoints with exactly-once output. Then a savepoint to S3 is
// taken and restored.
func TestS3CheckpointsExactlyOnce(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	proxy := faultProxy(t, srv, s3bed.EveryNth("PutObject", 3, s3bed.SlowDown))
	const records, keys, every = 3_000_000, 500, 100
	want := countingcheck.Expected(records, keys, every)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := append([]string{"run", "-t", "local", "-p", "2", "-D", "rest.port=0", "-D", "local.taskmanagers=2",
		"-D", "local.taskmanagers.processes=true",
		"-D", "execution.checkpointing.interval=500ms", "-D", "execution.checkpointing.dir=s3://" + bucket + "/ckpt",
		"-D", "restart-strategy.type=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=10", "-D", "restart-strategy.fixed-delay.delay=200ms"},
		s3Flags(srv.ConfigAt(proxy.URL()))...)
	args = append(args, bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every),
		"--rate", "400000", "--output", out)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := startFlinkGo(ctx, t, dir, args...)
	r := rand.New(rand.NewPCG(7, 9))
	for killed := 0; killed < 2; {
		select {
		case err := <-run.done:
			t.Fatalf("the job ended after %d kills: %v\n%s", killed, err, run.stderr.String())
		case <-time.After(2500 * time.Millisecond):
		}
		tms := taskManagers(run.cmd.Process.Pid)
		if len(tms) > 0 && syscall.Kill(tms[r.IntN(len(tms))], syscall.SIGKILL) == nil {
			killed++
		}
	}
	if err := run.wait(); err != nil {
		t.Fatalf("job failed: %v\n%s", err, run.stderr.String())
	}
	if got := committedLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output differs: %d lines, want %d", len(got), len(want))
	}
	if proxy.Injected(s3bed.SlowDown) == 0 {
		t.Error("the proxy throttled nothing: the test did not exercise retries")
	}
	t.Logf("S3 requests: %d PutObject, %d throttled", proxy.Requests("PutObject"), proxy.Injected(s3bed.SlowDown))
	if stderr := run.stderr.String(); !strings.Contains(stderr, "restoring") && !strings.Contains(stderr, "restart") {
		t.Logf("stderr:\n%s", stderr)
	}
}

// TestS3CheckpointCannotComplete: when S3 refuses every checkpoint write, the checkpoints are
// declined and counted, and the job keeps running to a correct end (tolerable failures).
func TestS3CheckpointCannotComplete(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	proxy := faultProxy(t, srv, s3bed.Rules(s3bed.Always("PutObject", s3bed.Drop), s3bed.Always("UploadPart", s3bed.Drop), s3bed.Always("CreateMultipartUpload", s3bed.Drop)))
	const records, keys, every = 1_000_000, 100, 1000
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	port := freePort(t)
	args := append([]string{"run", "-t", "local", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port),
		"-D", "execution.checkpointing.interval=300ms", "-D", "execution.checkpointing.dir=s3://" + bucket + "/ckpt",
		"-D", "execution.checkpointing.tolerable-failed-checkpoints=1000", "-D", "execution.checkpointing.timeout=20s"},
		s3Flags(srv.ConfigAt(proxy.URL()))...)
	args = append(args, bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every),
		"--rate", "250000", "--output", out)
	res := flinkGoHome(t, dir, 3*time.Minute, args...)
	if res.code != 0 {
		t.Fatalf("the job should keep running and finish: exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "checkpoint aborted") && !strings.Contains(res.stderr, "declin") {
		t.Errorf("no declined/aborted checkpoint reported:\n%s", res.stderr)
	}
	want := countingcheck.Expected(records, keys, every)
	if got := committedLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output differs: %d lines, want %d", len(got), len(want))
	}
}

// TestS3SavepointRestore: stop with a savepoint on S3, resume from it at another parallelism;
// the output equals a run without the stop.
func TestS3SavepointRestore(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	const records, keys, every = 1_200_000, 300, 50
	want := countingcheck.Expected(records, keys, every)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s3conf := s3Flags(srv.Config())
	common := append([]string{"-D", "execution.checkpointing.interval=500ms", "-D", "execution.checkpointing.dir=s3://" + bucket + "/ckpt"}, s3conf...)
	job := []string{bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--rate", "300000", "--output", out}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := startFlinkGo(ctx, t, dir, append(append([]string{"run", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port)}, common...), job...)...)
	id := run.runningJob(t, addr)
	time.Sleep(1500 * time.Millisecond)
	r := flinkGoHome(t, dir, 2*time.Minute, append(append([]string{"stop", "-m", addr, "--savepointPath", "s3://" + bucket + "/savepoints"}, s3conf...), id)...)
	m := savepointRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(m[1], "s3://"+bucket+"/savepoints/") {
		t.Fatalf("savepoint path %s is not on S3", m[1])
	}
	if err := run.wait(); err != nil {
		t.Fatalf("stopped job: %v\n%s", err, run.stderr.String())
	}
	res := flinkGoHome(t, dir, 2*time.Minute, append(append([]string{"run", "-p", "3", "-s", m[1], "-D", "rest.port=0"}, common...), job...)...)
	if res.code != 0 {
		t.Fatalf("resume: %s", res.stderr)
	}
	if got := committedLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output differs: %d lines, want %d", len(got), len(want))
	}
}
