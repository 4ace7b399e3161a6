package am

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/yarn"
)

// planGraph runs a job binary in the plan role and returns its serialized job graph.
func planGraph(t *testing.T, bin string, conf map[string]string, args []string) []byte {
	t.Helper()
	cfgJSON, _ := json.Marshal(conf)
	plan := filepath.Join(t.TempDir(), "plan.pb")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), cluster.EnvRole+"="+cluster.RolePlan, cluster.EnvPlanFile+"="+plan, cluster.EnvJobConfig+"="+string(cfgJSON))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("planning %s: %v\n%s", bin, err, out)
	}
	b, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func getJSON(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

// TestSessionRunsJobFromArtifact starts a session AM (am.RunSession in a small binary, as
// `flink-go yarn-session-am` runs it), submits the counting job through REST with its binary's
// staging URI as artifact, and checks the exact output, that the job's TaskManager containers
// are stopped and dropped when it ends, and that `yarn application -kill` ends the session with
// its staging directory deleted.
func TestSessionRunsJobFromArtifact(t *testing.T) {
	e := setupE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sessionBin := buildBinary(t, "./internal/sessionam", "flink-go")
	jobBin := buildCounting(t)
	app := e.newApp(ctx, t, map[string]string{"flink-go": sessionBin, "jobs/1/counting": jobBin})
	staging, work := app.staging, app.work
	sessionConf, _ := json.Marshal(map[string]string{
		"taskmanager.numberOfTaskSlots":   "1",
		"taskmanager.memory.process.size": "256m",
	})
	env := map[string]string{
		cluster.EnvJobConfig: string(sessionConf),
		EnvStagingDir:        e.fs + staging,
		EnvScheduler:         strings.Join(e.cfg.SchedulerAddresses, ","),
		yarn.EnvHadoopUser:   e.user,
		cluster.EnvLogLevel:  "debug",
	}
	for k, v := range env {
		env[k] = EscapeEnvValue(v)
	}
	sub := yarn.Submission{
		ID: app.ID, Name: "am-e2e-session", Type: "flink-go", AMResource: yarn.Resource{MemoryMB: 256, VCores: 1}, MaxAttempts: 1,
		AM: yarn.ContainerLaunchContext{
			LocalResources: map[string]yarn.LocalResource{"flink-go": app.resources["flink-go"]},
			Environment:    env,
			Commands:       []string{"./flink-go 1><LOG_DIR>/jobmanager.out 2><LOG_DIR>/jobmanager.log"},
		},
	}
	if err := e.rm.SubmitApplication(ctx, sub); err != nil {
		t.Fatal(err)
	}
	defer e.onFailure(t, app.ID, ".log", 8000, "am session test failed")
	rep, err := e.rm.WaitForState(ctx, app.ID, 300*time.Millisecond, func(r yarn.ApplicationReport) bool { return r.State == yarn.StateRunning })
	if err != nil {
		t.Fatal(err)
	}
	if rep.State != yarn.StateRunning {
		t.Fatalf("session %s: state %s, diagnostics %q", app.ID, rep.State, rep.Diagnostics)
	}
	rest := "http://" + net.JoinHostPort(rep.Host, strconv.Itoa(int(rep.RPCPort)))
	if rep.TrackingURL == "" {
		t.Errorf("no tracking URL in the report")
	}
	t.Logf("session %s running, REST at %s", app.ID, rest)

	const records, keys, every = 100_000, 50, 1000
	out := e.fs + work + "/out"
	graph := planGraph(t, jobBin, map[string]string{
		"parallelism.default":              "2",
		"execution.checkpointing.interval": "500ms",
		"execution.checkpointing.dir":      e.fs + work + "/checkpoints",
	}, []string{"--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--output", out})
	artifact := e.fs + staging + "/jobs/1/counting"
	resp, err := http.Post(rest+"/jobs?artifact="+url.QueryEscape(artifact), "application/x-protobuf", bytes.NewReader(graph))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %s %s", resp.Status, body)
	}
	var sub202 struct {
		JobID string `json:"jobid"`
	}
	if err := json.Unmarshal(body, &sub202); err != nil || sub202.JobID == "" {
		t.Fatalf("submit answer %s: %v", body, err)
	}
	var state string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var job struct {
			State string `json:"state"`
		}
		getJSON(t, rest+"/jobs/"+sub202.JobID, &job)
		state = job.State
		if state == "FINISHED" || state == "FAILED" || state == "CANCELED" {
			break
		}
	}
	if state != "FINISHED" {
		var exc any
		getJSON(t, rest+"/jobs/"+sub202.JobID+"/exceptions", &exc)
		t.Fatalf("job %s ended %s: %v", sub202.JobID, state, exc)
	}
	got, want := e.committed(t, out), countingcheck.Expected(records, keys, every)
	if !slices.Equal(got, want) {
		t.Fatalf("output: %d lines, want %d (first difference somewhere)", len(got), len(want))
	}
	// The job's TaskManagers are stopped and leave the JobManager without a heartbeat timeout.
	var tms struct {
		TaskManagers []map[string]any `json:"taskmanagers"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		getJSON(t, rest+"/taskmanagers", &tms)
		if len(tms.TaskManagers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TaskManagers still registered 20 s after the job ended: %v", tms.TaskManagers)
		}
	}
	// yarn application -kill: the session ends KILLED and deletes its staging directory.
	if err := e.rm.KillApplication(ctx, app.ID, "am session test done"); err != nil {
		t.Fatal(err)
	}
	rep, err = e.rm.WaitForState(ctx, app.ID, 300*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if rep.State != yarn.StateKilled {
		t.Errorf("after kill: state %s", rep.State)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		ok, err := fs.Exists(ctx, e.hdfs, staging)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("staging directory %s still there after the session was killed", staging)
		}
	}
}
