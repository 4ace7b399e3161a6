package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/client"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/yarn"
)

// TestYarnHA is acceptance 3(b) of the YARN issue on the mini-cluster: an application-mode
// counting job with two AM attempts allowed and checkpoints on HDFS; once a checkpoint
// completed, the AM process is killed with SIGKILL. YARN starts attempt 2, which recovers the
// job from the HA directory and its newest checkpoint, adopts the TaskManager containers of
// attempt 1 (they register again with the new JobManager) and finishes SUCCEEDED with exactly
// the failure-free output.
func TestYarnHA(t *testing.T) {
	yarnCluster = testbed.Require(t)
	defer func() { yarnCluster = nil }()
	t.Run("KillApplicationMaster", testYarnHAKillAM)
	t.Run("KillSessionApplicationMaster", testYarnHAKillSessionAM)
}

// completedCheckpoints lists the chk-<n> directories with a _metadata file below an HDFS
// checkpoint directory (<dir>/<job-id>/chk-<n>/_metadata), as "<job-id>/chk-<n>".
func (y *yarnTB) completedCheckpoints(ctx context.Context, dir string) []string {
	var out []string
	jobs, err := y.fs.List(ctx, dir)
	if err != nil {
		return nil
	}
	for _, j := range jobs {
		if !j.IsDir {
			continue
		}
		chks, err := y.fs.List(ctx, j.Path)
		if err != nil {
			continue
		}
		for _, c := range chks {
			if !c.IsDir || !strings.HasPrefix(path.Base(c.Path), "chk-") {
				continue
			}
			if _, err := y.fs.Stat(ctx, c.Path+"/_metadata"); err == nil {
				out = append(out, path.Base(j.Path)+"/"+path.Base(c.Path))
			}
		}
	}
	sort.Strings(out)
	return out
}

func testYarnHAKillAM(t *testing.T) {
	y := setupYarn(t)
	const records, keys, every = 600_000, 100, 1000
	base := "hdfs://" + y.fs.Authority() + y.dir
	start := time.Now()
	// Attached: the client follows the job through the AM failover (the new attempt's REST
	// endpoint comes from the application report) and exits with the job's result.
	attached := y.startAttached(t, 6*time.Minute, append(append([]string{"run", "-t", "yarn-application", "-p", "2"},
		y.dflags("yarn.application-attempts=2", "execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt",
			"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=20", "restart-strategy.fixed-delay.delay=1s")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "25000",
		"--output", base+"/out")...)
	appID := attached.appID

	// Wait for a completed checkpoint and two TaskManagers, then SIGKILL the AM process.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var killedAt time.Duration
	var chkBefore []string
	tms1 := map[string]bool{}
	for killedAt == 0 {
		if ctx.Err() != nil {
			t.Fatalf("no completed checkpoint with 2 TaskManagers running within 3 minutes (checkpoints %v, processes %+v)", chkBefore, containerProcs(appID))
		}
		time.Sleep(200 * time.Millisecond)
		chkBefore = y.completedCheckpoints(ctx, y.dir+"/ckpt")
		if len(chkBefore) == 0 {
			continue
		}
		var amPID int
		tms := map[string]bool{}
		for _, p := range containerProcs(appID) {
			switch p.role {
			case "yarn-application":
				amPID = p.pid
			case "taskmanager":
				tms[p.container] = true
			}
		}
		if amPID == 0 || len(tms) < 2 {
			continue
		}
		if err := syscall.Kill(amPID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 of the AM (pid %d): %v", amPID, err)
		}
		killedAt, tms1 = time.Since(start), tms
		t.Logf("killed the AM (pid %d) after %s; completed checkpoints then: %v; TaskManagers %v", amPID, killedAt.Round(time.Millisecond), chkBefore, tms)
	}

	rep := y.waitEnd(t, appID, 4*time.Minute)
	total := time.Since(start)
	if code, out := attached.wait(t); code != 0 || !strings.Contains(out, "JobManager of "+appID+" moved to") || !strings.Contains(out, "finished") {
		t.Errorf("attached client: exit %d; want 0 with the JobManager move and the job's end reported:\n%s", code, out)
	}
	logs, lerr := y.c.ContainerLogs(appID)
	if lerr != nil {
		t.Fatal(lerr)
	}
	amLog := func(attempt int) string {
		suffix := fmt.Sprintf("_%02d_000001/jobmanager.log", attempt)
		for k, v := range logs {
			if strings.HasSuffix(k, suffix) {
				return v
			}
		}
		return ""
	}
	if rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded {
		t.Fatalf("%s ended %s/%s: %s\nattempt 2 log:\n%s", appID, rep.State, rep.Final, rep.Diagnostics, amLog(2))
	}
	if rep.CurrentAttempt.Attempt != 2 {
		t.Fatalf("%s finished in attempt %d, want 2 (the AM kill did not start a new attempt?)", appID, rep.CurrentAttempt.Attempt)
	}
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, "output after the AM kill", got, records, keys, every)
	second := amLog(2)
	m := regexp.MustCompile(`recovering job ([0-9a-f]{32}) \([^)]*\) from checkpoint chk-(\d+)`).FindStringSubmatch(second)
	if m == nil {
		t.Fatalf("attempt 2's jobmanager.log does not say it recovered the job from a checkpoint:\n%s", second)
	}
	if rec := m[1] + "/chk-" + m[2]; !haContains(chkBefore, rec) && !strings.Contains(second, rec) {
		t.Errorf("recovered from %s, completed before the kill: %v", rec, chkBefore)
	}
	// The TaskManager containers of attempt 1 registered again; no new ones were requested.
	var tmContainers []string
	for k := range logs {
		if strings.HasSuffix(k, "/taskmanager.log") {
			tmContainers = append(tmContainers, strings.TrimSuffix(k, "/taskmanager.log"))
		}
	}
	sort.Strings(tmContainers)
	for _, c := range tmContainers {
		if !tms1[c] {
			t.Errorf("TaskManager container %s was started after the AM kill; want only the kept ones %v", c, tms1)
		}
	}
	for c := range tms1 {
		if !strings.Contains(second, c) || !strings.Contains(logs[c+"/taskmanager.log"], "registered at the new JobManager leader") {
			t.Errorf("TaskManager %s of attempt 1 did not register with attempt 2's JobManager", c)
		}
	}
	y.assertNothingLeft(t)
	t.Logf("timing: AM killed after %s, FINISHED/SUCCEEDED in attempt %d after %s (%d output lines exact; recovered from chk-%s; TaskManagers %v kept; %d job restarts in attempt 2)",
		killedAt.Round(time.Millisecond), rep.CurrentAttempt.Attempt, total.Round(time.Millisecond), len(got), m[2], tmContainers, strings.Count(second, "restarting job"))
}

func haContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// testYarnHAKillSessionAM: a detached session with two AM attempts allowed runs one counting job
// with checkpoints on HDFS; the session AM is killed with SIGKILL once a checkpoint completed.
// Attempt 2 recovers the job (same job id, from its newest checkpoint) with the kept
// TaskManagers; the job finishes with exactly the failure-free output; the session then stops
// normally through the new attempt.
func testYarnHAKillSessionAM(t *testing.T) {
	y := setupYarn(t)
	const records, keys, every = 500_000, 100, 1000
	base := "hdfs://" + y.fs.Authority() + y.dir
	r, appID, _ := y.startSession(t, append([]string{"-s", "1"}, y.dflags("yarn.application-attempts=2")...)...)
	app, err := yarn.ParseApplicationID(appID)
	if err != nil {
		t.Fatal(err)
	}
	r = y.cli(t, 3*time.Minute, nil, nil, append(append([]string{"run", "-t", "yarn-session", "-d", "-p", "2"},
		y.dflags("yarn.application.id="+appID, "execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "25000",
		"--output", base+"/out")...)
	jm := regexp.MustCompile(`JobID ([0-9a-f]{32})`).FindStringSubmatch(r.stdout)
	if r.code != 0 || jm == nil {
		t.Fatalf("run on the session: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	jobID := jm[1]

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	amContainer := fmt.Sprintf("container_%s_01_000001", strings.TrimPrefix(appID, "application_"))
	killed := false
	for !killed {
		if ctx.Err() != nil {
			t.Fatalf("no completed checkpoint of job %s with the session AM running within 5 minutes (processes %+v)", jobID, containerProcs(appID))
		}
		time.Sleep(200 * time.Millisecond)
		if len(y.completedCheckpoints(ctx, y.dir+"/ckpt")) == 0 {
			continue
		}
		for _, p := range containerProcs(appID) {
			if p.container == amContainer {
				if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill -9 of the session AM (pid %d): %v", p.pid, err)
				}
				killed = true
				t.Logf("killed the session AM (pid %d); completed checkpoints: %v", p.pid, y.completedCheckpoints(ctx, y.dir+"/ckpt"))
			}
		}
	}

	// Attempt 2 comes up; its REST API (the report's host and rpc port) shows the job finishing.
	var rest *client.REST
	for rest == nil {
		if ctx.Err() != nil {
			t.Fatalf("attempt 2 of %s did not come up within 5 minutes", appID)
		}
		time.Sleep(300 * time.Millisecond)
		rep, err := y.rm.GetApplicationReport(ctx, app)
		if err != nil || rep.State.Terminal() {
			if err == nil {
				t.Fatalf("the session ended %s/%s after the AM kill: %s", rep.State, rep.Final, rep.Diagnostics)
			}
			continue
		}
		if rep.CurrentAttempt.Attempt == 2 && rep.State == yarn.StateRunning && rep.RPCPort > 0 {
			rest = client.NewREST(net.JoinHostPort(rep.Host, strconv.Itoa(int(rep.RPCPort))))
		}
	}
	state := ""
	for state != "FINISHED" {
		if ctx.Err() != nil {
			t.Fatalf("job %s is %q on attempt 2, not FINISHED within 5 minutes", jobID, state)
		}
		time.Sleep(500 * time.Millisecond)
		if j, err := rest.Job(ctx, jobID); err == nil {
			state, _ = j["state"].(string)
			if state == "FAILED" || state == "CANCELED" {
				t.Fatalf("the recovered job ended %s: %v", state, j)
			}
		}
	}
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, "output after the session AM kill", got, records, keys, every)

	r = y.cli(t, 3*time.Minute, strings.NewReader("stop\n"), nil, append([]string{"yarn-session", "-id", appID}, y.dflags()...)...)
	if r.code != 0 {
		t.Fatalf("stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rep := y.waitEnd(t, appID, 2*time.Minute)
	if rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded || rep.CurrentAttempt.Attempt != 2 {
		t.Fatalf("session after stop: %s/%s attempt %d: %s", rep.State, rep.Final, rep.CurrentAttempt.Attempt, rep.Diagnostics)
	}
	logs, err := y.c.ContainerLogs(appID)
	if err != nil {
		t.Fatal(err)
	}
	second := logs[fmt.Sprintf("container_%s_02_000001/jobmanager.log", strings.TrimPrefix(appID, "application_"))]
	if !regexp.MustCompile(`recovering job ` + jobID + ` \([^)]*\) from checkpoint chk-\d+`).MatchString(second) {
		t.Fatalf("attempt 2's jobmanager.log does not say it recovered job %s from a checkpoint:\n%s", jobID, second)
	}
	for k := range logs {
		if strings.HasSuffix(k, "/taskmanager.log") && strings.Contains(k, "_02_") {
			t.Errorf("TaskManager container %s was started by attempt 2; the kept ones should have been adopted", strings.TrimSuffix(k, "/taskmanager.log"))
		}
	}
	y.assertNothingLeft(t)
}

// yarn.application-attempts > 1 implies high availability: containers are kept across attempts
// and the failures validity interval applies; one attempt keeps nothing.
func TestYarnAppSpecAttemptsImplyHA(t *testing.T) {
	for _, c := range []struct {
		kv       []string
		attempts int32
		keep     bool
	}{
		{[]string{"yarn.application-attempts", "2"}, 2, true},
		{[]string{"yarn.application-attempts", "1"}, 1, false},
		{nil, 1, false},
		{[]string{"high-availability.type", "FILESYSTEM"}, 2, true},
	} {
		conf := configs.New()
		for i := 0; i+1 < len(c.kv); i += 2 {
			if err := conf.Set(c.kv[i], c.kv[i+1], configs.CodeOrigin("test")); err != nil {
				t.Fatal(err)
			}
		}
		s, err := client.YarnAppSpecFrom(conf, client.YarnApplicationMode)
		if err != nil {
			t.Fatal(err)
		}
		if s.MaxAttempts != c.attempts || s.KeepContainers != c.keep || (c.keep && s.AttemptFailuresValidityInterval != 10*time.Second) {
			t.Errorf("%v: attempts %d keep %v interval %s; want %d %v", c.kv, s.MaxAttempts, s.KeepContainers, s.AttemptFailuresValidityInterval, c.attempts, c.keep)
		}
	}
}

// attachedRun is a `flink-go run` in attached mode running in the background.
type attachedRun struct {
	appID string
	cmd   *exec.Cmd
	w     *stderrWatcher
	out   *bytes.Buffer
	done  chan struct{}
}

// startAttached starts an attached CLI run and returns once it reported its application id.
func (y *yarnTB) startAttached(t *testing.T, timeout time.Duration, args ...string) *attachedRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+y.home, "FLINK_CONF_DIR=")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &attachedRun{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{}),
		w: &stderrWatcher{re: regexp.MustCompile(`Submitted application (application_\d+_\d+)`), hit: make(chan []string, 1)}}
	cmd.Stdout = a.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.w.run(pipe); close(a.done) }()
	select {
	case m := <-a.w.hit:
		a.appID = m[1]
	case <-a.done:
		_ = cmd.Wait()
		t.Fatalf("the attached client ended before submitting:\n%s", a.w.String())
	case <-ctx.Done():
		t.Fatalf("no submission within %s:\n%s", timeout, a.w.String())
	}
	return a
}

// wait waits for the attached client to exit and returns its exit code and output.
func (a *attachedRun) wait(t *testing.T) (int, string) {
	t.Helper()
	<-a.done
	err := a.cmd.Wait()
	out := a.out.String() + a.w.String()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out
	case err != nil:
		t.Fatalf("attached client: %v\n%s", err, out)
	}
	return 0, out
}
