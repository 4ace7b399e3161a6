package am

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/yarn"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildBinary compiles a main package (relative to am/) once per test run.
func buildBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	dir := t.TempDir()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	// t.TempDir is removed with the test; keep a copy for later tests of the run.
	keep, err := os.MkdirTemp("", "flinkgo-am-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(out, filepath.Join(keep, name)); err != nil {
		t.Fatal(err)
	}
	built[pkg] = filepath.Join(keep, name)
	return built[pkg]
}

// buildCounting compiles examples/counting (which links this package through stream).
func buildCounting(t *testing.T) string { return buildBinary(t, "../examples/counting", "counting") }

type e2e struct {
	c    *testbed.Cluster
	cfg  yarn.Config
	rm   *yarn.ClientRM
	hdfs *hdfs.FileSystem
	fs   string // hdfs://host:port
	user string
}

func setupE2E(t *testing.T) *e2e {
	t.Helper()
	c := testbed.Require(t)
	// One identity for YARN, HDFS and the containers (the SIMPLE user); containers run as the
	// NodeManager's OS user, so HDFS permissions must match the submitter's name.
	if os.Getenv("HADOOP_USER_NAME") == "" {
		u := "root"
		if cur, err := user.Current(); err == nil {
			u = cur.Username
		}
		t.Setenv("HADOOP_USER_NAME", u)
	}
	hc, err := yarn.LoadHadoopConf(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := yarn.ConfigFromHadoop(hc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rm, err := yarn.NewClientRM(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rm.Close() })
	defFS := "hdfs://" + c.NameNodeAddress()
	fsys, _, err := fs.Get(ctx, defFS+"/")
	if err != nil {
		t.Fatal(err)
	}
	h, ok := fsys.(*hdfs.FileSystem)
	if !ok {
		t.Fatalf("%s is a %T, not *hdfs.FileSystem", defFS, fsys)
	}
	return &e2e{c: c, cfg: cfg, rm: rm, hdfs: h, fs: defFS, user: cfg.User}
}

// stagedApp is a new application with its staging directory on HDFS.
type stagedApp struct {
	ID yarn.ApplicationID
	// staging is the staging directory's path; work a directory for the job's checkpoints and
	// output. The test's end removes both.
	staging, work string
	// resources are the uploaded files by their name below staging.
	resources map[string]yarn.LocalResource
}

// newApp asks the RM for a new application, creates its staging directory as the client does
// (docs/yarn-deployment.md) and uploads the local files of uploads (name below the staging
// directory -> local path) into it.
func (e *e2e) newApp(ctx context.Context, t *testing.T, uploads map[string]string) stagedApp {
	t.Helper()
	app, err := e.rm.GetNewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := stagedApp{ID: app.ID, staging: "/user/" + e.user + "/.flink-go/" + app.ID.String(),
		work: "/tmp/flink-go-am-e2e/" + app.ID.String(), resources: map[string]yarn.LocalResource{}}
	if err := e.hdfs.MkdirAll(ctx, a.staging, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.hdfs.Delete(ctx, a.work, true)
		_ = e.hdfs.Delete(ctx, a.staging, true)
	})
	for name, local := range uploads {
		res, err := e.hdfs.Upload(ctx, local, a.staging+"/"+name, 0)
		if err != nil {
			t.Fatal(err)
		}
		a.resources[name] = yarn.LocalResource{URL: res.URI, Size: res.Size, Timestamp: res.Timestamp}
	}
	return a
}

