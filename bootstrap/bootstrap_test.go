package bootstrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedScriptIsTheFile(t *testing.T) {
	file, err := os.ReadFile(ScriptName)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, Script()) {
		t.Fatal("the embedded script differs from install-flink-go.sh")
	}
}

// TestShellcheck runs shellcheck in POSIX sh mode. It is installed by
// scripts/install-test-deps.sh; without it the test skips, unless CI=true.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("FLINK_GO_REQUIRE_EMR_TESTBED") == "1" {
			t.Fatal("shellcheck not installed: run scripts/install-test-deps.sh")
		}
		t.Skip("shellcheck not installed (scripts/install-test-deps.sh installs it)")
	}
	out, err := exec.Command(sc, "-s", "sh", "-S", "style", ScriptName).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// shells are the POSIX shells available here to run the script with (dash is /bin/sh on
// Debian; EMR's Amazon Linux has bash as sh).
func shells(t *testing.T) []string {
	var out []string
	for _, s := range []string{"dash", "bash", "busybox"} {
		if p, err := exec.LookPath(s); err == nil {
			if s == "busybox" {
				continue // needs "busybox sh"; not worth the special case
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{"sh"}
	}
	return out
}

type release struct{ dir, sum string }

// publish writes a fake flink-go (a script answering --help) and its checksum into a
// directory, as 'flink-go emr publish' lays them out in S3.
func publish(t *testing.T, tag string) release {
	t.Helper()
	dir := t.TempDir()
	bin := []byte("#!/bin/sh\necho \"flink-go " + tag + " $*\"\n")
	if err := os.WriteFile(filepath.Join(dir, BinaryName), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(bin)
	sum := hex.EncodeToString(s[:])
	if err := os.WriteFile(filepath.Join(dir, ChecksumName), []byte(sum+"  flink-go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return release{dir, sum}
}

func run(t *testing.T, shell, root string, args ...string) (string, error) {
	t.Helper()
	script := filepath.Join(t.TempDir(), ScriptName)
	if err := os.WriteFile(script, Script(), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shell, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "FLINK_GO_BOOTSTRAP_ROOT="+root, "FLINK_GO_BOOTSTRAP_DOWNLOADER=curl")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func installedSum(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "usr/lib/flink-go/bin/flink-go"))
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestInstallFromDirectory(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	for _, sh := range shells(t) {
		t.Run(filepath.Base(sh), func(t *testing.T) {
			root := t.TempDir()
			r1 := publish(t, "v1")
			conf := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(conf, []byte("parallelism.default: 2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, sh, root, "--source", r1.dir, "--config", "file://"+conf)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if installedSum(t, root) != r1.sum {
				t.Fatal("wrong binary installed")
			}
			got, err := os.ReadFile(filepath.Join(root, "etc/flink-go/conf/config.yaml"))
			if err != nil || string(got) != "parallelism.default: 2\n" {
				t.Fatalf("config %q %v", got, err)
			}
			rec, err := os.ReadFile(filepath.Join(root, "usr/lib/flink-go/flink-go.sha256"))
			if err != nil || !strings.HasPrefix(string(rec), r1.sum) {
				t.Fatalf("recorded checksum %q %v", rec, err)
			}

			// Idempotent: a second run touches nothing it installed.
			before := snapshot(t, root)
			out, err = run(t, sh, root, "--source", r1.dir, "--config", "file://"+conf)
			if err != nil || !strings.Contains(out, "already installed") || !strings.Contains(out, "is up to date") {
				t.Fatalf("second run: %v\n%s", err, out)
			}
			if after := snapshot(t, root); after != before {
				t.Fatalf("the second run changed files:\nbefore %s\nafter  %s", before, after)
			}

			// Bad checksum (the checksum of another build): fails, keeps v1.
			r2 := publish(t, "v2")
			other := publish(t, "other")
			if err := os.WriteFile(filepath.Join(r2.dir, ChecksumName), []byte(other.sum+"  flink-go\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = run(t, sh, root, "--source", r2.dir)
			if err == nil || !strings.Contains(out, "checksum mismatch") {
				t.Fatalf("bad checksum: %v\n%s", err, out)
			}
			if installedSum(t, root) != r1.sum {
				t.Fatal("a failed install replaced the binary")
			}

			// Garbage checksum file.
			if err := os.WriteFile(filepath.Join(r2.dir, ChecksumName), []byte("<html>denied</html>\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = run(t, sh, root, "--source", r2.dir)
			if err == nil || !strings.Contains(out, "does not start with a SHA-256 hex digest") {
				t.Fatalf("garbage checksum: %v\n%s", err, out)
			}

			// Missing binary.
			r3 := publish(t, "v3")
			os.Remove(filepath.Join(r3.dir, BinaryName))
			out, err = run(t, sh, root, "--source", r3.dir)
			if err == nil || !strings.Contains(out, "ERROR: copying "+r3.dir+"/flink-go failed") {
				t.Fatalf("missing binary: %v\n%s", err, out)
			}

			// Usage errors.
			if out, err = run(t, sh, root); err == nil || !strings.Contains(out, "usage:") {
				t.Fatalf("no --source: %v\n%s", err, out)
			}
			if out, err = run(t, sh, root, "--source", r1.dir, "--bogus"); err == nil || !strings.Contains(out, "unknown argument '--bogus'") {
				t.Fatalf("unknown flag: %v\n%s", err, out)
			}
			// A regular file where the link goes is not overwritten.
			if err := os.Remove(filepath.Join(root, "usr/bin/flink-go")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "usr/bin/flink-go"), []byte("other"), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err = run(t, sh, root, "--source", r1.dir); err == nil || !strings.Contains(out, "exists and is not a link") {
				t.Fatalf("foreign file: %v\n%s", err, out)
			}
		})
	}
}

// snapshot renders the installed paths with their modification times and link targets.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"usr/lib/flink-go/bin/flink-go", "usr/lib/flink-go/flink-go.sha256", "usr/lib/flink-go/conf",
		"usr/bin/flink-go", "etc/flink-go/conf/config.yaml"} {
		st, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		link, _ := os.Readlink(filepath.Join(root, p))
		b.WriteString(p + "@" + st.ModTime().String() + "->" + link + "; ")
	}
	return b.String()
}
