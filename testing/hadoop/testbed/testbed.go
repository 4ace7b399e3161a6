// Package testbed gives Go tests a real Hadoop cluster: HDFS (1 NameNode, 1
// DataNode) and YARN (1 ResourceManager, 2 NodeManagers) from Hadoop's own
// mini-cluster, run by testing/hadoop/minicluster.sh on the loopback interface.
//
// A package whose tests need Hadoop uses it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }
//
//	func TestSubmit(t *testing.T) {
//		c := testbed.Require(t) // starts or joins the cluster; skips only when java is absent (or under -short)
//		os.Setenv("HADOOP_CONF_DIR", c.ConfDir()) // or pass c.RMAddress() etc.
//		...
//	}
//
// Start reuses a cluster when FLINK_GO_HADOOP_CONF_DIR names a conf dir (any
// cluster, not only the mini-cluster) or when one is already up (make
// testbed-up); otherwise it starts one. Test packages run in parallel share one
// cluster: each holds a lease, and the last one out stops a cluster that a test
// started (never one started by make testbed-up). FLINK_GO_HADOOP_KEEP=1 keeps
// an auto-started cluster running for the next run.
//
// A test that damages its cluster (Cluster.StopNodeManager) takes a private one instead, so no
// other test sees the damage:
//
//	c := testbed.RequirePrivate(t, testbed.PrivateOptions{NodeManagers: 3, NMMemoryMB: 1024})
//
// It runs beside the shared cluster in a work dir of its own with ephemeral ports, reuses the
// cached jars and launcher, is stopped and removed in t.Cleanup, and stops itself if the test
// process dies (FLINK_GO_MC_OWNER_PID).
package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/internal/bedkit"
)

// Environment variables the package reads.
const (
	// EnvConfDir names an existing HADOOP_CONF_DIR to use instead of the mini-cluster.
	EnvConfDir = "FLINK_GO_HADOOP_CONF_DIR"
	// EnvScript overrides the path of minicluster.sh.
	EnvScript = "FLINK_GO_MINICLUSTER_SCRIPT"
	// EnvKerberosConfDir names the conf dir of an existing Kerberized cluster
	// for StartMode(ModeKerberos); it needs the kerberos.* entries of
	// cluster.properties (see Kerberos).
	EnvKerberosConfDir = "FLINK_GO_HADOOP_KERBEROS_CONF_DIR"
	// EnvHAConfDir names the conf dir of an existing HDFS HA cluster for
	// StartMode(ModeHA).
	EnvHAConfDir = "FLINK_GO_HADOOP_HA_CONF_DIR"
	// EnvKeep, when "1" or "true", keeps an auto-started cluster running.
	EnvKeep = "FLINK_GO_HADOOP_KEEP"
)

var log = bedkit.Logger("testbed")

// Cluster is a running Hadoop cluster as seen through its HADOOP_CONF_DIR.
type Cluster struct {
	confDir string
	conf    map[string]string
	props   map[string]string // cluster.properties of the mini-cluster, if any

	script   string
	mode     Mode
	workDir  string        // "" for an external conf dir
	lease    string        // this process's lease on a shared mini-cluster ("" if none)
	private  *privateState // non-nil for a cluster of StartPrivate
	stopOnce sync.Once
	stopErr  error
}

// Node is one NodeManager as the ResourceManager's REST API reports it.
type Node struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	NodeHostName  string `json:"nodeHostName"`
	HTTPAddress   string `json:"nodeHTTPAddress"`
	AvailMemoryMB int64  `json:"availMemoryMB"`
	AvailVCores   int64  `json:"availableVirtualCores"`
	UsedMemoryMB  int64  `json:"usedMemoryMB"`
	NumContainers int    `json:"numContainers"`
}

// Available reports whether a cluster can be had: FLINK_GO_HADOOP_CONF_DIR is
// set, or a java binary is on PATH (or in JAVA_HOME).
func Available() bool {
	return os.Getenv(EnvConfDir) != "" || javaAvailable()
}

// Skip skips the test when no cluster can be had because java is absent.
func Skip(t testing.TB) {
	t.Helper()
	if !Available() {
		t.Skip("testbed: java not found (install a JDK 17, e.g. scripts/install-test-deps.sh) and FLINK_GO_HADOOP_CONF_DIR unset: skipping the Hadoop test")
	}
}

// Mode selects which test bed a cluster is.
type Mode string

