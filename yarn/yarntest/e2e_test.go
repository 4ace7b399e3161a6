package yarntest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/yarncli"
	"github.com/urfave/cli/v2"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// env is what every test needs: the cluster, its client config and an RM client.
type env struct {
	cluster *testbed.Cluster
	cfg     yarn.Config
	rm      *yarn.ClientRM
}

func setup(t *testing.T) *env {
	t.Helper()
	c := testbed.Require(t)
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
	return &env{cluster: c, cfg: cfg, rm: rm}
}

var (
	buildOnce sync.Once
	builtAM   string
	buildErr  error
)

// buildTestAM compiles yarntest/testam into a static binary (once per test run).
func buildTestAM(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flinkgo-testam-")
		if err != nil {
			buildErr = err
			return
		}
		builtAM = filepath.Join(dir, "testam")
		cmd := exec.Command("go", "build", "-o", builtAM, "./testam")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./testam: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtAM
}

// upload copies the test AM to HDFS under a per-application directory and returns it as a
// LocalResource whose size and timestamp come from the NameNode.
func (e *env) upload(t *testing.T, local string, app yarn.ApplicationID) yarn.LocalResource {
	t.Helper()
	client, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: []string{e.cluster.NameNodeAddress()}, User: yarn.UserFromEnv()})
	if err != nil {
		t.Fatalf("HDFS client for %s: %v", e.cluster.NameNodeAddress(), err)
	}
	defer client.Close()
	dir := "/tmp/flink-go-yarntest/" + app.String()
	if err := client.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", dir, err)
	}
	dst := dir + "/testam"
	src, err := os.Open(local)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w, err := client.CreateFile(dst, 1, 128<<20, 0o755)
	if err != nil {
		t.Fatalf("create %s: %v", dst, err)
	}
	if _, err := io.Copy(w, src); err != nil {
		t.Fatalf("write %s: %v", dst, err)
	}
	// Close may report that the NameNode has not yet seen all blocks replicated; retry it.
	for i := 0; ; i++ {
		err := w.Close()
		if err == nil {
			break
		}
		if !errors.Is(err, gohdfs.ErrReplicating) || i == 50 {
			t.Fatalf("close %s: %v", dst, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err := client.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: []string{e.cluster.NameNodeAddress()}, User: yarn.UserFromEnv()}); err == nil {
			_ = c.RemoveAll(dir)
			c.Close()
		}
	})
	return yarn.LocalResource{
		URL:       strings.TrimSuffix(e.cluster.DefaultFS(), "/") + dst,
		Size:      st.Size(),
		Timestamp: st.ModTime().UnixMilli(),
	}
}

