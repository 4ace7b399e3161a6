package emr

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/bootstrap"
)

func TestBootstrapScriptCommand(t *testing.T) {
	out, _, err := runCLI(t, context.Background(), "emr", "bootstrap-script")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join("..", "bootstrap", bootstrap.ScriptName))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(file) {
		t.Fatal("bootstrap-script does not print bootstrap/install-flink-go.sh")
	}
}

func TestClassificationsCommand(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "ha.json")
	writeFile(t, doc, emrHAExample)
	ctx := context.Background()
	_, _, err := runCLI(t, ctx, "emr", "classifications", doc)
	if err == nil || !strings.Contains(err.Error(), "--hiera hadoop::zk=VALUE") {
		t.Fatalf("unresolved hiera: %v", err)
	}
	out, _, err := runCLI(t, ctx, "emr", "classifications", "--hiera", "hadoop::zk=zk1:2181,zk2:2181", doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"high-availability.zookeeper.quorum", "zk1:2181,zk2:2181", "classification flink-conf", "flink.yarn.resourcemanager.am.max-attempts", "classification yarn-site"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	writeFile(t, doc, `[{"Classification":"spark","Properties":{}},{"Classification":"flink-conf","Properties":{"parallelism.default":"2"}}]`)
	out, notes, err := runCLI(t, ctx, "emr", "classifications", doc)
	if err != nil || !strings.Contains(notes, `note: classification[0] "spark": classification of another EMR application; ignored by flink-go`) || !strings.Contains(out, "parallelism.default") {
		t.Fatalf("%v\n%s\n%s", err, out, notes)
	}
}

func TestNodeInfoAndDefaultClusterID(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, InstanceInfoPath), `{"isMaster": true, "instanceGroupId": "ig-M"}`)
	writeFile(t, filepath.Join(root, JobFlowInfoPath), `{"jobFlowId": "j-NODE1", "masterPrivateDnsName": "ip-10-0-0-1"}`)
	t.Setenv(EnvNodeRoot, root)
	out, _, err := runCLI(t, context.Background(), "emr", "node-info")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if info["clusterId"] != "j-NODE1" || info["isMaster"] != true || info["instanceRole"] != "master" {
		t.Fatalf("%v", info)
	}
	// On a node, --cluster-id defaults to the node's cluster.
	id, err := clusterIDFromEnv("")
	if err != nil || id != "j-NODE1" {
		t.Fatalf("default cluster id %q %v", id, err)
	}
	t.Setenv(EnvNodeRoot, t.TempDir())
	if _, err := clusterIDFromEnv(""); err == nil || !strings.Contains(err.Error(), "--cluster-id is required") {
		t.Fatalf("off a node: %v", err)
	}
	if _, _, err := runCLI(t, context.Background(), "emr", "node-info"); err == nil || !strings.Contains(err.Error(), "not an Amazon EMR node") {
		t.Fatalf("node-info off a node: %v", err)
	}
}

func TestCreateClusterLocalClassificationsNote(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "c.json")
	writeFile(t, doc, emrSlotsExample)
	out, stderr, err := runCLI(t, context.Background(), "emr", "create-cluster", "--source", "s3://b/p", "--classifications", doc, "--", "run", "./job")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "is a local file") || strings.Contains(out, "--classifications") {
		t.Fatalf("stderr %q\n%s", stderr, out)
	}
	_, _, err = runCLI(t, context.Background(), "emr", "create-cluster", "--source", "s3://b/p")
	if err == nil || !strings.Contains(err.Error(), "a transient cluster needs a step") {
		t.Fatalf("no step: %v", err)
	}
}
