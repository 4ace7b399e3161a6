package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/client"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/yarn"
)

// yarnTB is one YARN test's view of the mini-cluster: an RM client, HDFS, and a staging
// directory and tag of its own, so that "nothing is left behind" can be checked exactly.
type yarnTB struct {
	c       *testbed.Cluster
	rm      *yarn.ClientRM
	fs      *hdfs.FileSystem
	home    string // FLINK_GO_HOME of the CLI runs
	staging string // yarn.staging-directory
	tag     string // yarn.tags
	dir     string // HDFS directory for the test's output
}

// yarnCluster is the mini-cluster TestYarnE2E holds for its subtests. Subtests must not call
// testbed.Require themselves: leases are per process, so a subtest's release would drop the
// parent's lease and stop the cluster between subtests.
var yarnCluster *testbed.Cluster

func setupYarn(t *testing.T) *yarnTB {
	t.Helper()
	c := yarnCluster
	if c == nil {
		c = testbed.Require(t)
	}
	t.Setenv("HADOOP_CONF_DIR", c.ConfDir())
	t.Setenv("YARN_CONF_DIR", "")
	t.Setenv("HADOOP_HOME", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := yarn.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	rm, err := yarn.NewClientRM(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rm.Close() })
	fsys, err := hdfs.NewFromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsys.Close() })
	id := fmt.Sprintf("%s-%06d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), rand.IntN(1000000))
	y := &yarnTB{c: c, rm: rm, fs: fsys, home: t.TempDir(), staging: "/tmp/flink-go-yarn-client/" + id + "/staging", tag: id,
		dir: "/tmp/flink-go-yarn-client/" + id}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Kill whatever a failed test left running, then remove its files.
		for _, a := range y.apps(t) {
			if !a.State.Terminal() {
				_ = rm.KillApplication(ctx, a.ID, "test cleanup")
			}
		}
		_ = fsys.Delete(ctx, y.dir, true)
	})
	return y
}

// dflags are the -D options every CLI run of the test passes: its staging dir and tag, and
// small containers.
func (y *yarnTB) dflags(extra ...string) []string {
	out := []string{"-D", "yarn.staging-directory=" + y.staging, "-D", "yarn.tags=" + y.tag,
		"-D", "jobmanager.memory.process.size=256m", "-D", "taskmanager.memory.process.size=256m", "-D", "yarn.file-replication=1"}
	for _, e := range extra {
		out = append(out, "-D", e)
	}
	return out
}