const (
	// ModeSimple is HDFS + YARN with SIMPLE authentication.
	ModeSimple Mode = "simple"
	// ModeKerberos is a MiniKdc plus a Kerberized HDFS and a secure YARN (RM and
	// NodeManagers logged in as the NameNode's principal, containers run by the
	// DefaultContainerExecutor as the test's OS user).
	ModeKerberos Mode = "kerberos"
	// ModeHA is an HDFS HA nameservice: two NameNodes, one DataNode (no YARN).
	ModeHA Mode = "ha"
)

// Start returns a running cluster: the one FLINK_GO_HADOOP_CONF_DIR names, the
// mini-cluster that is already up, or a mini-cluster it starts (which can take
// a few minutes the first time, while Maven fetches the jars).
func Start(ctx context.Context) (*Cluster, error) { return StartMode(ctx, ModeSimple) }

// StartMode is Start for a given mode. For ModeKerberos the override variable
// is FLINK_GO_HADOOP_KERBEROS_CONF_DIR.
func StartMode(ctx context.Context, mode Mode) (*Cluster, error) {
	var envDir string
	switch mode {
	case ModeSimple:
		envDir = EnvConfDir
	case ModeKerberos:
		envDir = EnvKerberosConfDir
	case ModeHA:
		envDir = EnvHAConfDir
	default:
		return nil, fmt.Errorf("testbed: unknown mode %q", mode)
	}
	if dir := os.Getenv(envDir); dir != "" {
		c, err := load(dir)
		if err != nil {
			return nil, fmt.Errorf("testbed: %s=%s: %w", envDir, dir, err)
		}
		log.Info().Str("conf", dir).Msg("using the cluster named by " + envDir)
		return c, nil
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	workDir := scriptWorkDir(script, mode)
	probe := func(ctx context.Context) (string, error) {
		confDir, err := runScript(ctx, script, mode, "conf-dir")
		if err == nil {
			log.Info().Str("conf", confDir).Msg("reusing the running mini-cluster")
		}
		return confDir, err
	}
	start := func(ctx context.Context) (string, error) {
		log.Info().Str("mode", string(mode)).Msg("no mini-cluster running: starting one")
		confDir, err := runScript(ctx, script, mode, "start")
		if err != nil {
			return "", fmt.Errorf("testbed: start the Hadoop mini-cluster (%s start): %w", script, err)
		}
		return confDir, nil
	}
	var c *Cluster
	lease := bedkit.ProcessLease()
	err = sharedCluster(workDir).Join(ctx, lease, probe, start, func(confDir string) error {
		if c, err = load(confDir); err != nil {
			return fmt.Errorf("testbed: read the mini-cluster's conf dir: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.script, c.workDir, c.mode, c.lease = script, workDir, mode, lease
	return c, nil
}

// sharedCluster is the lock, lease and autostart bookkeeping of the mini-cluster in workDir.
func sharedCluster(workDir string) *bedkit.Shared {
	return &bedkit.Shared{Name: "testbed", Noun: "mini-cluster", WorkDir: workDir, LockFile: ".testbed.lock",
		KeepEnv: EnvKeep, StopTimeout: 2 * time.Minute, Log: log}
}

// Stop releases this process's use of the cluster. The cluster itself is
// stopped only when a test started it, no other test process still uses it,
// and FLINK_GO_HADOOP_KEEP is not set. Stop is idempotent.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	if c.private != nil {
		return c.stopPrivate()
	}
	if c.lease == "" {
		return nil
	}
	// A cluster started by `make testbed-up` or by hand is left running.
	return sharedCluster(c.workDir).Leave(c.lease, func(ctx context.Context) error {
		_, err := runScript(ctx, c.script, c.mode, "stop")
		return err
	})
}

// ConfDir is the cluster's HADOOP_CONF_DIR (core-site.xml, hdfs-site.xml, yarn-site.xml).
func (c *Cluster) ConfDir() string { return c.confDir }

// Get returns a configuration value from the conf dir's XML files ("" if unset).
func (c *Cluster) Get(key string) string { return c.conf[key] }

// Property returns a value from the mini-cluster's cluster.properties (for
// example "yarn.nm.0.log-dirs"); "" for other clusters.
func (c *Cluster) Property(key string) string { return c.props[key] }

// RMAddress is the ResourceManager's client (ApplicationClientProtocol) address.
func (c *Cluster) RMAddress() string { return c.rmAddr("yarn.resourcemanager.address", 8032) }

// SchedulerAddress is the ResourceManager's scheduler (ApplicationMasterProtocol) address.
func (c *Cluster) SchedulerAddress() string {
	return c.rmAddr("yarn.resourcemanager.scheduler.address", 8030)
}

// RMWebAddress is the ResourceManager's web/REST address (host:port, no scheme).
func (c *Cluster) RMWebAddress() string {
	return c.rmAddr("yarn.resourcemanager.webapp.address", 8088)
}

// NameNodeAddress is the NameNode's RPC address (host:port).
func (c *Cluster) NameNodeAddress() string {
	if a := c.conf["dfs.namenode.rpc-address"]; a != "" {
		return a
	}
	if u := c.conf["fs.defaultFS"]; strings.HasPrefix(u, "hdfs://") {
		host := strings.TrimSuffix(strings.TrimPrefix(u, "hdfs://"), "/")
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "8020")
		}
		return host
	}
	return ""
}

// DefaultFS is fs.defaultFS, e.g. "hdfs://localhost:35637".
func (c *Cluster) DefaultFS() string { return c.conf["fs.defaultFS"] }

func (c *Cluster) rmAddr(key string, defPort int) string {
	if a := c.conf[key]; a != "" {
		return a
	}
	host := c.conf["yarn.resourcemanager.hostname"]
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(defPort))
}