// onFailure, deferred, logs the application's container logs whose names end in suffix (the
// last tail bytes of each) and kills the application when the test failed.
func (e *e2e) onFailure(t *testing.T, app yarn.ApplicationID, suffix string, tail int, reason string) {
	if !t.Failed() {
		return
	}
	if logs, err := e.c.ContainerLogs(app.String()); err != nil {
		t.Logf("container logs: %v", err)
	} else {
		names := make([]string, 0, len(logs))
		for k := range logs {
			if strings.HasSuffix(k, suffix) {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			v := logs[k]
			if len(v) > tail {
				v = "..." + v[len(v)-tail:]
			}
			t.Logf("==== %s\n%s", k, v)
		}
	}
	_ = e.rm.KillApplication(context.Background(), app, reason)
}

// countingApp is one application run of examples/counting.
type countingApp struct {
	records, keys, every int64
	rate                 float64
	conf                 map[string]string
	// whileRunning is called once the job's TaskManagers run (optional).
	whileRunning func(t *testing.T, app yarn.ApplicationID)
}

type appResult struct {
	id      yarn.ApplicationID
	report  yarn.ApplicationReport
	staging string
	output  string
}

// submit stages the counting binary as the client would (docs/yarn-deployment.md) and submits it
// as an application-mode AM, then waits for the application to end.
func (e *e2e) submit(t *testing.T, a countingApp) appResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	app := e.newApp(ctx, t, map[string]string{"counting": buildCounting(t)})
	stagingPath, work := app.staging, app.work
	out := e.fs + work + "/out"
	conf := map[string]string{
		"parallelism.default":                   "2",
		"taskmanager.numberOfTaskSlots":         "1",
		"taskmanager.memory.process.size":       "256m",
		"jobmanager.memory.process.size":        "256m",
		"execution.checkpointing.interval":      "500ms",
		"execution.checkpointing.dir":           e.fs + work + "/checkpoints",
		"restart-strategy.type":                 "fixed-delay",
		"restart-strategy.fixed-delay.delay":    "1s",
		"restart-strategy.fixed-delay.attempts": "20",
	}
	for k, v := range a.conf {
		conf[k] = v
	}
	cfgJSON, _ := json.Marshal(conf)
	args := []string{"--records", strconv.FormatInt(a.records, 10), "--keys", strconv.FormatInt(a.keys, 10),
		"--every", strconv.FormatInt(a.every, 10), "--output", out}
	if a.rate > 0 {
		args = append(args, "--rate", strconv.FormatFloat(a.rate, 'f', -1, 64))
	}
	env := map[string]string{
		cluster.EnvRole:      RoleApplication,
		cluster.EnvJobConfig: string(cfgJSON),
		EnvStagingDir:        e.fs + stagingPath,
		EnvJobBinary:         "counting",
		EnvScheduler:         strings.Join(e.cfg.SchedulerAddresses, ","),
		yarn.EnvHadoopUser:   e.user,
		cluster.EnvLogLevel:  "debug",
	}
	for k, v := range env {
		env[k] = EscapeEnvValue(v)
	}
	words := []string{"./counting"}
	for _, w := range args {
		words = append(words, ShellQuote(w))
	}
	sub := yarn.Submission{
		ID: app.ID, Name: "am-e2e-counting", Type: "flink-go", Tags: []string{"am-e2e"},
		AMResource:  yarn.Resource{MemoryMB: 256, VCores: 1},
		MaxAttempts: 1,
		AM: yarn.ContainerLaunchContext{
			LocalResources: map[string]yarn.LocalResource{"counting": app.resources["counting"]},
			Environment:    env,
			Commands:       []string{EscapeForDoubleQuotes(strings.Join(words, " ")) + " 1><LOG_DIR>/jobmanager.out 2><LOG_DIR>/jobmanager.log"},
		},
	}
	if err := e.rm.SubmitApplication(ctx, sub); err != nil {
		t.Fatal(err)
	}
	submitted := time.Now()
	t.Logf("submitted %s", app.ID)
	defer e.onFailure(t, app.ID, "", 6000, "am e2e test failed")
	if a.whileRunning != nil {
		a.whileRunning(t, app.ID)
	}
	rep, err := e.rm.WaitForState(ctx, app.ID, 500*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil {
		t.Fatalf("waiting for %s: %v", app.ID, err)
	}
	t.Logf("%s ended after %s: state=%s final=%s diagnostics=%q", app.ID, time.Since(submitted).Round(10*time.Millisecond), rep.State, rep.Final, rep.Diagnostics)
	return appResult{id: app.ID, report: rep, staging: stagingPath, output: out}
}

// committed reads the published part files of the output directory on HDFS.
func (e *e2e) committed(t *testing.T, out string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := countingcheck.ReadParts(ctx, e.hdfs, strings.TrimPrefix(out, e.fs))
	if err != nil {
		t.Fatalf("reading the output %s: %v", out, err)
	}
	return p.Lines
}

func (e *e2e) check(t *testing.T, r appResult, a countingApp) {
	t.Helper()
	if r.report.State != yarn.StateFinished || r.report.Final != yarn.FinalSucceeded {
		t.Fatalf("%s: state %s final %s, diagnostics %q; want FINISHED/SUCCEEDED", r.id, r.report.State, r.report.Final, r.report.Diagnostics)
	}
	if !strings.Contains(r.report.Diagnostics, "finished") {
		t.Errorf("diagnostics %q do not say the job finished", r.report.Diagnostics)
	}
	got, want := e.committed(t, r.output), countingcheck.Expected(a.records, a.keys, a.every)
	if len(got) != len(want) {
		t.Fatalf("output has %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output line %d: %q, want %q", i, got[i], want[i])
		}
	}
	// The AM deletes the staging directory before it exits.
	e.stagingGone(t, r.staging)
}

