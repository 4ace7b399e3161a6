package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/internal/bedkit"
)

// PrivateOptions shapes a private mini-cluster (StartPrivate, RequirePrivate). Zero values take
// the defaults.
type PrivateOptions struct {
	// NodeManagers is the number of NodeManagers, 1 to 8 (default 2).
	NodeManagers int
	// NMMemoryMB is the memory of each NodeManager in MB, at least 128; it is also the
	// scheduler's maximum allocation (default 4096).
	NMMemoryMB int
	// NMVCores is the number of vcores of each NodeManager (default 8).
	NMVCores int
	// NMExpiry is how long the ResourceManager waits for a NodeManager that stopped
	// heartbeating before it declares it LOST and reports its containers completed
	// (yarn.nm.liveness-monitor.expiry-interval-ms), at least 2 s (default 10 s; the shared
	// cluster uses 30 s).
	NMExpiry time.Duration
	// Heap is the launcher JVM's -Xmx, e.g. "768m" (default "768m").
	Heap string
	// StartTimeout bounds the start, Maven and javac included when the cache is cold
	// (default 4 minutes).
	StartTimeout time.Duration
	// OwnerPID is a process whose end stops the cluster (default: this process), so a test
	// process that is killed does not leave its private cluster running.
	OwnerPID int
	// WorkDir is the cluster's work directory (pid, logs, conf, HDFS and YARN data). Default: a
	// new directory under os.TempDir(), removed by Stop. A given directory is kept.
	WorkDir string
	// KeepWorkDir keeps the work directory after Stop (also when FLINK_GO_HADOOP_KEEP is set),
	// for reading the logs of the daemons and containers.
	KeepWorkDir bool
}

// Defaults of PrivateOptions.
const (
	defaultPrivateNMs          = 2
	defaultPrivateNMMemoryMB   = 4096
	defaultPrivateNMVCores     = 8
	defaultPrivateNMExpiry     = 10 * time.Second
	defaultPrivateHeap         = "768m"
	defaultPrivateStartTimeout = 4 * time.Minute
)

var heapRE = regexp.MustCompile(`^[1-9][0-9]*[kKmMgG]?$`)

// normalize fills in the defaults and rejects values the launcher cannot run with.
func (o PrivateOptions) normalize() (PrivateOptions, error) {
	if o.NodeManagers == 0 {
		o.NodeManagers = defaultPrivateNMs
	}
	if o.NMMemoryMB == 0 {
		o.NMMemoryMB = defaultPrivateNMMemoryMB
	}
	if o.NMVCores == 0 {
		o.NMVCores = defaultPrivateNMVCores
	}
	if o.NMExpiry == 0 {
		o.NMExpiry = defaultPrivateNMExpiry
	}
	if o.Heap == "" {
		o.Heap = defaultPrivateHeap
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = defaultPrivateStartTimeout
	}
	if o.OwnerPID == 0 {
		o.OwnerPID = os.Getpid()
	}
	switch {
	case o.NodeManagers < 1 || o.NodeManagers > 8:
		return o, fmt.Errorf("testbed: private cluster: %d NodeManagers: want 1 to 8", o.NodeManagers)
	case o.NMMemoryMB < 128:
		return o, fmt.Errorf("testbed: private cluster: NodeManager memory %d MB: want at least 128 (the minimum allocation)", o.NMMemoryMB)
	case o.NMVCores < 1:
		return o, fmt.Errorf("testbed: private cluster: %d vcores per NodeManager: want at least 1", o.NMVCores)
	case o.NMExpiry < 2*time.Second:
		return o, fmt.Errorf("testbed: private cluster: NodeManager expiry %s: want at least 2s (NodeManagers heartbeat every second)", o.NMExpiry)
	case !heapRE.MatchString(o.Heap):
		return o, fmt.Errorf("testbed: private cluster: heap %q: want a JVM size such as 768m or 1g", o.Heap)
	case o.StartTimeout < 10*time.Second:
		return o, fmt.Errorf("testbed: private cluster: start timeout %s: want at least 10s", o.StartTimeout)
	case o.OwnerPID < 0:
		return o, fmt.Errorf("testbed: private cluster: owner pid %d is not a process id", o.OwnerPID)
	}
	return o, nil
}

// env is the environment minicluster.sh gets for a private cluster in work: every knob is set,
// so values meant for the shared cluster (a fixed NameNode port, another work dir) never leak in.
func (o PrivateOptions) env(work string) []string {
	secs := int(o.StartTimeout.Round(time.Second) / time.Second)
	return []string{
		"FLINK_GO_HADOOP_WORK=" + work,
		"FLINK_GO_HADOOP_XMX=" + o.Heap,
		"FLINK_GO_HADOOP_START_TIMEOUT=" + strconv.Itoa(secs),
		"FLINK_GO_MC_READY_TIMEOUT=" + strconv.Itoa(secs),
		"FLINK_GO_MC_NODEMANAGERS=" + strconv.Itoa(o.NodeManagers),
		"FLINK_GO_MC_NM_MEMORY_MB=" + strconv.Itoa(o.NMMemoryMB),
		"FLINK_GO_MC_NM_VCORES=" + strconv.Itoa(o.NMVCores),
		"FLINK_GO_MC_NM_EXPIRY_MS=" + strconv.FormatInt(o.NMExpiry.Milliseconds(), 10),
		"FLINK_GO_MC_NN_PORT=0",
		"FLINK_GO_MC_OWNER_PID=" + strconv.Itoa(o.OwnerPID),
	}
}

