package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/yarn"
)

// TestYarnMore holds the remaining YARN acceptance checks: application mode at -p 4 with
// checkpoints on HDFS (and the idle RSS of the AM and TaskManager processes) on the shared
// mini-cluster, and a job that survives the loss of a NodeManager on a private mini-cluster of
// its own (the stopped node stays down until that cluster stops, so no other test may see it).
func TestYarnMore(t *testing.T) {
	yarnCluster = testbed.Require(t)
	defer func() { yarnCluster = nil }()
	t.Run("ApplicationP4AndRSS", testYarnApplicationP4AndRSS)
	t.Run("StopNodeManager", testYarnStopNodeManager)
}

// containerProc is a process of a YARN container of one application, found through /proc.
type containerProc struct {
	pid       int
	role      string // FLINK_GO_ROLE
	container string // CONTAINER_ID
	node      string // NM_HOST:NM_PORT
	exe       string
}

// containerProcs lists the non-shell processes whose CONTAINER_ID belongs to appID.
func containerProcs(appID string) []containerProc {
	prefix := "container_" + strings.TrimPrefix(appID, "application_") + "_"
	ents, _ := os.ReadDir("/proc")
	var out []containerProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		env := map[string]string{}
		for _, kv := range strings.Split(string(data), "\x00") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		cid := env["CONTAINER_ID"]
		if !strings.HasPrefix(cid, prefix) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		switch filepath.Base(exe) {
		case "bash", "sh", "dash", "":
			continue
		}
		out = append(out, containerProc{pid: pid, role: env["FLINK_GO_ROLE"], container: cid,
			node: env["NM_HOST"] + ":" + env["NM_PORT"], exe: exe})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].container < out[j].container })
	return out
}