// submitTestAM submits the test AM with the given mode environment and waits for it to end.
func (e *env) submitTestAM(t *testing.T, name string, amEnv map[string]string) (yarn.ApplicationID, yarn.ApplicationReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := buildTestAM(t)
	app, err := e.rm.GetNewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := e.upload(t, bin, app.ID)
	envv := map[string]string{
		"TESTAM_SCHEDULER": strings.Join(e.cfg.SchedulerAddresses, ","),
		"HADOOP_USER_NAME": e.cfg.User,
	}
	for k, v := range amEnv {
		envv[k] = v
	}
	sub := yarn.Submission{
		ID:          app.ID,
		Name:        name,
		Type:        "flink-go-test",
		Tags:        []string{"yarntest"},
		AMResource:  yarn.Resource{MemoryMB: 256, VCores: 1},
		MaxAttempts: 1,
		AM: yarn.ContainerLaunchContext{
			LocalResources: map[string]yarn.LocalResource{"testam": res},
			Environment:    envv,
			Commands:       []string{"./testam 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
		},
	}
	if err := e.rm.SubmitApplication(ctx, sub); err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted %s", app.ID)
	rep, err := e.rm.WaitForState(ctx, app.ID, 500*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil {
		t.Fatalf("waiting for %s: %v", app.ID, err)
	}
	t.Logf("%s ended: state=%s final=%s diagnostics=%q", app.ID, rep.State, rep.Final, rep.Diagnostics)
	return app.ID, rep
}

// TestAMRunsContainers: the AM localizes from HDFS, registers, gets 3 containers, runs
// `sh -c 'exit N'` in each, collects the exit codes from allocate's completed statuses and
// unregisters SUCCEEDED with the codes in its diagnostics. Then `flink-go yarn apps` lists it.
func TestAMRunsContainers(t *testing.T) {
	e := setup(t)
	id, rep := e.submitTestAM(t, "yarntest-exits", map[string]string{"TESTAM_MODE": "exits", "TESTAM_EXITS": "0,3,7"})
	if rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded {
		t.Fatalf("%s: state %s final %s, diagnostics %q", id, rep.State, rep.Final, rep.Diagnostics)
	}
	if !strings.Contains(rep.Diagnostics, "exits=0,3,7") || !strings.Contains(rep.Diagnostics, "containers=3") {
		t.Fatalf("AM report %q: want exit codes 0,3,7 from exactly 3 containers", rep.Diagnostics)
	}
	if rep.Type != "flink-go-test" || rep.Name != "yarntest-exits" {
		t.Errorf("report type %q name %q", rep.Type, rep.Name)
	}

	// (3) flink-go yarn apps, in-process, lists it with type, state and tracking URL.
	var out bytes.Buffer
	app := &cli.App{Name: "flink-go", Commands: yarncli.Commands(), Writer: &out, ErrWriter: &out}
	if err := app.Run([]string{"flink-go", "yarn", "--conf-dir", e.cluster.ConfDir(), "apps", "--state", "FINISHED", "--type", "flink-go-test"}); err != nil {
		t.Fatalf("flink-go yarn apps: %v\n%s", err, out.String())
	}
	t.Logf("flink-go yarn apps:\n%s", out.String())
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, id.String()) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("%s not listed:\n%s", id, out.String())
	}
	for _, want := range []string{"flink-go-test", "FINISHED", "SUCCEEDED", rep.TrackingURL} {
		if want != "" && !strings.Contains(line, want) {
			t.Errorf("row %q lacks %q", line, want)
		}
	}
	if rep.TrackingURL == "" {
		t.Error("report has no tracking URL")
	}
	out.Reset()
	if err := app.Run([]string{"flink-go", "yarn", "--conf-dir", e.cluster.ConfDir(), "nodes"}); err != nil || !strings.Contains(out.String(), "Total Nodes:2") {
		t.Errorf("flink-go yarn nodes: %v\n%s", err, out.String())
	}
}

// TestAMStopsContainer: the AM starts a long-running container, stops it through the NM
// (stopContainers) and sees its completion status in allocate.
func TestAMStopsContainer(t *testing.T) {
	e := setup(t)
	id, rep := e.submitTestAM(t, "yarntest-stop", map[string]string{"TESTAM_MODE": "stop"})
	if rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded {
		t.Fatalf("%s: state %s final %s, diagnostics %q", id, rep.State, rep.Final, rep.Diagnostics)
	}
	if !strings.Contains(rep.Diagnostics, "before=RUNNING") || !strings.Contains(rep.Diagnostics, fmt.Sprintf("exit=%d", yarn.ExitKilledByAppMaster)) {
		t.Fatalf("AM report %q: want a RUNNING container completed with exit %d (killed by the AM)", rep.Diagnostics, yarn.ExitKilledByAppMaster)
	}
}

