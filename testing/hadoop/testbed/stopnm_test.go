package testbed

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCluster is a loaded Cluster whose cluster.properties names a work dir and two
// NodeManagers, with no launcher behind it.
func fakeCluster(t *testing.T) (*Cluster, string) {
	t.Helper()
	dir, work := t.TempDir(), t.TempDir()
	files := map[string]string{
		"core-site.xml":      `<configuration><property><name>fs.defaultFS</name><value>hdfs://localhost:9000</value></property></configuration>`,
		"cluster.properties": "work.dir=" + work + "\nyarn.nm.0.address=localhost:1\nyarn.nm.1.address=localhost:2\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, work
}

func TestStopNodeManagerProtocol(t *testing.T) {
	c, work := fakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// No such NodeManager: an error naming it, no trigger written.
	if err := c.StopNodeManager(ctx, 2); err == nil || !strings.Contains(err.Error(), "has no NodeManager 2") {
		t.Fatalf("NodeManager 2: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "stop-nm-2")); !os.IsNotExist(err) {
		t.Fatalf("a trigger was written for a missing NodeManager: %v", err)
	}

	// A launcher stand-in: answers the trigger of NodeManager 1 with the given result.
	answer := func(result string) {
		trigger := filepath.Join(work, "stop-nm-1")
		for ctx.Err() == nil {
			if _, err := os.Stat(trigger); err == nil {
				_ = os.WriteFile(filepath.Join(work, "nm-1-stopped"), []byte(result+"\n"), 0o644)
				_ = os.Remove(trigger)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	go answer("stopped")
	if err := c.StopNodeManager(ctx, 1); err != nil {
		t.Fatalf("stop: %v", err)
	}
	go answer("error: java.io.IOException: boom")
	if err := c.StopNodeManager(ctx, 1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed stop: %v", err)
	}

	// Nobody answers (an old launcher): the context's error, and the trigger is removed.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := c.StopNodeManager(short, 0); err == nil || !strings.Contains(err.Error(), "restart the cluster") {
		t.Fatalf("unanswered stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "stop-nm-0")); !os.IsNotExist(err) {
		t.Fatalf("the unanswered trigger was left behind: %v", err)
	}
}
