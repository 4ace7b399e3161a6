package bedkit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeScript writes a bash script into a temp dir and returns its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bed.sh")
	if err := os.WriteFile(p, []byte("set -eu\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptRunReturnsTheLastLine(t *testing.T) {
	p := writeScript(t, `
echo "progress for $1" >&2
echo first
echo "  $1 $BED_A $BED_B  "
echo
`)
	var stderr bytes.Buffer
	s := Script{Path: p, Env: []string{"BED_A=from-script-env", "BED_B=overridden"}, Stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := s.Run(ctx, "conf-dir", "BED_B=from-run")
	if err != nil {
		t.Fatal(err)
	}
	if got != "conf-dir from-script-env from-run" {
		t.Errorf("result %q", got)
	}
	if stderr.String() != "progress for conf-dir\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestScriptRunErrorNamesScriptAndVerb(t *testing.T) {
	p := writeScript(t, "echo partial; exit 3\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Script{Path: p, Stderr: &bytes.Buffer{}}.Run(ctx, "status")
	if err == nil || err.Error() != "bed.sh status: exit status 3" {
		t.Fatalf("Run = %v, want bed.sh status: exit status 3", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("%v does not wrap the exit error", err)
	}
	if _, err := (Script{}).Run(ctx, "start"); err == nil {
		t.Error("Run without a path succeeded")
	}
}

func TestScriptRunStopsWhenTheContextEnds(t *testing.T) {
	p := writeScript(t, "exec sleep 30\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Script{Path: p, WaitDelay: time.Second}.Run(ctx, "start")
	if err == nil {
		t.Fatal("a script killed by its context succeeded")
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Run took %s after its context ended", took)
	}
}

// TestScriptRunDoesNotWaitForADaemonHoldingStdout: a script that leaves a process behind with
// its stdout open does not block Run beyond WaitDelay.
func TestScriptRunDoesNotWaitForADaemonHoldingStdout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	p := writeScript(t, "sleep 30 &\necho $! >"+pidFile+"\necho started\n")
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	_, err := Script{Path: p, WaitDelay: 300 * time.Millisecond}.Run(ctx, "start")
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Run waited %s for the daemon's stdout", took)
	}
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("Run = %v, want exec.ErrWaitDelay (stdout held open past WaitDelay)", err)
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"one":              "one",
		"a\nb\n":           "b",
		"a\n  /conf  \n\n": "/conf",
		"a\r\nb\r\n":       "b",
	} {
		if got := LastLine(in); got != want {
			t.Errorf("LastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindScriptPrefersTheEnvironment(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "/nowhere/custom.sh")
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/none/none.sh")
	if err != nil || got != "/nowhere/custom.sh" {
		t.Fatalf("FindScript = %q, %v", got, err)
	}
}

func TestFindScriptInTheSourceTree(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/hadoop/minicluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(filepath.Join("..", "..", "hadoop", "minicluster.sh"))
	if got != want {
		t.Errorf("FindScript = %q, want %q", got, want)
	}
}

func TestFindScriptWalksUpFromTheWorkingDirectory(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	root := t.TempDir()
	script := filepath.Join(root, "testing", "probe", "bedkit-probe.sh")
	deep := filepath.Join(root, "a", "b", "c")
	for _, d := range []string{filepath.Dir(script), deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A directory of the script's name nearer to the working directory is not the script.
	if err := os.MkdirAll(filepath.Join(root, "a", "testing", "probe", "bedkit-probe.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("exit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	got, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/probe/bedkit-probe.sh")
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := filepath.EvalSymlinks(script); got != script && got != real {
		t.Errorf("FindScript = %q, want %q", got, script)
	}
}

func TestFindScriptNotFoundNamesTheVariable(t *testing.T) {
	t.Setenv("BEDKIT_TEST_SCRIPT", "")
	t.Chdir(t.TempDir())
	_, err := FindScript("BEDKIT_TEST_SCRIPT", "testing/none/none.sh")
	if err == nil {
		t.Fatal("a missing script was found")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "testing/none/none.sh not found from [") || !strings.HasSuffix(msg, "]; set BEDKIT_TEST_SCRIPT") {
		t.Errorf("message %q", msg)
	}
	if _, err := findUnder(nil, "X", "a.sh"); err == nil || err.Error() != "a.sh not found from []; set X" {
		t.Errorf("findUnder without roots = %v", err)
	}
}
