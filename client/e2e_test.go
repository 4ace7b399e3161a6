package client_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var binDir string

// TestMain builds the CLI and the job binaries the end-to-end tests run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flink-go-e2e-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for name, pkg := range map[string]string{
		"flink-go":  "../cmd/flink-go",
		"wordcount": "../examples/wordcount",
		"panicjob":  "../testing/jobs/panicjob",
		"unbounded": "../testing/jobs/unbounded",
		"counting":  "../examples/counting",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, ":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// flinkGo runs the CLI with a timeout (nothing may hang) in an isolated FLINK_GO_HOME.
func flinkGo(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return flinkGoHome(t, t.TempDir(), timeout, args...)
}

func bin(name string) string { return filepath.Join(binDir, name) }

// writeText writes about size bytes of random words and returns the expected counts, computed
// the way `tr -s ' ' '\n' < F | sort | uniq -c` does.
func writeText(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	written := 0
	for written < size {
		n := 1 + r.IntN(12)
		for j := 0; j < n; j++ {
			if j > 0 {
				w.WriteByte(' ')
				written++
			}
			// Zipf-like vocabulary: a few frequent words, a long tail.
			word := fmt.Sprintf("w%d", int(r.ExpFloat64()*2000))
			w.WriteString(word)
			written += len(word)
		}
		w.WriteByte('\n')
		written++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func shellCounts(t *testing.T, input string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "tr -s ' ' '\\n' < "+input+" | sort | uniq -c | awk '{print $2\"\\t\"$1}' | LC_ALL=C sort").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// outputCounts is the wordcount output of dir as `sort` prints it.
func outputCounts(t *testing.T, dir string) string {
	t.Helper()
	p := localParts(t, dir)
	if len(p.Files) == 0 {
		t.Fatalf("no part files in %s", dir)
	}
	return strings.Join(p.Lines, "\n") + "\n"
}

// TestWordCountMatchesShell is acceptance point 2: a 50 MB file, counted with TaskManagers as
// goroutines and as processes, equals `tr | sort | uniq -c`.
func TestWordCountMatchesShell(t *testing.T) {
	size := 50 << 20
	if testing.Short() {
		size = 2 << 20
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "input.txt")
	writeText(t, input, size)
	want := shellCounts(t, input)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"goroutines", []string{"-D", "local.taskmanagers=2"}},
		{"processes", []string{"-D", "local.taskmanagers=2", "-D", "local.taskmanagers.processes=true"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+mode.name)
			args := append([]string{"run", "-t", "local", "-p", "2", "-D", "rest.port=0"}, mode.args...)
			args = append(args, bin("wordcount"), "--input", input, "--output", out)
			start := time.Now()
			r := flinkGo(t, 5*time.Minute, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			t.Logf("%d MB counted in %s (%s)", size>>20, time.Since(start).Round(time.Millisecond), mode.name)
			if got := outputCounts(t, out); got != want {
				t.Fatalf("counts differ from tr|sort|uniq -c (got %d lines, want %d)", strings.Count(got, "\n"), strings.Count(want, "\n"))
			}
		})
	}
}

// TestBadInput is acceptance point 6: each bad input gives one clear error, a non-zero exit
// code, and nothing hangs.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	badConf := filepath.Join(dir, "badconf")
	os.MkdirAll(badConf, 0o755)
	os.WriteFile(filepath.Join(badConf, "config.yaml"), []byte("parallelism:\n  default: two\n"), 0o644)
	notJob := filepath.Join(dir, "notjob.sh")
	os.WriteFile(notJob, []byte("#!/bin/sh\necho hello\n"), 0o755)
	input := filepath.Join(dir, "in.txt")
	os.WriteFile(input, []byte("a b\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"malformed config", []string{"run", "--conf-dir", badConf, bin("wordcount"), "--input", input},
			[]string{"config.yaml:2", "parallelism.default", "two"}},
		{"unknown option", []string{"run", "-D", "parallelism.defualt=2", bin("wordcount"), "--input", input},
			[]string{"parallelism.defualt", "unknown"}},
		{"missing input file", []string{"run", "-D", "rest.port=0", bin("wordcount"), "--input", filepath.Join(dir, "nope.txt")},
			[]string{"nope.txt", "no such file"}},
		{"not a flink-go job", []string{"run", notJob},
			[]string{"not a flink-go job"}},
		{"missing binary", []string{"run", filepath.Join(dir, "missing")},
			[]string{"does not exist"}},
		{"user function panics", []string{"run", "-D", "rest.port=0", bin("panicjob")},
			[]string{"FAILED", "boom at record 500", "panicjob/main.go"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := flinkGo(t, 2*time.Minute, c.args...)
			if r.code == 0 {
				t.Fatalf("exit code 0, want non-zero\nstderr:\n%s", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}
