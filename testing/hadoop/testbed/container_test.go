package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
)

// TestContainerRunsAndLogsAggregate submits a one-command application through
// the RM REST API and checks what YARN tests rely on: the container runs
// (DefaultContainerExecutor) with USER set to the submitter, its log lands in
// the NodeManager's log dir, and log aggregation writes to HDFS.
func TestContainerRunsAndLogsAggregate(t *testing.T) {
	c := Require(t)
	if c.Property("yarn.nm.0.log-dirs") == "" {
		t.Skip("not the mini-cluster (no cluster.properties): skipping")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const user = "probeuser"
	base := "http://" + c.RMWebAddress() + "/ws/v1/cluster/apps"

	var app struct {
		ID string `json:"application-id"`
	}
	if err := rest(ctx, http.MethodPost, base+"/new-application?user.name="+user, nil, &app); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("testbed-probe-%d", time.Now().UnixNano())
	sub := map[string]any{
		"application-id":   app.ID,
		"application-name": "testbed-probe",
		"application-type": "flink-go-probe",
		"max-app-attempts": 1,
		"am-container-spec": map[string]any{
			"commands": map[string]any{"command": "echo " + marker + " user=$USER 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
		},
		"resource": map[string]any{"memory": 128, "vCores": 1},
	}
	if err := rest(ctx, http.MethodPost, base+"?user.name="+user, sub, nil); err != nil {
		t.Fatal(err)
	}
	var report struct {
		App struct {
			State       string `json:"state"`
			Diagnostics string `json:"diagnostics"`
		} `json:"app"`
	}
	for {
		if err := rest(ctx, http.MethodGet, base+"/"+app.ID, nil, &report); err != nil {
			t.Fatal(err)
		}
		if s := report.App.State; s == "FINISHED" || s == "FAILED" || s == "KILLED" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("application %s still %s: %v", app.ID, report.App.State, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	// The command never registers as an AM, so the attempt fails — after the
	// container exited 0.
	if !strings.Contains(report.App.Diagnostics, "exitCode: 0") {
		t.Fatalf("application %s ended %s: %s", app.ID, report.App.State, report.App.Diagnostics)
	}
	logs, err := c.ContainerLogs(app.ID)
	if err != nil {
		t.Fatal(err)
	}
	var found string
	for name, content := range logs {
		if strings.HasSuffix(name, "/stdout") && strings.Contains(content, marker) {
			found = content
		}
	}
	if want := marker + " user=" + user; !strings.Contains(found, want) {
		t.Fatalf("container stdout %q lacks %q", found, want)
	}
	// Log aggregation: the NM writes below yarn.nodemanager.remote-app-log-dir/<user>.
	t.Setenv("HADOOP_USER_NAME", user)
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hdfs.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	logRoot := fs.Join(c.Get("yarn.nodemanager.remote-app-log-dir"), user)
	for {
		if ok, err := containsApp(ctx, h, logRoot, app.ID); err == nil && ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no aggregated logs for %s below %s", app.ID, logRoot)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// containsApp walks dir (a few levels) looking for a directory named appID.
func containsApp(ctx context.Context, fsys fs.FileSystem, dir, appID string) (bool, error) {
	entries, err := fsys.List(ctx, dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.IsDir {
			continue
		}
		if e.Name() == appID {
			return true, nil
		}
		if ok, _ := containsApp(ctx, fsys, e.Path, appID); ok {
			return true, nil
		}
	}
	return false, nil
}

func rest(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, url, err)
		}
	}
	return nil
}