// TestClientRMCalls covers the read-only client calls and kill against the real RM.
func TestClientRMCalls(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := e.rm.GetClusterMetrics(ctx)
	if err != nil || m.NodeManagers != 2 {
		t.Fatalf("metrics %+v, %v", m, err)
	}
	nodes, err := e.rm.GetClusterNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].State != yarn.NodeRunning || nodes[0].Capability.MemoryMB <= 0 {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	q, err := e.rm.GetQueueInfo(ctx, "default", false, false, false)
	if err != nil || q.Name != "default" {
		t.Fatalf("queue %+v, %v", q, err)
	}
	if _, err := e.rm.GetApplicationReport(ctx, yarn.ApplicationID{ClusterTimestamp: 1, ID: 9999}); !errors.Is(err, yarn.ErrApplicationNotFound) {
		t.Fatalf("unknown application: %v", err)
	}
	tok, err := e.rm.GetDelegationToken(ctx, e.cfg.User)
	if err != nil || tok.Kind != "RM_DELEGATION_TOKEN" || len(tok.Identifier) == 0 {
		t.Fatalf("delegation token %v, %v", tok, err)
	}

	// Submit an AM that never starts (its command sleeps) and kill it.
	app, err := e.rm.GetNewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = e.rm.SubmitApplication(ctx, yarn.Submission{
		ID: app.ID, Name: "yarntest-kill", Type: "flink-go-test", AMResource: yarn.Resource{MemoryMB: 128, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"sleep 300"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rm.WaitForState(ctx, app.ID, 200*time.Millisecond, func(r yarn.ApplicationReport) bool {
		return r.State == yarn.StateAccepted || r.State == yarn.StateRunning
	}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cliApp := &cli.App{Name: "flink-go", Commands: yarncli.Commands(), Writer: &out, ErrWriter: &out}
	if err := cliApp.Run([]string{"flink-go", "yarn", "--conf-dir", e.cluster.ConfDir(), "kill", app.ID.String()}); err != nil {
		t.Fatalf("flink-go yarn kill: %v\n%s", err, out.String())
	}
	rep, err := e.rm.GetApplicationReport(ctx, app.ID)
	if err != nil || rep.State != yarn.StateKilled {
		t.Fatalf("after kill: %+v, %v", rep, err)
	}
}

// TestBadAddresses: misconfigurations fail within the timeout with errors naming the address and
// the likely cause.
func TestBadAddresses(t *testing.T) {
	e := setup(t)

	// Nothing listens: connection refused.
	closed := freePort(t)
	start := time.Now()
	err := clientCall(yarn.Config{RMAddresses: []string{closed}, User: e.cfg.User}, 20*time.Second)
	checkErr(t, "closed port", err, start, closed, "yarn.resourcemanager.address")

	// Something accepts and never answers (a hung or non-Hadoop server).
	hung := silentServer(t, false)
	start = time.Now()
	err = clientCall(yarn.Config{RMAddresses: []string{hung}, User: e.cfg.User}, 5*time.Second)
	checkErr(t, "silent server", err, start, hung, "yarn.resourcemanager.address")

	// Something accepts and hangs up at once.
	rude := silentServer(t, true)
	start = time.Now()
	err = clientCall(yarn.Config{RMAddresses: []string{rude}, User: e.cfg.User}, 20*time.Second)
	checkErr(t, "server closing connections", err, start, rude, "yarn.resourcemanager.address")

	// The scheduler port configured as the RM client address: SIMPLE auth is refused there.
	sched := e.cfg.SchedulerAddresses[0]
	start = time.Now()
	err = clientCall(yarn.Config{RMAddresses: []string{sched}, User: e.cfg.User}, 20*time.Second)
	checkErr(t, "scheduler port as RM address", err, start, sched, "token")

	// The right port with the wrong protocol name.
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wrongProto := yarn.WithDialer(func(ctx context.Context, s yarn.DialSpec) (yarn.Conn, error) {
		s.Protocol = "org.apache.hadoop.yarn.api.NoSuchProtocolPB"
		return yarn.DialIPC(ctx, s)
	})
	rm, err := yarn.NewClientRM(ctx, e.cfg, wrongProto)
	if err == nil {
		_, err = rm.GetClusterMetrics(ctx)
		rm.Close()
	}
	checkErr(t, "wrong protocol", err, start, e.cfg.RMAddresses[0], "protocol")
}

func clientCall(cfg yarn.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rm, err := yarn.NewClientRM(ctx, cfg)
	if err != nil {
		return err
	}
	defer rm.Close()
	_, err = rm.GetClusterMetrics(ctx)
	return err
}

func checkErr(t *testing.T, what string, err error, start time.Time, addr, hint string) {
	t.Helper()
	took := time.Since(start)
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	t.Logf("%s: after %v: %v", what, took.Round(time.Millisecond), err)
	if took > 25*time.Second {
		t.Errorf("%s: took %v", what, took)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("%s: error does not name %s: %v", what, addr, err)
	}
	if hint != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(hint)) {
		t.Errorf("%s: error lacks the hint %q: %v", what, hint, err)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts connections and either holds them open silently or closes them at once.
func silentServer(t *testing.T, closeAtOnce bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if closeAtOnce {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}