// runCounting submits a, checks that it succeeded with the exact output and its staging
// directory deleted, and returns the application's container logs.
func (e *e2e) runCounting(t *testing.T, a countingApp) map[string]string {
	t.Helper()
	r := e.submit(t, a)
	e.check(t, r, a)
	logs, err := e.c.ContainerLogs(r.id.String())
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// TestApplicationCountingOnYARN runs the bounded counting job at parallelism 2 as a YARN
// application: the AM (the job binary in the yarn-application role) requests 2 TaskManager
// containers, the job checkpoints to and writes its output on HDFS, and the AM unregisters
// SUCCEEDED and deletes its staging directory.
func TestApplicationCountingOnYARN(t *testing.T) {
	e := setupE2E(t)
	a := countingApp{records: 200_000, keys: 100, every: 1000}
	logs := e.runCounting(t, a)
	tms := tmContainers(logs)
	if len(tms) != 2 {
		t.Errorf("TaskManager containers %v, want exactly 2 (parallelism 2, 1 slot each)", tms)
	}
}

// tmContainers lists the containers that wrote a taskmanager.log.
func tmContainers(logs map[string]string) []string {
	var out []string
	for k := range logs {
		if strings.HasSuffix(k, "/taskmanager.log") {
			out = append(out, strings.TrimSuffix(k, "/taskmanager.log"))
		}
	}
	sort.Strings(out)
	return out
}

// TestKilledTaskManagerIsReplaced kills a TaskManager container's process with SIGKILL while the
// job runs: the AM must report the container lost, request a replacement, and the job must still
// finish with the exact output.
func TestKilledTaskManagerIsReplaced(t *testing.T) {
	e := setupE2E(t)
	var killed string
	a := countingApp{records: 300_000, keys: 100, every: 1000, rate: 30_000,
		whileRunning: func(t *testing.T, app yarn.ApplicationID) {
			deadline := time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				procs := countingcheck.TaskManagerProcesses(app.String())
				if len(procs) == 2 {
					time.Sleep(3 * time.Second) // let it run and checkpoint a little
					for pid, c := range countingcheck.TaskManagerProcesses(app.String()) {
						if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
							t.Fatalf("kill %d: %v", pid, err)
						}
						killed = c
						t.Logf("killed TaskManager %s (pid %d)", c, pid)
						return
					}
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Fatal("the 2 TaskManager processes did not show up within 3 minutes")
		}}
	logs := e.runCounting(t, a)
	tms := tmContainers(logs)
	if len(tms) < 3 {
		t.Errorf("TaskManager containers %v: want a replacement for the killed %s", tms, killed)
	}
	var amLog string
	for k, v := range logs {
		if strings.HasSuffix(k, "/jobmanager.log") {
			amLog = v
		}
	}
	// Either YARN's container report (the AM's driver) or the JobManager (heartbeat timeout, or
	// the TaskManager unreachable at the next deployment) notices the loss first; when the job
	// finishes before the NodeManager's report arrives, the AM reports the container stopped.
	lostSeen := false
	for _, l := range strings.Split(amLog, "\n") {
		if strings.Contains(l, killed) && (strings.Contains(l, "TaskManager container lost") || strings.Contains(l, "TaskManager lost")) {
			lostSeen = true
		}
	}
	if !lostSeen {
		t.Errorf("the AM log does not report %s lost", killed)
	}
}

// stagingGone waits until the AM deleted the staging directory.
func (e *e2e) stagingGone(t *testing.T, staging string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ok, err := fs.Exists(ctx, e.hdfs, staging)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("staging directory %s still exists after the application ended", staging)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestApplicationFailureAndCancel covers the other two final statuses: a job whose TaskManagers
// cannot fit into YARN's largest container fails, and the AM unregisters FAILED with a diagnostic
// naming the option; a job cancelled through REST ends the application KILLED. Both delete the
// staging directory.
func TestApplicationFailureAndCancel(t *testing.T) {
	e := setupE2E(t)
	t.Run("oversized TaskManager fails", func(t *testing.T) {
		r := e.submit(t, countingApp{records: 1000, keys: 10, every: 10, conf: map[string]string{"taskmanager.memory.process.size": "512g"}})
		if r.report.Final != yarn.FinalFailed || !strings.Contains(r.report.Diagnostics, "taskmanager.memory.process.size") {
			t.Fatalf("state %s final %s diagnostics %q: want FAILED naming taskmanager.memory.process.size", r.report.State, r.report.Final, r.report.Diagnostics)
		}
		e.stagingGone(t, r.staging)
	})
	t.Run("cancelled job ends KILLED", func(t *testing.T) {
		a := countingApp{records: 10_000_000, keys: 10, every: 1000, rate: 1000,
			whileRunning: func(t *testing.T, app yarn.ApplicationID) {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				rep, err := e.rm.WaitForState(ctx, app, 300*time.Millisecond, func(r yarn.ApplicationReport) bool { return r.State == yarn.StateRunning })
				if err != nil || rep.State != yarn.StateRunning {
					t.Fatalf("waiting for RUNNING: %v %s", err, rep.State)
				}
				rest := fmt.Sprintf("http://%s:%d", rep.Host, rep.RPCPort)
				var jobs struct {
					Jobs []struct {
						ID     string `json:"id"`
						Status string `json:"status"`
					} `json:"jobs"`
				}
				for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
					getJSON(t, rest+"/jobs", &jobs)
					if len(jobs.Jobs) == 1 && jobs.Jobs[0].Status == "RUNNING" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("job not RUNNING: %+v", jobs)
					}
				}
				req, _ := http.NewRequest(http.MethodPatch, rest+"/jobs/"+jobs.Jobs[0].ID+"?mode=cancel", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 202 {
					t.Fatalf("cancel: %s", resp.Status)
				}
			}}
		r := e.submit(t, a)
		if r.report.Final != yarn.FinalKilled || !strings.Contains(r.report.Diagnostics, "cancelled") {
			t.Fatalf("state %s final %s diagnostics %q: want KILLED", r.report.State, r.report.Final, r.report.Diagnostics)
		}
		e.stagingGone(t, r.staging)
	})
}