func (y *yarnTB) conf(t *testing.T, extra ...string) *configs.Configuration {
	t.Helper()
	c := configs.New()
	f := y.dflags(extra...)
	for i := 1; i < len(f); i += 2 {
		k, v, _ := strings.Cut(f[i], "=")
		if err := c.Set(k, v, configs.CodeOrigin("test")); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// apps lists the applications carrying the test's tag.
func (y *yarnTB) apps(t *testing.T) []yarn.ApplicationReport {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	apps, err := y.rm.GetApplications(ctx, yarn.AppFilter{Tags: []string{y.tag}})
	if err != nil {
		t.Errorf("listing applications: %v", err)
	}
	return apps
}

// stagedApps lists the application directories under the test's staging dir.
func (y *yarnTB) stagedApps(t *testing.T) []string {
	t.Helper()
	list, err := y.fs.List(context.Background(), path.Join(y.staging, ".flink-go"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range list {
		out = append(out, path.Base(f.Path))
	}
	return out
}

// assertNothingLeft: no application of the test runs and no staging directory is left.
func (y *yarnTB) assertNothingLeft(t *testing.T) {
	t.Helper()
	for _, a := range y.apps(t) {
		if !a.State.Terminal() {
			t.Errorf("application %s is still %s", a.ID, a.State)
		}
	}
	if s := y.stagedApps(t); len(s) > 0 {
		t.Errorf("staging directories left behind: %v", s)
	}
}

// awaitNothingLeft gives the AM, which deletes its staging directory after unregistering, up to
// 5 s to do so, then asserts that nothing is left.
func (y *yarnTB) awaitNothingLeft(t *testing.T) {
	t.Helper()
	for i := 0; i < 50 && len(y.stagedApps(t)) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	y.assertNothingLeft(t)
}

// cli runs the flink-go CLI with the test's FLINK_GO_HOME and HADOOP_CONF_DIR.
func (y *yarnTB) cli(t *testing.T, timeout time.Duration, stdin io.Reader, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	cmd.Env = append(append(os.Environ(), "FLINK_GO_HOME="+y.home, "FLINK_CONF_DIR="), env...)
	bounded(cmd)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("flink-go %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// writeConfDir writes a Hadoop conf dir with the given properties in core-site.xml and
// yarn-site.xml.
func writeConfDir(t *testing.T, core, site map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, props := range map[string]map[string]string{"core-site.xml": core, "yarn-site.xml": site} {
		var b strings.Builder
		b.WriteString("<configuration>\n")
		for k, v := range props {
			fmt.Fprintf(&b, "<property><name>%s</name><value>%s</value></property>\n", k, v)
		}
		b.WriteString("</configuration>\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readSite(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	re := regexp.MustCompile(`(?s)<name>\s*(.*?)\s*</name>\s*<value>\s*(.*?)\s*</value>`)
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestYarnE2E runs the YARN client end to end against the Hadoop mini-cluster. The parent test
// holds one lease on the cluster, so it is not stopped and restarted between the subtests.
func TestYarnE2E(t *testing.T) {
	yarnCluster = testbed.Require(t)
	defer func() { yarnCluster = nil }()
	t.Run("BadInput", testYarnBadInput)
	t.Run("StagingLayoutAndInterruptedDeployment", testYarnStagingLayoutAndInterruptedDeployment)
	t.Run("LaunchContext", testYarnLaunchContext)
	t.Run("SIGTERMDuringDeployment", testYarnSIGTERMDuringDeployment)
	t.Run("ApplicationCounting", testYarnApplicationCounting)
	t.Run("Session", testYarnSession)
	t.Run("ApplicationJobFails", testYarnApplicationJobFails)
	t.Run("ApplicationDetachedListCancel", testYarnApplicationDetachedListCancel)
	t.Run("SessionAttachedInterrupt", testYarnSessionAttachedInterrupt)
}

// testYarnBadInput: every bad input fails with a non-zero exit and a message naming the cause,
// and leaves no application and no staging directory behind.
func testYarnBadInput(t *testing.T) {
	y := setupYarn(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "notexec")
	notJob := filepath.Join(dir, "notajob")
	_ = os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	_ = os.WriteFile(notJob, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	out := "hdfs://" + y.fs.Authority() + y.dir + "/out"
	core := readSite(t, filepath.Join(y.c.ConfDir(), "core-site.xml"))
	site := readSite(t, filepath.Join(y.c.ConfDir(), "yarn-site.xml"))
	badRM := map[string]string{}
	for k, v := range site {
		badRM[k] = v
	}
	badRM["yarn.resourcemanager.address"] = closedPort(t)
	badFS := map[string]string{}
	for k, v := range core {
		badFS[k] = v
	}
	badFS["fs.defaultFS"] = "hdfs://" + closedPort(t)

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"missing binary", nil, []string{filepath.Join(dir, "nope")}, 2, "does not exist"},
		{"not executable", nil, []string{notExec}, 2, "is not executable"},
		{"not a flink-go job", nil, []string{notJob}, 2, "without building a job graph"},
		{"memory above the maximum", nil, append(y.dflags("taskmanager.memory.process.size=8192m"), bin("counting"), "--output", out), 2,
			"taskmanager.memory.process.size 8192 MB exceeds yarn.scheduler.maximum-allocation-mb 4096 MB"},
		{"unknown queue", nil, append(y.dflags("yarn.application.queue=no-such-queue"), bin("counting"), "--output", out), 2,
			`yarn.application.queue="no-such-queue" is not a queue of the scheduler`},
		{"parent queue", nil, append(y.dflags("yarn.application.queue=root"), bin("counting"), "--output", out), 2,
			`yarn.application.queue="root" is a parent queue; applications go to leaf queues (default)`},
		{"unreachable RM", []string{"HADOOP_CONF_DIR=" + writeConfDir(t, core, badRM)}, append(y.dflags(), bin("counting"), "--output", out), 1,
			"is HADOOP_CONF_DIR set? is yarn.resourcemanager.address right?"},
		{"no Hadoop configuration", []string{"HADOOP_CONF_DIR=" + t.TempDir()}, append(y.dflags(), bin("counting"), "--output", out), 1,
			"set HADOOP_CONF_DIR or YARN_CONF_DIR"},
		{"HDFS unavailable", []string{"HADOOP_CONF_DIR=" + writeConfDir(t, badFS, site)}, append(y.dflags(), bin("counting"), "--output", out), 1,
			"HDFS unavailable"},
	}
	r := y.cli(t, time.Minute, nil, nil, "run-application", "-t", "yarn-session", bin("counting"))
	if r.code != 2 || !strings.Contains(r.stderr, "run-application supports target yarn-application only") {
		t.Errorf("run-application -t yarn-session: exit %d\n%s", r.code, r.stderr)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := y.cli(t, 90*time.Second, nil, tc.env, append([]string{"run", "-t", "yarn-application"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr does not contain %q:\n%s", r.code, tc.code, tc.want, r.stderr)
			}
			t.Logf("%s: exit %d after %s: %s", tc.name, r.code, time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
		})
	}
	y.assertNothingLeft(t)
	if n := len(y.apps(t)); n != 0 {
		t.Errorf("%d applications were submitted for bad input", n)
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// testYarnStagingLayoutAndInterruptedDeployment deploys in-process, inspects the staging
// directory right after submitApplication (layout, permissions, replication, config.json), then
// interrupts the deployment: the application ends KILLED and the staging directory is gone.
func testYarnStagingLayoutAndInterruptedDeployment(t *testing.T) {
	y := setupYarn(t)
	ship := filepath.Join(t.TempDir(), "lookup.txt")
	if err := os.WriteFile(ship, []byte("ship me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	d, err := client.ConnectYarn(ctx, &progress)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	var seen yarn.ApplicationID
	d.AfterSubmit = func(id yarn.ApplicationID) {
		defer interrupt() // Ctrl-C right after the submission
		seen = id
		dir := path.Join(y.staging, ".flink-go", id.String())
		st, err := y.fs.Stat(ctx, dir)
		if err != nil {
			t.Errorf("staging dir: %v", err)
			return
		}
		if st.Mode.Perm() != 0o700 {
			t.Errorf("staging dir %s has mode %v, want 0700", dir, st.Mode.Perm())
		}
		var names []string
		for _, sub := range []string{"", "hadoop-conf"} {
			list, err := y.fs.List(ctx, path.Join(dir, sub))
			if err != nil {
				t.Errorf("list: %v", err)
				return
			}
			for _, f := range list {
				if !f.IsDir {
					names = append(names, path.Join(sub, path.Base(f.Path)))
				}
			}
		}
		sort.Strings(names)
		want := []string{"config.json", "counting", "hadoop-conf/core-site.xml", "hadoop-conf/hdfs-site.xml", "hadoop-conf/yarn-site.xml", "lookup.txt"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("staged files %v, want %v", names, want)
		}
		bst, err := y.fs.Client().Stat(path.Join(dir, "counting"))
		if err != nil {
			t.Errorf("stat binary: %v", err)
		} else if lst, _ := os.Stat(bin("counting")); bst.Size() != lst.Size() {
			t.Errorf("staged binary has %d bytes, local %d", bst.Size(), lst.Size())
		}
		f, err := y.fs.Open(ctx, path.Join(dir, "config.json"))
		if err != nil {
			t.Errorf("config.json: %v", err)
			return
		}
		defer f.Close()
		var conf map[string]string
		if err := json.NewDecoder(f).Decode(&conf); err != nil {
			t.Errorf("config.json: %v", err)
		}
		if conf["yarn.application.id"] != id.String() || conf["execution.target"] != "yarn-application" || conf["yarn.tags"] != y.tag {
			t.Errorf("config.json: %v", conf)
		}
	}
	_, err = d.Deploy(dctx, client.YarnDeployRequest{Mode: client.YarnApplicationMode, Binary: bin("counting"),
		Args: []string{"--output", "hdfs://" + y.fs.Authority() + y.dir + "/out"}, Conf: y.conf(t, "yarn.ship-files="+ship), JobID: client.NewJobID()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted deployment: err %v\n%s", err, progress.String())
	}
	if seen.IsZero() {
		t.Fatalf("never submitted:\n%s", progress.String())
	}
	rep, err := y.rm.GetApplicationReport(ctx, seen)
	if err != nil || rep.State != yarn.StateKilled {
		t.Fatalf("after the interruption %s is %s (%v)\n%s", seen, rep.State, err, progress.String())
	}
	y.assertNothingLeft(t)
	t.Logf("progress output:\n%s", progress.String())
}

// testYarnLaunchContext runs a shell script as the "job binary" AM: it prints its arguments and
// the contract's environment, proving that the NodeManager's launch script receives arguments
// and JSON configuration intact, and that stdout/stderr go to jobmanager.out/.log. The script
// exits without registering, so the deployment fails with the RM's diagnostics and the client
// cleans up.
func testYarnLaunchContext(t *testing.T) {
	y := setupYarn(t)
	script := filepath.Join(t.TempDir(), "envdump")
	body := `#!/bin/bash
for a in "$@"; do printf 'ARG<%s>\n' "$a"; done
printf 'CONFIG<%s>\n' "$FLINK_GO_JOB_CONFIG"
for v in FLINK_GO_ROLE FLINK_GO_STAGING_DIR FLINK_GO_JOB_BINARY FLINK_GO_JOB_ID FLINK_GO_YARN_SCHEDULER HADOOP_USER_NAME; do printf '%s<%s>\n' "$v" "${!v}"; done
printf 'CONF<%s>\n' "$(cd "$HADOOP_CONF_DIR" && ls)"
printf 'ARCHIVE<%s>\n' "$(cat bundle.tar.gz/inner/data.txt)"
printf 'SHIPPED<%s>\n' "$(cat notes.txt)"
printf 'PROVIDED<%s>\n' "$(cat provided.txt)"
echo to-stderr >&2
exit 3
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"plain", "with space", `"quoted"`, "it's", "$HOME", "`date`", `back\slash`}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A ship file, a ship archive (unpacked by the NodeManager) and a provided lib dir on HDFS.
	tmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(tmp, "inner", "data.txt"), []byte("from the archive"), 0o644)
	_ = os.WriteFile(filepath.Join(tmp, "notes.txt"), []byte("shipped file"), 0o644)
	if out, err := exec.Command("tar", "-czf", filepath.Join(tmp, "bundle.tar.gz"), "-C", tmp, "inner").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	providedDir := y.dir + "/provided"
	w, err := y.fs.Create(ctx, providedDir+"/provided.txt", fs.CreateOptions{Perm: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("pre-uploaded"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	d, err := client.ConnectYarn(ctx, &progress)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var id yarn.ApplicationID
	d.AfterSubmit = func(a yarn.ApplicationID) { id = a }
	jobID := client.NewJobID()
	conf := y.conf(t, `yarn.application.name=env "dump" $x`, "pipeline.name=a \"b\" `c` $d",
		"yarn.ship-files="+filepath.Join(tmp, "notes.txt"), "yarn.ship-archives="+filepath.Join(tmp, "bundle.tar.gz"),
		"yarn.provided.lib.dirs=hdfs://"+y.fs.Authority()+providedDir)
	_, err = d.Deploy(ctx, client.YarnDeployRequest{Mode: client.YarnApplicationMode, Binary: script, Args: args, Conf: conf, JobID: jobID})
	if !errors.Is(err, client.ErrYarnDeployFailed) || !strings.Contains(err.Error(), "exitCode: 3") {
		t.Fatalf("want a failed deployment naming exit code 3, got %v\n%s", err, progress.String())
	}
	y.assertNothingLeft(t)
	logs, err := y.c.ContainerLogs(id.String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr string
	for k, v := range logs {
		switch {
		case strings.HasSuffix(k, "/jobmanager.out"):
			stdout = v
		case strings.HasSuffix(k, "/jobmanager.log"):
			stderr = v
		}
	}
	if strings.TrimSpace(stderr) != "to-stderr" {
		t.Errorf("jobmanager.log = %q", stderr)
	}
	var gotArgs []string
	vals := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)([A-Z_]+)<(.*?)>\n`).FindAllStringSubmatch(stdout, -1) {
		if m[1] == "ARG" {
			gotArgs = append(gotArgs, m[2])
		} else {
			vals[m[1]] = m[2]
		}
	}
	if strings.Join(gotArgs, "|") != strings.Join(args, "|") {
		t.Errorf("arguments %q, want %q", gotArgs, args)
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(vals["CONFIG"]), &cfg); err != nil {
		t.Fatalf("FLINK_GO_JOB_CONFIG %q: %v", vals["CONFIG"], err)
	}
	if cfg["yarn.application.name"] != `env "dump" $x` || cfg["pipeline.name"] != "a \"b\" `c` $d" || cfg["yarn.application.id"] != id.String() {
		t.Errorf("configuration in the container: %v", cfg)
	}
	want := map[string]string{
		"FLINK_GO_ROLE":        "yarn-application",
		"FLINK_GO_STAGING_DIR": "hdfs://" + y.fs.Authority() + path.Join(y.staging, ".flink-go", id.String()),
		"FLINK_GO_JOB_BINARY":  "envdump",
		"FLINK_GO_JOB_ID":      jobID,
		"HADOOP_USER_NAME":     y.fs.User(),
		"CONF":                 "core-site.xml\nhdfs-site.xml\nyarn-site.xml",
		"ARCHIVE":              "from the archive",
		"SHIPPED":              "shipped file",
		"PROVIDED":             "pre-uploaded",
	}
	for k, v := range want {
		if vals[k] != v {
			t.Errorf("%s = %q, want %q", k, vals[k], v)
		}
	}
	if vals["FLINK_GO_YARN_SCHEDULER"] == "" {
		t.Error("FLINK_GO_YARN_SCHEDULER is empty")
	}
}

// stderrWatcher collects a process's stderr and signals when a pattern appears.
type stderrWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	re   *regexp.Regexp
	hit  chan []string
	once sync.Once
}

func (w *stderrWatcher) run(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		w.mu.Lock()
		w.buf.WriteString(line + "\n")
		w.mu.Unlock()
		if m := w.re.FindStringSubmatch(line); m != nil {
			w.once.Do(func() { w.hit <- m })
		}
	}
}

func (w *stderrWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// testYarnSIGTERMDuringDeployment sends SIGTERM to `flink-go run -t yarn-application` right
// after it submitted: it exits 130, the application is KILLED and its staging directory gone.
func testYarnSIGTERMDuringDeployment(t *testing.T) {
	y := setupYarn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(append([]string{"run", "-t", "yarn-application"}, y.dflags()...), bin("counting"), "--records", "100", "--output", "hdfs://"+y.fs.Authority()+y.dir+"/out")
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+y.home)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &stderrWatcher{re: regexp.MustCompile(`Submitted application (application_\d+_\d+)`), hit: make(chan []string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.run(pipe); close(done) }()
	var id yarn.ApplicationID
	select {
	case m := <-w.hit:
		id, _ = yarn.ParseApplicationID(m[1])
		_ = cmd.Process.Signal(syscall.SIGTERM)
	case <-done:
		t.Fatalf("the client ended before submitting:\n%s", w.String())
	case <-ctx.Done():
		t.Fatalf("no submission within 2 minutes:\n%s", w.String())
	}
	<-done
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130\n%s", err, w.String())
	}
	rep, err := y.rm.GetApplicationReport(ctx, id)
	if err != nil || rep.State != yarn.StateKilled {
		t.Fatalf("%s after SIGTERM: %s (%v)\n%s", id, rep.State, err, w.String())
	}
	y.assertNothingLeft(t)
	t.Logf("client output:\n%s", w.String())
}

// hdfsLines reads the committed part files of an output directory on HDFS, sorted.
func (y *yarnTB) hdfsLines(t *testing.T, dir string) []string {
	t.Helper()
	return hdfsPartLines(t, y.fs, dir)
}

// firstOutput polls dir until a committed part file appears and returns when it did.
func (y *yarnTB) firstOutput(ctx context.Context, dir string) time.Time {
	for ctx.Err() == nil {
		if list, err := y.fs.List(ctx, dir); err == nil {
			for _, f := range list {
				if strings.HasPrefix(path.Base(f.Path), "part-") {
					return time.Now()
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}
}

var elapsedRE = regexp.MustCompile(`is RUNNING after ([0-9.]+m?s)`)

// testYarnApplicationCounting is the full application-mode run: `flink-go run -t
// yarn-application -p 2` of the counting example with checkpoints and output on HDFS, attached;
// the client exits 0 when the job finished, the output is exact, and nothing is left behind.
// It logs the time to RUNNING and to the first committed output.
func testYarnApplicationCounting(t *testing.T) {
	y := setupYarn(t)
	const records, keys, every = 200_000, 100, 1000
	base := "hdfs://" + y.fs.Authority() + y.dir
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	firstCh := make(chan time.Time, 1)
	start := time.Now()
	go func() { firstCh <- y.firstOutput(ctx, y.dir+"/out") }()
	r := y.cli(t, 5*time.Minute, nil, nil, append(append([]string{"run", "-t", "yarn-application", "-p", "2"},
		y.dflags("execution.checkpointing.interval=1s", "execution.checkpointing.dir="+base+"/ckpt")...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--rate", "100000",
		"--output", base+"/out")...)
	total := time.Since(start)
	if r.code != 0 || !strings.Contains(r.stdout, "finished") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cancel()
	first := <-firstCh
	got := y.hdfsLines(t, y.dir+"/out")
	checkCounting(t, "output", got, records, keys, every)
	y.assertNothingLeft(t)
	apps := y.apps(t)
	if len(apps) != 1 || apps[0].Final != yarn.FinalSucceeded || apps[0].Type != "flink-go" {
		t.Fatalf("applications: %+v", apps)
	}
	running := "?"
	if m := elapsedRE.FindStringSubmatch(r.stderr); m != nil {
		running = m[1]
	}
	firstS := "none seen"
	if !first.IsZero() {
		firstS = first.Sub(start).Round(time.Millisecond).String()
	}
	t.Logf("timing: RUNNING after %s, first committed output after %s, finished after %s (%d output lines)", running, firstS, total.Round(time.Millisecond), len(got))
	t.Logf("client stderr:\n%s", r.stderr)
}

// testYarnSession is the session flow: a detached session; one job submitted through the
// recorded session (detached, long-running) and one with -t yarn-session
// -Dyarn.application.id (attached, bounded, exact output); list shows them; cancel; stop with
// `echo stop | flink-go yarn-session -id`: FINISHED/SUCCEEDED, staging dir and record gone.
func testYarnSession(t *testing.T) {
	y := setupYarn(t)
	base := "hdfs://" + y.fs.Authority() + y.dir
	t0 := time.Now()
	r, appID, rec := y.startSession(t, append([]string{"-nm", "h12 session", "-s", "2"}, y.dflags()...)...)
	t.Logf("timing: yarn-session -d returned after %s: %s", time.Since(t0).Round(time.Millisecond), strings.TrimSpace(r.stdout))

	// Job 1: through the recorded session (no -t), detached, rate-limited so it keeps running.
	r = y.cli(t, 2*time.Minute, nil, nil, append(append([]string{"run", "-d", "-p", "1"}, y.dflags()...),
		bin("counting"), "--records", "10000000", "--rate", "200", "--output", base+"/out1")...)
	jm := regexp.MustCompile(`JobID ([0-9a-f]{32})`).FindStringSubmatch(r.stdout)
	if r.code != 0 || jm == nil {
		t.Fatalf("run via the recorded session: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	job1 := jm[1]

	// Job 2: -t yarn-session -Dyarn.application.id, attached, bounded: exact output.
	const records, keys, every = 50_000, 20, 500
	t0 = time.Now()
	r = y.cli(t, 3*time.Minute, nil, nil, append(append([]string{"run", "-t", "yarn-session", "-p", "2"}, y.dflags("yarn.application.id="+appID)...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--output", base+"/out2")...)
	if r.code != 0 || !strings.Contains(r.stdout, "finished") {
		t.Fatalf("attached job on the session: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkCounting(t, "job 2 output", y.hdfsLines(t, y.dir+"/out2"), records, keys, every)
	jm = regexp.MustCompile(`JobID ([0-9a-f]{32})`).FindStringSubmatch(r.stdout)
	job2 := jm[1]
	t.Logf("timing: attached job on the session (plan, upload, submit, TaskManager containers, run) took %s", time.Since(t0).Round(time.Millisecond))

	// list (through the recorded session) shows the running job, not the finished one; list -a
	// both. Job 1 may still wait for its TaskManager container on a busy machine.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		r = y.cli(t, time.Minute, nil, nil, "list")
		if r.code == 0 && strings.Contains(r.stdout, job1) && strings.Contains(r.stdout, "RUNNING") && !strings.Contains(r.stdout, job2) {
			break
		}
		if r.code != 0 || strings.Contains(r.stdout, job2) || time.Now().After(deadline) {
			t.Fatalf("list: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	r = y.cli(t, time.Minute, nil, nil, "cancel", "-t", "yarn-session", "-D", "yarn.application.id="+appID, job1)
	if r.code != 0 || !strings.Contains(r.stdout, "Cancelled job "+job1) {
		t.Fatalf("cancel: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = y.cli(t, time.Minute, nil, nil, "list", "-a")
		if strings.Contains(r.stdout, "CANCELED") && strings.Contains(r.stdout, "FINISHED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list -a after cancel:\n%s\n%s", r.stdout, r.stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Stop: echo stop | flink-go yarn-session -id <appId>.
	t0 = time.Now()
	r = y.cli(t, 3*time.Minute, strings.NewReader("stop\n"), nil, append([]string{"yarn-session", "-id", appID}, y.dflags()...)...)
	if r.code != 0 {
		t.Fatalf("stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	id, _ := yarn.ParseApplicationID(appID)
	rep, err := y.rm.GetApplicationReport(context.Background(), id)
	if err != nil || rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded {
		t.Fatalf("session after stop: %s/%s %v\n%s", rep.State, rep.Final, err, r.stderr)
	}
	t.Logf("timing: stop took %s", time.Since(t0).Round(time.Millisecond))
	if rep.Name != "h12 session" || rep.Type != "flink-go" {
		t.Errorf("session report: name %q type %q", rep.Name, rep.Type)
	}
	y.assertNothingLeft(t)
	if _, err := os.Stat(filepath.Join(y.home, "yarn-session.properties")); !os.IsNotExist(err) {
		t.Errorf("the session record was not removed: %v", err)
	}
	// A stale record (the session ended behind the client's back): a clear error, and the
	// record is forgotten.
	if err := os.WriteFile(filepath.Join(y.home, "yarn-session.properties"), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	r = y.cli(t, time.Minute, nil, nil, "list")
	if r.code == 0 || !strings.Contains(r.stderr, "the recorded YARN session "+appID+" has ended (FINISHED/SUCCEEDED)") {
		t.Fatalf("list with a stale record: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(y.home, "yarn-session.properties")); !os.IsNotExist(err) {
		t.Errorf("the stale session record was not removed: %v", err)
	}
}

// testYarnApplicationJobFails: an attached application (run-application, as in Flink) whose job
// fails exits non-zero with the job's failure cause; the application ends FAILED and nothing is
// left behind.
func testYarnApplicationJobFails(t *testing.T) {
	y := setupYarn(t)
	r := y.cli(t, 3*time.Minute, nil, nil, append(append([]string{"run-application", "-t", "yarn-application"}, y.dflags()...), bin("panicjob"))...)
	if r.code == 0 || !strings.Contains(r.stderr, "boom at record 500") {
		t.Fatalf("exit %d, want non-zero with the panic in stderr:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	apps := y.apps(t)
	if len(apps) != 1 || apps[0].State != yarn.StateFinished || apps[0].Final != yarn.FinalFailed {
		t.Fatalf("applications: %+v", apps)
	}
	y.assertNothingLeft(t)
	t.Logf("client error: %s", lastLine(r.stderr))
}

// testYarnApplicationDetachedListCancel: a detached application prints its id and REST URL;
// list, savepoint and cancel reach its JobManager through the application report (-t
// yarn-application -Dyarn.application.id); the cancelled job ends the application KILLED,
// staging dir gone.
func testYarnApplicationDetachedListCancel(t *testing.T) {
	y := setupYarn(t)
	base := "hdfs://" + y.fs.Authority() + y.dir
	r := y.cli(t, 3*time.Minute, nil, nil, append(append([]string{"run", "-t", "yarn-per-job", "-d"}, y.dflags()...),
		bin("counting"), "--records", "10000000", "--keys", "10", "--every", "10", "--rate", "1000", "--output", base+"/out")...)
	am := regexp.MustCompile(`YARN application (application_\d+_\d+); JobManager REST API / web UI: http://(\S+)`).FindStringSubmatch(r.stdout)
	jm := regexp.MustCompile(`JobID ([0-9a-f]{32})`).FindStringSubmatch(r.stdout)
	if r.code != 0 || am == nil || jm == nil {
		t.Fatalf("detached run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	appID, jobID := am[1], jm[1]
	var listOut string
	deadline := time.Now().Add(time.Minute)
	for {
		r = y.cli(t, time.Minute, nil, nil, "list", "-t", "yarn-application", "-D", "yarn.application.id="+appID)
		if r.code == 0 && strings.Contains(r.stdout, jobID) && strings.Contains(r.stdout, "RUNNING") {
			listOut = r.stdout
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(time.Second)
	}
	t.Logf("list:\n%s", listOut)
	// savepoint through the application report; the job keeps running.
	r = y.cli(t, 2*time.Minute, nil, nil, "savepoint", "-D", "yarn.application.id="+appID, jobID, base+"/savepoints")
	if r.code != 0 || !strings.Contains(r.stdout, "Savepoint completed. Path: "+base+"/savepoints/") {
		t.Fatalf("savepoint: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("savepoint: %s", strings.TrimSpace(r.stdout))
	savepoint := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.stdout), "Savepoint completed. Path:"))
	r = y.cli(t, time.Minute, nil, nil, "cancel", "-t", "yarn-application", "-D", "yarn.application.id="+appID, jobID)
	if r.code != 0 {
		t.Fatalf("cancel: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	id, _ := yarn.ParseApplicationID(appID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := y.rm.WaitForState(ctx, id, 250*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil || rep.Final != yarn.FinalKilled {
		t.Fatalf("after cancel: %s/%s %v", rep.State, rep.Final, err)
	}
	y.awaitNothingLeft(t)
	// A finished application cannot be reached any more: a clear error, not a hang.
	r = y.cli(t, time.Minute, nil, nil, "list", "-D", "yarn.application.id="+appID)
	if r.code == 0 || !strings.Contains(r.stderr, "not running") {
		t.Fatalf("list of an ended application: exit %d\n%s", r.code, r.stderr)
	}

	// -s: a new application restores the savepoint (the job's state reaches the AM through the
	// shipped configuration) and runs the rest of a bounded input: the final counts are exact
	// while the running counts emitted before the savepoint are not emitted again.
	const records, keys, every = 20_000, 10, 10
	r = y.cli(t, 3*time.Minute, nil, nil, append(append([]string{"run", "-t", "yarn-application", "-s", savepoint}, y.dflags()...),
		bin("counting"), "--records", fmt.Sprint(records), "--keys", fmt.Sprint(keys), "--every", fmt.Sprint(every), "--output", base+"/out2")...)
	if r.code != 0 {
		t.Fatalf("run -s %s: exit %d\n%s\n%s", savepoint, r.code, r.stdout, r.stderr)
	}
	var gotFinal, wantFinal []string
	running := 0
	for _, l := range y.hdfsLines(t, y.dir+"/out2") {
		if strings.HasPrefix(l, "final ") {
			gotFinal = append(gotFinal, l)
		} else {
			running++
		}
	}
	wantRunning := 0
	for _, l := range countingcheck.Expected(records, keys, every) {
		if strings.HasPrefix(l, "final ") {
			wantFinal = append(wantFinal, l)
		} else {
			wantRunning++
		}
	}
	if strings.Join(gotFinal, "\n") != strings.Join(wantFinal, "\n") {
		t.Fatalf("final counts after the restore: %q, want %q", gotFinal, wantFinal)
	}
	if running == 0 || running >= wantRunning {
		t.Fatalf("%d running counts after the restore, want fewer than %d (those before the savepoint) and some", running, wantRunning)
	}
	t.Logf("restored run: %d of %d running counts emitted after the savepoint, final counts exact", running, wantRunning)
	y.assertNothingLeft(t)
}

// testYarnSessionAttachedInterrupt: an attached `flink-go yarn-session` prints the session's
// status; SIGINT (Ctrl-C) stops the session gracefully: FINISHED/SUCCEEDED, exit 0, the
// staging directory and the session record gone.
func testYarnSessionAttachedInterrupt(t *testing.T) {
	y := setupYarn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("flink-go"), append([]string{"yarn-session", "-jm", "256m", "-tm", "256m"}, y.dflags()...)...)
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+y.home)
	stdin, err := cmd.StdinPipe() // stays open: the client follows until interrupted
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &stderrWatcher{re: regexp.MustCompile(`TaskManagers: (\d+), slots`), hit: make(chan []string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.run(pipe); close(done) }()
	select {
	case <-w.hit: // attached, and the first status line arrived
	case <-done:
		t.Fatalf("the client ended early:\n%s\n%s", stdout.String(), w.String())
	case <-ctx.Done():
		t.Fatalf("no status within 3 minutes:\n%s", w.String())
	}
	m := regexp.MustCompile(`Attached to YARN session (application_\d+_\d+)`).FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no attach line:\n%s", w.String())
	}
	if rec, err := os.ReadFile(filepath.Join(y.home, "yarn-session.properties")); err != nil || !strings.Contains(string(rec), m[1]) {
		t.Fatalf("attached session not recorded: %q %v", rec, err)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after Ctrl-C: %v\n%s", err, w.String())
	}
	id, _ := yarn.ParseApplicationID(m[1])
	rep, err := y.rm.GetApplicationReport(ctx, id)
	if err != nil || rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded {
		t.Fatalf("session after Ctrl-C: %s/%s %v\n%s", rep.State, rep.Final, err, w.String())
	}
	y.assertNothingLeft(t)
	if _, err := os.Stat(filepath.Join(y.home, "yarn-session.properties")); !os.IsNotExist(err) {
		t.Errorf("the session record was not removed: %v", err)
	}
	t.Logf("client output:\n%s", w.String())
}

// startSession runs `flink-go yarn-session -d -jm 256 -tm 256m <args>` and returns its result,
// the recorded application id and the session properties file.
func (y *yarnTB) startSession(t *testing.T, args ...string) (result, string, []byte) {
	t.Helper()
	r := y.cli(t, 3*time.Minute, nil, nil, append([]string{"yarn-session", "-d", "-jm", "256", "-tm", "256m"}, args...)...)
	if r.code != 0 {
		t.Fatalf("yarn-session -d: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rec, err := os.ReadFile(filepath.Join(y.home, "yarn-session.properties"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`applicationID=(application_\d+_\d+)`).FindStringSubmatch(string(rec))
	if m == nil {
		t.Fatalf("properties file: %q", rec)
	}
	return r, m[1], rec
}
