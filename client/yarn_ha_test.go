package client_test

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

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
	appID := y.runDetached(t, append(append([]string{"run", "-t", "yarn-application", "-d", "-p", "2"},
		y.dflags("yarn.application-attempts=2", "execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt",
			"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=20", "restart-strategy.fixed-delay.delay=1s")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "25000",
		"--output", base+"/out")...)
	if _, err := yarn.ParseApplicationID(appID); err != nil {
		t.Fatal(err)
	}

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
	want := expectedCounting(records, keys, every)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output after the AM kill: %d lines, want %d (first got %q)", len(got), len(want), got[:min(3, len(got))])
	}
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
