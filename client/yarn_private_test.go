package client_test

import (
	"strings"
	"testing"

	"github.com/flink-go/flink-go/testing/hadoop/testbed"
)

// setupYarnOn is setupYarn against a given cluster, e.g. a private one of
// testbed.RequirePrivate: the CLI, the RM client and HDFS all use c's HADOOP_CONF_DIR. The
// subtests of one test run one after the other, so swapping yarnCluster for the call is safe.
func setupYarnOn(t *testing.T, c *testbed.Cluster) *yarnTB {
	t.Helper()
	prev := yarnCluster
	yarnCluster = c
	defer func() { yarnCluster = prev }()
	return setupYarn(t)
}

// logAMOnFailure registers a cleanup that, when the test failed, logs the tail of the
// application's JobManager log (the AM container's jobmanager.log) from c's NodeManager log
// dirs: it shows how far recovery got. Register it after the cluster, so it runs first.
func logAMOnFailure(t *testing.T, c *testbed.Cluster, appID string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, err := c.ContainerLogs(appID)
		if err != nil {
			t.Logf("container logs of %s: %v", appID, err)
			return
		}
		for name, text := range logs {
			if !strings.HasSuffix(name, "/jobmanager.log") {
				continue
			}
			lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
			t.Logf("last lines of %s:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
}
