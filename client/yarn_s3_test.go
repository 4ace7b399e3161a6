package client_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
	"github.com/flink-go/flink-go/yarn"
)

// TestYarnS3 is the "Amazon EMR" acceptance on the Hadoop mini-cluster and a real
// S3-compatible server: YARN application mode with execution.checkpointing.dir on S3. The
// AM and TaskManager containers reach the S3 server through the s3.* keys shipped in the
// application's configuration. Like TestYarnE2E, the parent test holds the one lease on the
// mini-cluster for its subtests.
func TestYarnS3(t *testing.T) {
	srv := s3bed.Require(t)
	yarnCluster = testbed.Require(t)
	defer func() { yarnCluster = nil }()
	t.Run("KillTaskManager", func(t *testing.T) { testYarnS3KillTaskManager(t, srv) })
	t.Run("StopWithSavepointRestore", func(t *testing.T) { testYarnS3StopWithSavepointRestore(t, srv) })
}

// s3Keys lists the object keys of bucket under prefix.
func s3Keys(t *testing.T, srv *s3bed.Server, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []string
	p := s3.NewListObjectsV2Paginator(srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("listing s3://%s/%s: %v", bucket, prefix, err)
			return out
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

var chkRE = regexp.MustCompile(`^ckpt/([0-9a-f]{32})/chk-(\d+)/`)

// testYarnS3KillTaskManager: an attached application with checkpoints on S3; once a
// checkpoint is on S3, one TaskManager container process is killed with SIGKILL; the AM
// replaces the container, the job restores from the S3 checkpoint and finishes SUCCEEDED with
// exactly the failure-free output.
func testYarnS3KillTaskManager(t *testing.T, srv *s3bed.Server) {
	y := setupYarn(t)
	bucket := srv.NewBucket(t)
	const records, keys, every = 300_000, 100, 1000
	base := "hdfs://" + y.fs.Authority() + y.dir
	args := append(append(append([]string{"run", "-t", "yarn-application", "-p", "2"},
		y.dflags("execution.checkpointing.interval=1s", "execution.checkpointing.dir=s3://"+bucket+"/ckpt",
			"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=20", "restart-strategy.fixed-delay.delay=1s")...),
		s3Flags(srv.Config())...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "30000",
		"--output", base+"/out")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+y.home, "FLINK_CONF_DIR=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Wait for the application, two TaskManager processes and a checkpoint on S3, then kill one
	// TaskManager.
	var (
		app                  yarn.ApplicationID
		killed, jobID        string
		chkBefore            int
		killedAt, firstChkAt time.Duration
	)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for killed == "" {
		select {
		case err := <-done:
			t.Fatalf("the application ended before a TaskManager was killed: %v\n%s\n%s", err, stdout.String(), stderr.String())
		case <-ctx.Done():
			t.Fatalf("no TaskManager to kill within 4 minutes:\n%s", stderr.String())
		case <-tick.C:
		}
		if app.IsZero() {
			if apps := y.apps(t); len(apps) > 0 {
				app = apps[0].ID
			}
			continue
		}
		if jobID == "" {
			for _, k := range s3Keys(t, srv, bucket, "ckpt/") {
				if m := chkRE.FindStringSubmatch(k); m != nil {
					jobID = m[1]
					n, _ := strconv.Atoi(m[2])
					chkBefore = max(chkBefore, n)
				}
			}
			if jobID == "" {
				continue
			}
			firstChkAt = time.Since(start)
		}
		procs := countingcheck.TaskManagerProcesses(app.String())
		if len(procs) < 2 {
			continue
		}
		for pid, c := range procs {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", pid, err)
			}
			killed, killedAt = c, time.Since(start)
			t.Logf("killed TaskManager %s (pid %d) after %s; newest checkpoint on S3 then: chk-%d", c, pid, killedAt.Round(time.Millisecond), chkBefore)
			break
		}
	}
	if err := <-done; err != nil || !strings.Contains(stdout.String(), "finished") {
		t.Fatalf("the application did not finish: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	total := time.Since(start)
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, "output after the TaskManager kill", got, records, keys, every)
	apps := y.apps(t)
	if len(apps) != 1 || apps[0].Final != yarn.FinalSucceeded {
		t.Fatalf("applications: %+v", apps)
	}
	// The AM saw the container lost and the job restored from a checkpoint on S3.
	logs, err := y.c.ContainerLogs(app.String())
	if err != nil {
		t.Fatal(err)
	}
	var amLog string
	for k, v := range logs {
		if strings.HasSuffix(k, "/jobmanager.log") {
			amLog += v
		}
	}
	// Either YARN's container report (the AM's driver) or the JobManager (heartbeat timeout, or
	// the TaskManager unreachable at the next deployment) noticed the loss first.
	lostSeen := strings.Contains(amLog, "TaskManager container lost") || strings.Contains(amLog, "TaskManager lost")
	if !lostSeen || !strings.Contains(amLog, killed) {
		t.Errorf("the AM log does not report %s lost", killed)
	}
	restoreRE := regexp.MustCompile(`restoring from checkpoint.*s3://` + regexp.QuoteMeta(bucket) + `/ckpt/` + jobID + `/chk-\d+`)
	if !restoreRE.MatchString(amLog) {
		lines := []string{}
		for _, l := range strings.Split(amLog, "\n") {
			if strings.Contains(l, "restor") {
				lines = append(lines, l)
			}
		}
		t.Errorf("the AM log shows no restore from s3://%s/ckpt/%s; restore lines: %q", bucket, jobID, lines)
	}
	y.assertNothingLeft(t)
	t.Logf("timing: first checkpoint on S3 after %s, kill after %s, SUCCEEDED after %s (%d output lines exact)",
		firstChkAt.Round(time.Millisecond), killedAt.Round(time.Millisecond), total.Round(time.Millisecond), len(got))
}

// testYarnS3StopWithSavepointRestore: a detached application with checkpoints on S3 is stopped
// with a savepoint to S3 (`flink-go stop --savepointPath s3://… -D yarn.application.id`); a new
// application restores it with -s at another parallelism and finishes with exactly the output
// of a run without the stop.
func testYarnS3StopWithSavepointRestore(t *testing.T, srv *s3bed.Server) {
	y := setupYarn(t)
	bucket := srv.NewBucket(t)
	const records, keys, every = 200_000, 50, 100
	base := "hdfs://" + y.fs.Authority() + y.dir
	s3conf := s3Flags(srv.Config())
	job := []string{bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every),
		"--rate", "20000", "--output", base + "/out"}
	dflags := y.dflags("execution.checkpointing.interval=1s", "execution.checkpointing.dir=s3://"+bucket+"/ckpt")
	start := time.Now()
	r := y.cli(t, 3*time.Minute, nil, nil, append(append(append([]string{"run", "-t", "yarn-application", "-d", "-p", "2"}, dflags...), s3conf...), job...)...)
	am := regexp.MustCompile(`YARN application (application_\d+_\d+)`).FindStringSubmatch(r.stdout)
	jm := regexp.MustCompile(`JobID ([0-9a-f]{32})`).FindStringSubmatch(r.stdout)
	if r.code != 0 || am == nil || jm == nil {
		t.Fatalf("detached run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	appID, jobID := am[1], jm[1]
	// Stop once the job runs and has made progress (a checkpoint on S3).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		n := 0
		for _, k := range s3Keys(t, srv, bucket, "ckpt/"+jobID+"/") {
			if strings.Contains(k, "/chk-") {
				n++
			}
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint under s3://%s/ckpt/%s/ within a minute", bucket, jobID)
		}
	}
	stopAt := time.Since(start)
	r = y.cli(t, 2*time.Minute, nil, nil, append(append([]string{"stop", "--savepointPath", "s3://" + bucket + "/sp", "-D", "yarn.application.id=" + appID}, s3conf...), jobID)...)
	m := savepointRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	savepoint := m[1]
	if !strings.HasPrefix(savepoint, "s3://"+bucket+"/sp/") {
		t.Fatalf("savepoint path %s is not under s3://%s/sp/", savepoint, bucket)
	}
	if keys := s3Keys(t, srv, bucket, strings.TrimPrefix(savepoint, "s3://"+bucket+"/")); len(keys) == 0 {
		t.Fatalf("nothing on S3 under %s", savepoint)
	}
	id, _ := yarn.ParseApplicationID(appID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := y.rm.WaitForState(ctx, id, 250*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil || !rep.State.Terminal() {
		t.Fatalf("after stop: %s/%s %v", rep.State, rep.Final, err)
	}
	y.awaitNothingLeft(t)
	stoppedAt := time.Since(start)

	// Restore at parallelism 3 into the same output directory: the stop committed the output up
	// to the savepoint, the restored job writes the rest; together they are exact.
	r = y.cli(t, 3*time.Minute, nil, nil, append(append(append([]string{"run", "-t", "yarn-application", "-p", "3", "-s", savepoint}, dflags...), s3conf...), job...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "finished") {
		t.Fatalf("run -s %s: exit %d\n%s\n%s", savepoint, r.code, r.stdout, r.stderr)
	}
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, "output after stop and restore", got, records, keys, every)
	y.assertNothingLeft(t)
	t.Logf("timing: stop with savepoint requested after %s, application %s ended %s/%s after %s, restored application finished after %s (%d lines exact); savepoint %s",
		stopAt.Round(time.Millisecond), appID, rep.State, rep.Final, stoppedAt.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), len(got), savepoint)
}