// statusKB reads a "<field>: N kB" line of /proc/<pid>/status.
func statusKB(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// runDetached starts a detached application and returns its application id.
func (y *yarnTB) runDetached(t *testing.T, args ...string) string {
	t.Helper()
	r := y.cli(t, 3*time.Minute, nil, nil, args...)
	am := regexp.MustCompile(`YARN application (application_\d+_\d+)`).FindStringSubmatch(r.stdout)
	if r.code != 0 || am == nil {
		t.Fatalf("detached run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return am[1]
}

// waitEnd waits for the application to end and returns its report.
func (y *yarnTB) waitEnd(t *testing.T, appID string, timeout time.Duration) yarn.ApplicationReport {
	t.Helper()
	id, err := yarn.ParseApplicationID(appID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := y.rm.WaitForState(ctx, id, 500*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil {
		t.Fatalf("%s did not end: %s %v", appID, rep.State, err)
	}
	return rep
}

// countingSucceeded waits for the application of a counting job to end SUCCEEDED, checks its
// output under the test's HDFS directory (out/) for exactness (what names it in the message),
// and that nothing of the application is left; it returns the output lines.
func (y *yarnTB) countingSucceeded(t *testing.T, appID string, timeout time.Duration, what string, records, keys, every int64) []string {
	t.Helper()
	rep := y.waitEnd(t, appID, timeout)
	if rep.Final != yarn.FinalSucceeded {
		t.Fatalf("%s ended %s/%s: %s", appID, rep.State, rep.Final, rep.Diagnostics)
	}
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, what, got, records, keys, every)
	y.awaitNothingLeft(t)
	return got
}

// testYarnApplicationP4AndRSS: application mode at -p 4 (4 TaskManagers of one slot, 256 MB
// each, next to a 256 MB AM on the 2 x 4096 MB NodeManagers) with checkpoints on HDFS; the
// output is exact. While the rate-limited job runs, the VmRSS of the AM and the TaskManager
// processes is sampled.
func testYarnApplicationP4AndRSS(t *testing.T) {
	y := setupYarn(t)
	const records, keys, every = 40_000, 40, 100
	base := "hdfs://" + y.fs.Authority() + y.dir
	appID := y.runDetached(t, append(append([]string{"run", "-t", "yarn-application", "-d", "-p", "4"},
		y.dflags("execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "1000",
		"--output", base+"/out")...)

	// Sample while the job runs: wait for the AM and 4 TaskManagers, let them settle, sample.
	type sample struct{ rss, hwm int64 }
	maxRSS := map[string]sample{}
	var procs []containerProc
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		procs = containerProcs(appID)
		tms := 0
		for _, p := range procs {
			if p.role != "yarn-application" {
				tms++
			}
		}
		if tms >= 4 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(procs) < 5 {
		t.Fatalf("found %d container processes of %s, want the AM and 4 TaskManagers: %+v", len(procs), appID, procs)
	}
	time.Sleep(5 * time.Second) // past start-up and the first checkpoints
	for i := 0; i < 10; i++ {
		for _, p := range containerProcs(appID) {
			rss, err1 := statusKB(p.pid, "VmRSS")
			hwm, err2 := statusKB(p.pid, "VmHWM")
			if err1 != nil || err2 != nil {
				continue // the process ended between the scan and the read
			}
			key := p.role + " " + p.container
			s := maxRSS[key]
			maxRSS[key] = sample{max(s.rss, rss), max(s.hwm, hwm)}
		}
		time.Sleep(time.Second)
	}
	var keysSorted []string
	for k := range maxRSS {
		keysSorted = append(keysSorted, k)
	}
	sort.Strings(keysSorted)
	for _, k := range keysSorted {
		t.Logf("RSS %s: max VmRSS %.1f MB, VmHWM %.1f MB", k, float64(maxRSS[k].rss)/1024, float64(maxRSS[k].hwm)/1024)
		if maxRSS[k].rss > 64*1024 {
			t.Errorf("%s: VmRSS %.1f MB is above the 64 MB target", k, float64(maxRSS[k].rss)/1024)
		}
	}
	if st, err := os.Stat(bin("counting")); err == nil {
		t.Logf("job binary: %.1f MB", float64(st.Size())/(1<<20))
	}

	got := y.countingSucceeded(t, appID, 4*time.Minute, "output", records, keys, every)
	t.Logf("-p 4: %d output lines exact", len(got))
}

// stopNodeManagerOptions shape the private cluster of testYarnStopNodeManager: 3 NodeManagers
// of 1024 MB hold 4 containers of 256 MB each, so the AM and 4 TaskManagers cannot share one
// node (some TaskManager runs on a node without the AM, the one to stop) and the two surviving
// nodes hold every replacement. The RM declares a silent node LOST after 10 s.
var stopNodeManagerOptions = testbed.PrivateOptions{NodeManagers: 3, NMMemoryMB: 1024, NMVCores: 4, NMExpiry: 10 * time.Second}

// testYarnStopNodeManager stops the NodeManager that runs TaskManagers (but not the AM) of a
// running application-mode counting job with checkpoints on HDFS, on a private mini-cluster:
// the job recovers on new containers of the surviving nodes and its output is exactly once.
func testYarnStopNodeManager(t *testing.T) {
	began := time.Now()
	pc := testbed.RequirePrivate(t, stopNodeManagerOptions)
	clusterUp := time.Since(began)
	y := setupYarnOn(t, pc)
	const records, keys, every = 20_000, 20, 100
	base := "hdfs://" + y.fs.Authority() + y.dir
	submitted := time.Now()
	appID := y.runDetached(t, append(append([]string{"run", "-t", "yarn-application", "-d", "-p", "4"},
		y.dflags("execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt",
			"restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=20", "restart-strategy.fixed-delay.delay=1s",
			// The JobManager learns of the lost TaskManagers when a deployment to one fails, from
			// their heartbeat timeout (50 s by default, longer than 20 restarts at 1 s), or from the
			// containers' completion, which the RM reports only once it declares the node LOST
			// (10 s here).
			"heartbeat.interval=1s", "heartbeat.timeout=5s")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "1000",
		"--output", base+"/out")...)
	logAMOnFailure(t, pc, appID)

	// Wait for a committed checkpoint (the first part file): all 4 TaskManagers run by then.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	first := y.firstOutput(ctx, y.dir+"/out")
	cancel()
	if first.IsZero() {
		t.Fatalf("no committed output of %s within 2 minutes", appID)
	}
	nodeIndex := map[string]int{}
	for i := 0; ; i++ {
		a := pc.Property("yarn.nm." + strconv.Itoa(i) + ".address")
		if a == "" {
			break
		}
		nodeIndex[a] = i
	}
	var amNode string
	tmsOn := map[string][]string{}
	before := map[string]bool{}
	for _, p := range containerProcs(appID) {
		if p.role == "yarn-application" {
			amNode = p.node
		} else {
			tmsOn[p.node] = append(tmsOn[p.node], p.container)
			before[p.container] = true
		}
	}
	// The victim: the node without the AM that runs the most TaskManagers (ties by name).
	victim := ""
	for n, cs := range tmsOn {
		if n != amNode && (victim == "" || len(cs) > len(tmsOn[victim]) || len(cs) == len(tmsOn[victim]) && n < victim) {
			victim = n
		}
	}
	t.Logf("AM on %s, TaskManagers %v, NodeManagers %v", amNode, tmsOn, nodeIndex)
	if amNode == "" || len(before) != 4 {
		t.Fatalf("found the AM on %q and %d TaskManager processes of %s, want the AM and 4", amNode, len(before), appID)
	}
	if victim == "" {
		t.Fatalf("every TaskManager of %s runs on the AM's node %s, which NodeManagers of %d MB should make impossible: are containers larger than 256 MB?",
			appID, amNode, stopNodeManagerOptions.NMMemoryMB)
	}
	idx, ok := nodeIndex[victim]
	if !ok {
		t.Fatalf("TaskManager node %s is not among the NodeManagers %v", victim, nodeIndex)
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	err := pc.StopNodeManager(sctx, idx)
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Logf("stopped NodeManager %d (%s), which ran %d TaskManagers, %s after the submission", idx, victim,
		len(tmsOn[victim]), stopped.Sub(submitted).Round(time.Millisecond))

	// New TaskManager containers come up on the surviving nodes; the RM declares the node lost.
	replaced, lost, ended := 0, time.Duration(0), false
	id, err := yarn.ParseApplicationID(appID)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && (replaced < len(tmsOn[victim]) || lost == 0); time.Sleep(500 * time.Millisecond) {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := y.rm.GetApplicationReport(rctx, id)
		if lost == 0 {
			if nodes, err := pc.Nodes(rctx); err == nil {
				for _, n := range nodes {
					if n.ID == victim && n.State != "RUNNING" {
						lost = time.Since(stopped)
						t.Logf("the RM reports %s %s after %s", victim, n.State, lost.Round(time.Millisecond))
					}
				}
			}
		}
		rcancel()
		if err == nil && rep.State.Terminal() {
			ended = true
			break
		}
		for _, p := range containerProcs(appID) {
			if p.role != "yarn-application" && !before[p.container] {
				before[p.container] = true
				if p.node == victim {
					t.Errorf("new TaskManager %s on the stopped node %s", p.container, victim)
				}
				replaced++
				t.Logf("replacement TaskManager %s on %s after %s", p.container, p.node, time.Since(stopped).Round(time.Millisecond))
			}
		}
	}
	if replaced < len(tmsOn[victim]) && !ended {
		// The job cannot run at -p 4 without a replacement for every lost TaskManager: fail now
		// rather than wait for an end that will not come.
		t.Fatalf("%d of the %d lost TaskManagers replaced within 2 minutes of the NodeManager stop: did the AM ask the RM for every replacement?",
			replaced, len(tmsOn[victim]))
	}
	got := y.countingSucceeded(t, appID, 3*time.Minute, "output after the NodeManager stop", records, keys, every)
	t.Logf("recovered from the NodeManager stop; %d output lines exactly once; private cluster up in %s, first output %s after the submission, job ended %s after the stop, %s in all",
		len(got), clusterUp.Round(time.Millisecond), first.Sub(submitted).Round(time.Millisecond),
		time.Since(stopped).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