// Nodes asks the ResourceManager's REST API for its NodeManagers in any state.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	url := "http://" + c.RMWebAddress() + "/ws/v1/cluster/nodes"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testbed: query the RM REST API (is the ResourceManager up?): %w", err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("testbed: read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("testbed: GET %s: HTTP %d: %.200s", url, resp.StatusCode, body.String())
	}
	return parseNodes(body.Bytes())
}

func parseNodes(data []byte) ([]Node, error) {
	var doc struct {
		Nodes *struct {
			Node []Node `json:"node"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("testbed: decode RM nodes response: %w", err)
	}
	if doc.Nodes == nil {
		return nil, nil
	}
	return doc.Nodes.Node, nil
}

// WaitForNodes polls the ResourceManager's REST API until at least n
// NodeManagers are RUNNING, and returns them.
func (c *Cluster) WaitForNodes(ctx context.Context, n int) ([]Node, error) {
	var running []Node
	err := bedkit.Poll(ctx, 250*time.Millisecond, fmt.Sprintf("testbed: wait for %d NodeManagers", n), func() (bool, error) {
		nodes, err := c.Nodes(ctx)
		if err != nil {
			return false, err
		}
		running = running[:0]
		for _, nd := range nodes {
			if nd.State == "RUNNING" {
				running = append(running, nd)
			}
		}
		if len(running) >= n {
			return true, nil
		}
		return false, fmt.Errorf("%d of %d NodeManagers RUNNING", len(running), n)
	})
	return running, err
}

// ---- TestMain support ----

// beds are the package's shared clusters, one per mode.
var beds bedkit.Beds[Mode, *Cluster]

// Main runs a test package with shared clusters: the first test that calls
// Require (or RequireKerberos) starts or joins that cluster, and Main releases
// them after the tests. A package whose selected tests never call Require
// starts nothing. Use it as os.Exit(testbed.Main(m)).
func Main(m *testing.M) int {
	code, _ := beds.Run(m, func(_ Mode, c *Cluster) error {
		err := c.Stop()
		if err != nil {
			log.Error().Err(err).Msg("release the Hadoop cluster")
		}
		return err
	})
	// No goroutine leaks: every client, connection and reader of the package's code must be
	// gone once its tests ended.
	if code == 0 && !checkLeaks() {
		code = 1
	}
	return code
}

// Require returns the package's cluster (HDFS + YARN, SIMPLE auth), starting
// or joining it on first use. It skips the test when java is absent or -short
// is set, and fails it when the cluster cannot be started. Without Main in
// TestMain, each call starts (or joins) a cluster and releases it in
// t.Cleanup.
func Require(t testing.TB) *Cluster {
	t.Helper()
	return require(t, ModeSimple)
}

// RequireKerberos is Require for the Kerberos test bed: a MiniKdc, a
// Kerberized HDFS and a secure YARN. Its Kerberos() describes the realm, krb5.conf
// and a client principal with keytab.
func RequireKerberos(t testing.TB) *Cluster {
	t.Helper()
	return require(t, ModeKerberos)
}

func require(t testing.TB, mode Mode) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("testbed: -short: skipping the Hadoop test")
	}
	Skip(t)
	c, err := beds.Require(t, mode, bedkit.Starter[*Cluster]{
		Start:   func(ctx context.Context) (*Cluster, error) { return StartMode(ctx, mode) },
		Timeout: 10 * time.Minute,
		Release: func(c *Cluster) error {
			if err := c.Stop(); err != nil {
				return fmt.Errorf("testbed: release the cluster: %w", err)
			}
			return nil
		},
		Ready: func(c *Cluster, err error, took time.Duration) {
			if err != nil {
				log.Error().Err(err).Str("mode", string(mode)).Msg("Hadoop cluster did not start: Hadoop tests fail")
				return
			}
			log.Info().Dur("took", took).Str("mode", string(mode)).Str("conf", c.ConfDir()).Msg("Hadoop cluster ready")
		},
	})
	if err != nil {
		t.Fatalf("testbed: no Hadoop cluster (%s): %v", mode, err)
	}
	return c
}

// RequireHA is Require for the HDFS HA test bed: nameservice "minidfs-ns"
// with NameNodes nn1 (active at start) and nn2, one DataNode, no YARN.
// Failover swaps the active NameNode.
func RequireHA(t testing.TB) *Cluster {
	t.Helper()
	return require(t, ModeHA)
}

// Failover makes the HA test bed's standby NameNode active and the active
// one standby, and returns the id of the now active NameNode ("nn1"/"nn2").
func (c *Cluster) Failover(ctx context.Context) (string, error) {
	work := c.props["work.dir"]
	if c.props["mode"] != string(ModeHA) || work == "" {
		return "", fmt.Errorf("testbed: %s is not the HA test bed", c.confDir)
	}
	trigger := filepath.Join(work, "failover")
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		return "", fmt.Errorf("testbed: request failover: %w", err)
	}
	var active []byte
	err := bedkit.Poll(ctx, 100*time.Millisecond, "testbed: failover not done", func() (bool, error) {
		if _, err := os.Stat(trigger); !errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		var err error
		if active, err = os.ReadFile(filepath.Join(work, "active")); err != nil {
			return true, fmt.Errorf("testbed: read the active NameNode: %w", err)
		}
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(active)), nil
}

// StopNodeManager stops NodeManager i (0-based, as in cluster.properties yarn.nm.<i>.address)
// of the YARN test bed, as when a node goes away: its containers are killed and it unregisters
// from the ResourceManager. The node stays down until the cluster restarts, so a test that
// stops one must not share the cluster with tests that need both nodes afterwards.
func (c *Cluster) StopNodeManager(ctx context.Context, i int) error {
	work := c.props["work.dir"]
	if work == "" || c.props["yarn.nm."+strconv.Itoa(i)+".address"] == "" {
		return fmt.Errorf("testbed: %s has no NodeManager %d (is it the YARN test bed?)", c.confDir, i)
	}
	trigger := filepath.Join(work, "stop-nm-"+strconv.Itoa(i))
	done := filepath.Join(work, "nm-"+strconv.Itoa(i)+"-stopped")
	_ = os.Remove(done)
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		return fmt.Errorf("testbed: request the NodeManager stop: %w", err)
	}
	what := fmt.Sprintf("testbed: NodeManager %d not stopped (a launcher built before stop-nm triggers existed ignores them; restart the cluster)", i)
	err := bedkit.Poll(ctx, 100*time.Millisecond, what, func() (bool, error) {
		data, err := os.ReadFile(done)
		if err != nil {
			return false, nil
		}
		if r := strings.TrimSpace(string(data)); r != "stopped" {
			return true, fmt.Errorf("testbed: stopping NodeManager %d: %s", i, r)
		}
		return true, nil
	})
	if _, timedOut := errors.AsType[*bedkit.WaitError](err); timedOut {
		_ = os.Remove(trigger)
	}
	return err
}

// KerberosInfo describes the Kerberos test bed's realm and client identity.
type KerberosInfo struct {
	Realm             string
	Krb5Conf          string // path of the KDC's krb5.conf
	ClientPrincipal   string // e.g. alice@EXAMPLE.COM
	ClientKeytab      string // keytab of ClientPrincipal
	NameNodePrincipal string // e.g. hdfs/localhost@EXAMPLE.COM
	// RMPrincipal is yarn.resourcemanager.principal of the secure YARN
	// (empty when it runs without YARN, FLINK_GO_MC_KERBEROS_YARN=0).
	RMPrincipal string
}

// Kerberos returns the Kerberos details of a Kerberos-mode cluster, nil otherwise.
func (c *Cluster) Kerberos() *KerberosInfo {
	if c.props["kerberos.realm"] == "" {
		return nil
	}
	return &KerberosInfo{
		Realm:             c.props["kerberos.realm"],
		Krb5Conf:          c.props["kerberos.krb5conf"],
		ClientPrincipal:   c.props["kerberos.client.principal"],
		ClientKeytab:      c.props["kerberos.client.keytab"],
		NameNodePrincipal: c.props["kerberos.namenode.principal"],
		RMPrincipal:       c.props["kerberos.rm.principal"],
	}
}

// ---- helpers ----

func load(confDir string) (*Cluster, error) {
	abs, err := filepath.Abs(confDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{confDir: abs, conf: map[string]string{}, props: map[string]string{}}
	found := 0
	for _, name := range []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"} {
		data, err := os.ReadFile(filepath.Join(abs, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		found++
		if err := parseSite(data, c.conf); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("no core-site.xml, hdfs-site.xml or yarn-site.xml in %s", abs)
	}
	if data, err := os.ReadFile(filepath.Join(abs, "cluster.properties")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				c.props[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return c, nil
}

func parseSite(data []byte, into map[string]string) error {
	var doc struct {
		Property []struct {
			Name  string `xml:"name"`
			Value string `xml:"value"`
		} `xml:"property"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse Hadoop XML: %w", err)
	}
	for _, p := range doc.Property {
		into[strings.TrimSpace(p.Name)] = strings.TrimSpace(p.Value)
	}
	return nil
}

func findScript() (string, error) {
	script, err := bedkit.FindScript(EnvScript, "testing/hadoop/minicluster.sh")
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	return script, nil
}

// scriptWorkDir mirrors the script's default: FLINK_GO_HADOOP_WORK or work/
// beside it, plus kerberos/ in Kerberos mode.
func scriptWorkDir(script string, mode Mode) string {
	w := os.Getenv("FLINK_GO_HADOOP_WORK")
	if w == "" {
		w = filepath.Join(filepath.Dir(script), "work")
	}
	if mode != ModeSimple {
		w = filepath.Join(w, string(mode))
	}
	return w
}

// runScript runs minicluster.sh with one verb and extra environment (later entries win); its
// stdout's last line is the result, its stderr (progress) goes to ours.
func runScript(ctx context.Context, script string, mode Mode, verb string, env ...string) (string, error) {
	return bedkit.Script{Path: script, Env: []string{"FLINK_GO_MC_MODE=" + string(mode)}}.Run(ctx, verb, env...)
}

// ContainerLogs collects the log files the NodeManagers wrote for an
// application's containers on local disk (stdout, stderr, prelaunch.err, ...),
// keyed "<containerId>/<file>". It reads the mini-cluster's NodeManager log
// dirs (cluster.properties), so it works while the NodeManagers keep the logs
// (yarn.nodemanager.delete.debug-delay-sec, 600 s here) and only for the
// mini-cluster. Files over 1 MiB are cut to their last MiB.
func (c *Cluster) ContainerLogs(appID string) (map[string]string, error) {
	n, _ := strconv.Atoi(c.props["yarn.nodemanagers"])
	if n == 0 {
		return nil, fmt.Errorf("testbed: %s has no NodeManager log dirs (not the mini-cluster?)", c.confDir)
	}
	out := map[string]string{}
	for i := 0; i < n; i++ {
		for _, dir := range strings.Split(c.props[fmt.Sprintf("yarn.nm.%d.log-dirs", i)], ",") {
			if dir == "" {
				continue
			}
			files, err := filepath.Glob(filepath.Join(dir, appID, "container_*", "*"))
			if err != nil {
				return nil, fmt.Errorf("testbed: %w", err)
			}
			for _, f := range files {
				data, err := readTail(f, 1<<20)
				if err != nil {
					continue // a directory or a file being rotated away
				}
				out[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = string(data)
			}
		}
	}
	return out, nil
}

func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return nil, fmt.Errorf("not a file: %s", path)
	}
	if st.Size() > max {
		if _, err := f.Seek(st.Size()-max, 0); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}