// privateState is what Stop needs to stop a private cluster and clean up after it.
type privateState struct {
	env       []string // minicluster.sh environment (its work dir)
	work      string
	removeDir bool // the work dir was created by StartPrivate
	keep      bool // keep the work dir anyway
}

// StartPrivate starts a HDFS + YARN mini-cluster of the caller's own, beside the shared one:
// its own work dir, ephemeral ports, the jars and the compiled launcher of the shared cache
// (nothing is downloaded when the shared cluster ran once). Tests that damage their cluster, for
// example by stopping a NodeManager (Cluster.StopNodeManager), use one so that no other test
// sees the damage. Stop stops it and removes its work dir; the cluster also stops itself when
// OwnerPID ends. FLINK_GO_HADOOP_CONF_DIR does not apply: the cluster is always started here.
func StartPrivate(ctx context.Context, opts PrivateOptions) (*Cluster, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if !javaAvailable() {
		return nil, errors.New("testbed: private cluster: java not found (install a JDK 17, e.g. scripts/install-test-deps.sh, or set JAVA_HOME)")
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	st := &privateState{work: o.WorkDir, keep: o.KeepWorkDir || bedkit.EnvTrue(EnvKeep)}
	if st.work == "" {
		if st.work, err = os.MkdirTemp("", "flink-go-hadoop-private-"); err != nil {
			return nil, fmt.Errorf("testbed: private cluster work dir: %w", err)
		}
		st.removeDir = true
	} else if st.work, err = filepath.Abs(st.work); err != nil {
		return nil, fmt.Errorf("testbed: private cluster work dir %q: %w", o.WorkDir, err)
	}
	if shared := scriptWorkDir(script, ModeSimple); filepath.Clean(st.work) == filepath.Clean(shared) {
		return nil, fmt.Errorf("testbed: private cluster work dir %s is the shared cluster's: choose another", st.work)
	}
	st.env = o.env(st.work)
	c := &Cluster{script: script, mode: ModeSimple, workDir: st.work, private: st}

	sctx, cancel := context.WithTimeout(ctx, o.StartTimeout+30*time.Second)
	defer cancel()
	began := time.Now()
	log.Info().Str("work", st.work).Int("nodemanagers", o.NodeManagers).Int("nm_memory_mb", o.NMMemoryMB).
		Dur("nm_expiry", o.NMExpiry).Msg("starting a private mini-cluster")
	confDir, err := runScript(sctx, script, ModeSimple, "start", st.env...)
	if err != nil {
		err = fmt.Errorf("testbed: start a private mini-cluster in %s (log: %s): %w",
			st.work, filepath.Join(st.work, "minicluster.log"), err)
		st.keep = true // the log explains the failure
		if serr := c.stopPrivate(); serr != nil {
			err = fmt.Errorf("%w; and stopping it: %v", err, serr)
		}
		return nil, err
	}
	loaded, err := load(confDir)
	if err == nil && filepath.Clean(loaded.props["work.dir"]) != filepath.Clean(st.work) {
		err = fmt.Errorf("its cluster.properties names work dir %q, not %s", loaded.props["work.dir"], st.work)
	}
	if err != nil {
		st.keep = true
		_ = c.stopPrivate()
		return nil, fmt.Errorf("testbed: read the private mini-cluster's conf dir %s: %w", confDir, err)
	}
	c.confDir, c.conf, c.props = loaded.confDir, loaded.conf, loaded.props
	log.Info().Dur("took", time.Since(began)).Str("conf", c.confDir).Str("rm", c.RMAddress()).
		Str("hdfs", c.DefaultFS()).Msg("private mini-cluster ready")
	return c, nil
}

// RequirePrivate is StartPrivate for a test: it skips like Require (java absent, -short), fails
// the test when the cluster does not start, and stops the cluster in t.Cleanup. The work dir is
// kept, and its path logged, when the test failed.
func RequirePrivate(t testing.TB, opts PrivateOptions) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("testbed: -short: skipping the Hadoop test")
	}
	if !javaAvailable() {
		t.Skip("testbed: java not found (install a JDK 17, e.g. scripts/install-test-deps.sh): skipping the test that needs a private Hadoop cluster")
	}
	o, err := opts.normalize()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout+time.Minute)
	defer cancel()
	c, err := StartPrivate(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && !c.private.keep {
			c.private.keep = true
			t.Logf("testbed: the test failed: keeping the private cluster's work dir %s (daemon and container logs)", c.private.work)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("testbed: stop the private cluster: %v", err)
		}
	})
	return c
}

// stopPrivate stops a private cluster's launcher and removes the work dir it created.
func (c *Cluster) stopPrivate() error {
	st := c.private
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := runScript(ctx, c.script, ModeSimple, "stop", st.env...); err != nil {
		return fmt.Errorf("testbed: stop the private mini-cluster in %s: %w", st.work, err)
	}
	if !st.removeDir || st.keep {
		log.Info().Str("work", st.work).Msg("private mini-cluster stopped; work dir kept")
		return nil
	}
	if err := os.RemoveAll(st.work); err != nil {
		return fmt.Errorf("testbed: remove the private cluster's work dir: %w", err)
	}
	log.Info().Str("work", st.work).Msg("private mini-cluster stopped and removed")
	return nil
}

// javaAvailable reports whether a java binary is in JAVA_HOME or on PATH.
func javaAvailable() bool {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		if _, err := os.Stat(filepath.Join(jh, "bin", "java")); err == nil {
			return true
		}
	}
	_, err := exec.LookPath("java")
	return err == nil
}

// PID is the process id of the mini-cluster's launcher JVM (cluster.properties), 0 for other
// clusters.
func (c *Cluster) PID() int {
	pid, _ := strconv.Atoi(c.props["pid"])
	return pid
}
