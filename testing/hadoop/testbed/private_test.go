package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
)

func TestPrivateOptions(t *testing.T) {
	o, err := PrivateOptions{}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.NodeManagers != 2 || o.NMMemoryMB != 4096 || o.NMVCores != 8 || o.NMExpiry != 10*time.Second ||
		o.Heap != "768m" || o.StartTimeout != 4*time.Minute || o.OwnerPID != os.Getpid() {
		t.Fatalf("defaults: %+v", o)
	}
	env := strings.Join(PrivateOptions{NodeManagers: 3, NMMemoryMB: 1024, NMVCores: 4, NMExpiry: 2500 * time.Millisecond,
		Heap: "1g", StartTimeout: 90 * time.Second, OwnerPID: 42}.env("/w"), " ")
	for _, want := range []string{"FLINK_GO_HADOOP_WORK=/w", "FLINK_GO_HADOOP_XMX=1g", "FLINK_GO_HADOOP_START_TIMEOUT=90",
		"FLINK_GO_MC_NODEMANAGERS=3", "FLINK_GO_MC_NM_MEMORY_MB=1024", "FLINK_GO_MC_NM_VCORES=4",
		"FLINK_GO_MC_NM_EXPIRY_MS=2500", "FLINK_GO_MC_NN_PORT=0", "FLINK_GO_MC_OWNER_PID=42"} {
		if !strings.Contains(" "+env+" ", " "+want+" ") {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
	for _, bad := range []struct {
		o    PrivateOptions
		want string
	}{
		{PrivateOptions{NodeManagers: 9}, "want 1 to 8"},
		{PrivateOptions{NodeManagers: -1}, "want 1 to 8"},
		{PrivateOptions{NMMemoryMB: 64}, "at least 128"},
		{PrivateOptions{NMVCores: -2}, "vcores"},
		{PrivateOptions{NMExpiry: time.Second}, "at least 2s"},
		{PrivateOptions{Heap: "lots"}, "JVM size"},
		{PrivateOptions{Heap: "-1g"}, "JVM size"},
		{PrivateOptions{StartTimeout: time.Second}, "at least 10s"},
		{PrivateOptions{OwnerPID: -5}, "not a process id"},
	} {
		if _, err := bad.o.normalize(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: error %v, want one containing %q", bad.o, err, bad.want)
		}
	}
	// StartPrivate refuses bad options before it starts anything.
	if _, err := StartPrivate(context.Background(), PrivateOptions{NodeManagers: 20}); err == nil {
		t.Error("StartPrivate accepted 20 NodeManagers")
	}
}

// TestPrivateClusterRefusesSharedWorkDir: a private cluster never runs in the shared work dir.
func TestPrivateClusterRefusesSharedWorkDir(t *testing.T) {
	if !javaAvailable() {
		t.Skip("java not found")
	}
	script, err := findScript()
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartPrivate(context.Background(), PrivateOptions{WorkDir: scriptWorkDir(script, ModeSimple)})
	if err == nil || !strings.Contains(err.Error(), "shared cluster's") {
		t.Fatalf("shared work dir: %v", err)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// TestPrivateCluster starts a real private cluster beside the shared one (if that runs): 2
// NodeManagers of 1 GB, a 4 s NodeManager expiry. It checks HDFS and YARN answer on the
// private conf dir, that a stopped NodeManager leaves the RUNNING nodes within the expiry, and
// that the launcher stops itself when its owner process ends; Stop then removes the work dir.
func TestPrivateCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	Skip(t)
	// The owner: a process this test ends to see the cluster follow it.
	ownerCtx, ownerCancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer ownerCancel()
	owner := exec.CommandContext(ownerCtx, "sleep", "600")
	if err := owner.Start(); err != nil {
		t.Fatalf("start the owner process: %v", err)
	}
	ownerDone := make(chan error, 1)
	go func() { ownerDone <- owner.Wait() }()
	defer func() { ownerCancel(); <-ownerDone }()

	start := time.Now()
	c := RequirePrivate(t, PrivateOptions{NodeManagers: 2, NMMemoryMB: 1024, NMVCores: 4, NMExpiry: 4 * time.Second,
		Heap: "512m", OwnerPID: owner.Process.Pid})
	t.Logf("private cluster ready in %s: conf %s, RM %s, HDFS %s, launcher pid %d",
		time.Since(start).Round(time.Millisecond), c.ConfDir(), c.RMAddress(), c.DefaultFS(), c.PID())
	work := c.Property("work.dir")
	if work == "" || !strings.HasPrefix(c.ConfDir(), work) {
		t.Fatalf("conf dir %s is not inside the work dir %q", c.ConfDir(), work)
	}
	if script, err := findScript(); err == nil && strings.HasPrefix(work, scriptWorkDir(script, ModeSimple)) {
		t.Fatalf("private work dir %s lies in the shared one", work)
	}
	if rss, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID())); err == nil {
		for _, l := range strings.Split(string(rss), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				t.Logf("launcher JVM %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes, err := c.WaitForNodes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if total := n.AvailMemoryMB + n.UsedMemoryMB; total != 1024 {
			t.Errorf("node %s has %d MB, want the 1024 asked for", n.ID, total)
		}
	}
	if got := c.Get("yarn.scheduler.maximum-allocation-mb"); got != "1024" {
		t.Errorf("yarn.scheduler.maximum-allocation-mb = %q, want 1024", got)
	}

	// HDFS of the private cluster answers.
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatalf("private HDFS at %s: %v", c.NameNodeAddress(), err)
	}
	if err := fs.WriteFileAtomic(ctx, h, "/tmp/private-up", []byte("up")); err != nil {
		t.Fatalf("private HDFS write: %v", err)
	}
	if got, err := fs.ReadFile(ctx, h, "/tmp/private-up"); err != nil || string(got) != "up" {
		t.Fatalf("private HDFS read back %q, %v", got, err)
	}
	h.Close()

	// Stop NodeManager 1: the RM no longer counts it RUNNING within the expiry (plus slack).
	victim := c.Property("yarn.nm.1.address")
	stopped := time.Now()
	if err := c.StopNodeManager(ctx, 1); err != nil {
		t.Fatal(err)
	}
	state := ""
	for deadline := time.Now().Add(4*time.Second + 30*time.Second); ; {
		all, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		state = ""
		for _, n := range all {
			if n.ID == victim {
				state = n.State
			}
		}
		if state != "RUNNING" && state != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NodeManager %s still %q 34 s after its stop (expiry 4 s)", victim, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("stopped NodeManager %s is %s after %s", victim, state, time.Since(stopped).Round(time.Millisecond))
	if running, err := c.WaitForNodes(ctx, 1); err != nil || len(running) != 1 {
		t.Fatalf("the other NodeManager: %d RUNNING, %v", len(running), err)
	}

	// The owner ends: the launcher stops on its own.
	pid := c.PID()
	ownerCancel()
	<-ownerDone
	ownerDone <- nil // for the deferred receive
	ended := time.Now()
	for alive(pid) {
		if time.Since(ended) > time.Minute {
			t.Fatalf("launcher %d still runs a minute after its owner process ended", pid)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("launcher stopped %s after its owner ended", time.Since(ended).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(work, "ready")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file left behind by the stopped launcher: %v", err)
	}

	// Stop (idempotent, also run by the cleanup) removes the work dir it created.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir %s left behind: %v", work, err)
	}
}
