package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return out
}

// flinkGoHome runs the CLI with a given FLINK_GO_HOME (to share a session between calls).
func flinkGoHome(t *testing.T, home string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("flink-go"), args...)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+home, "FLINK_CONF_DIR=")
	bounded(cmd)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("flink-go %s did not finish within %s\nstderr:\n%s", strings.Join(args, " "), timeout, stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitState(t *testing.T, home string, id, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := flinkGoHome(t, home, 10*time.Second, "list", "-a")
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, id) && strings.Contains(line, state) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("job %s did not reach %s", id, state)
}

var jobIDRe = regexp.MustCompile(`JobID ([0-9a-f]{32})`)

// TestSessionListCancel: a local session runs two jobs from different binaries at once; list,
// the REST API and cancel work against it; stop ends it.
func TestSessionListCancel(t *testing.T) {
	home := t.TempDir()
	port := freePort(t)
	r := flinkGoHome(t, home, 30*time.Second, "cluster", "start", "-D", fmt.Sprintf("rest.port=%d", port))
	if r.code != 0 {
		t.Fatalf("cluster start: %s", r.stderr)
	}
	defer flinkGoHome(t, home, 30*time.Second, "cluster", "stop")
	var ids []string
	for _, job := range [][]string{{bin("unbounded"), "--name", "first"}, {bin("unbounded"), "--name", "second", "--rate", "500"}} {
		r := flinkGoHome(t, home, 60*time.Second, append([]string{"run", "-d"}, job...)...)
		m := jobIDRe.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("run -d: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		ids = append(ids, m[1])
	}
	for _, id := range ids {
		waitState(t, home, id, "RUNNING")
	}
	list := flinkGoHome(t, home, 10*time.Second, "list")
	for _, want := range []string{"first", "second"} {
		if !strings.Contains(list.stdout, want) {
			t.Errorf("list does not show %s:\n%s", want, list.stdout)
		}
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ov := getJSON(t, base+"/overview")
	if ov["jobs-running"].(float64) != 2 || ov["taskmanagers"].(float64) < 2 {
		t.Errorf("/overview: %v", ov)
	}
	jobs := getJSON(t, base+"/jobs/overview")["jobs"].([]any)
	if len(jobs) != 2 {
		t.Errorf("/jobs/overview lists %d jobs", len(jobs))
	}
	job := getJSON(t, base+"/jobs/"+ids[0])
	if job["state"] != "RUNNING" || len(job["vertices"].([]any)) == 0 {
		t.Errorf("/jobs/:id: %v", job)
	}
	if tms := getJSON(t, base+"/taskmanagers")["taskmanagers"].([]any); len(tms) < 2 {
		t.Errorf("/taskmanagers lists %d", len(tms))
	}
	for _, id := range ids {
		if r := flinkGoHome(t, home, 10*time.Second, "cancel", id); r.code != 0 {
			t.Fatalf("cancel: %s", r.stderr)
		}
		waitState(t, home, id, "CANCELED")
	}
	if r := flinkGoHome(t, home, 30*time.Second, "cluster", "stop"); r.code != 0 {
		t.Fatalf("cluster stop: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "local-session.json")); !os.IsNotExist(err) {
		t.Errorf("session file left behind")
	}
}

// TestEmbeddedListCancel: list and cancel work against the embedded one-shot cluster of
// `flink-go run -t local`.
func TestEmbeddedListCancel(t *testing.T) {
	home := t.TempDir()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("flink-go"), "run", "-t", "local", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port), bin("unbounded"))
	bounded(cmd)
	cmd.Env = append(os.Environ(), "FLINK_GO_HOME="+home, "FLINK_CONF_DIR=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var id string
	deadline := time.Now().Add(30 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		r := flinkGoHome(t, home, 10*time.Second, "list", "-m", addr)
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Contains(line, "RUNNING") {
				id = strings.Fields(line)[0]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if id == "" {
		t.Fatalf("the embedded job never showed as RUNNING\n%s", stderr.String())
	}
	if r := flinkGoHome(t, home, 10*time.Second, "cancel", "-m", addr, id); r.code != 0 {
		t.Fatalf("cancel: %s", r.stderr)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("a cancelled job should exit non-zero")
	}
	if !strings.Contains(stderr.String(), "cancelled") {
		t.Errorf("stderr does not say the job was cancelled:\n%s", stderr.String())
	}
}
