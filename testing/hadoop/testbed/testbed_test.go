package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestClusterUp asserts the real cluster: the RM REST API reports 2 RUNNING
// NodeManagers and the conf dir names every address a client needs.
func TestClusterUp(t *testing.T) {
	c := Require(t)
	for name, v := range map[string]string{
		"RMAddress":        c.RMAddress(),
		"SchedulerAddress": c.SchedulerAddress(),
		"RMWebAddress":     c.RMWebAddress(),
		"NameNodeAddress":  c.NameNodeAddress(),
		"DefaultFS":        c.DefaultFS(),
	} {
		if v == "" {
			t.Errorf("%s is empty (conf dir %s)", name, c.ConfDir())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := c.WaitForNodes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("want 2 RUNNING NodeManagers, got %d: %+v", len(nodes), nodes)
	}
	for _, n := range nodes {
		if n.AvailMemoryMB+n.UsedMemoryMB < 1024 {
			t.Errorf("node %s has only %d MB", n.ID, n.AvailMemoryMB+n.UsedMemoryMB)
		}
	}
	if c.Property("yarn.nodemanagers") != "" && c.Property("yarn.nodemanagers") != "2" {
		t.Errorf("cluster.properties says %s NodeManagers", c.Property("yarn.nodemanagers"))
	}
	// HDFS answers: write and read back a file through the conf dir.
	fsys, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hdfs.New(ctx, fsys)
	if err != nil {
		t.Fatalf("HDFS at %s: %v", c.NameNodeAddress(), err)
	}
	defer h.Close()
	p := fmt.Sprintf("/tmp/testbed-%d", time.Now().UnixNano())
	if err := fs.WriteFileAtomic(ctx, h, p, []byte("up")); err != nil {
		t.Fatalf("HDFS write: %v", err)
	}
	if got, err := fs.ReadFile(ctx, h, p); err != nil || string(got) != "up" {
		t.Fatalf("HDFS read back %q, %v", got, err)
	}
	_ = h.Delete(ctx, p, false)
	for _, f := range []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"} {
		if _, err := os.Stat(filepath.Join(c.ConfDir(), f)); err != nil {
			t.Errorf("conf dir lacks %s: %v", f, err)
		}
	}
}

func TestParseNodes(t *testing.T) {
	nodes, err := parseNodes([]byte(`{"nodes":{"node":[{"id":"h:1","state":"RUNNING","availMemoryMB":4096},{"id":"h:2","state":"LOST"}]}}`))
	if err != nil || len(nodes) != 2 || nodes[0].ID != "h:1" || nodes[0].AvailMemoryMB != 4096 || nodes[1].State != "LOST" {
		t.Fatalf("parseNodes = %+v, %v", nodes, err)
	}
	nodes, err = parseNodes([]byte(`{"nodes":null}`))
	if err != nil || len(nodes) != 0 {
		t.Fatalf("empty: %+v, %v", nodes, err)
	}
	if _, err := parseNodes([]byte(`<html>`)); err == nil {
		t.Fatal("HTML accepted")
	}
}

func TestLoadConfDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("core-site.xml", `<configuration><property><name>fs.defaultFS</name><value>hdfs://nn.example:9000</value></property></configuration>`)
	write("yarn-site.xml", `<configuration><property><name>yarn.resourcemanager.hostname</name><value>rm.example</value></property>
<property><name>yarn.resourcemanager.address</name><value>rm.example:18032</value></property></configuration>`)
	c, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RMAddress(); got != "rm.example:18032" {
		t.Errorf("RMAddress = %q", got)
	}
	if got := c.SchedulerAddress(); got != "rm.example:8030" {
		t.Errorf("SchedulerAddress = %q (want the hostname with the default port)", got)
	}
	if got := c.RMWebAddress(); got != "rm.example:8088" {
		t.Errorf("RMWebAddress = %q", got)
	}
	if got := c.NameNodeAddress(); got != "nn.example:9000" {
		t.Errorf("NameNodeAddress = %q", got)
	}
	if _, err := load(t.TempDir()); err == nil {
		t.Error("empty conf dir accepted")
	}
	write("hdfs-site.xml", `<configuration><property>`)
	if _, err := load(dir); err == nil {
		t.Error("broken XML accepted")
	}
}
