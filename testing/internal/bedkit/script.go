package bedkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultWaitDelay is how long Script.Run waits, once the script has exited or its context
// ended, for stdout and stderr to close (a daemon the script left behind may hold them)
// before it closes them itself.
const DefaultWaitDelay = 5 * time.Second

// FindScript returns the path of a test bed's control script. rel is its slash-separated path
// from the repository root, e.g. "testing/hadoop/minicluster.sh". The environment variable
// env, when set, wins (its value is returned as is); otherwise rel is looked for in the source
// tree this package was compiled from, then below the working directory and each of its
// parents. The error names the first place looked and the variable to set.
func FindScript(env, rel string) (string, error) {
	if s := os.Getenv(env); s != "" {
		return s, nil
	}
	var roots []string
	if _, file, _, ok := runtime.Caller(0); ok {
		// This file is <root>/testing/internal/bedkit/script.go.
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			roots = append(roots, dir)
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return findUnder(roots, env, rel)
}

// findUnder returns the first regular file rel below one of roots.
func findUnder(roots []string, env, rel string) (string, error) {
	candidates := make([]string, 0, len(roots))
	for _, r := range roots {
		c := filepath.Join(r, filepath.FromSlash(rel))
		candidates = append(candidates, c)
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s not found from %v; set %s", rel, candidates[:min(1, len(candidates))], env)
}

// Script runs one verb of a test bed's control script with bash.
type Script struct {
	// Path is the script's path.
	Path string
	// Env is added to this process's environment (later entries win).
	Env []string
	// Stderr receives the script's progress output; nil means os.Stderr.
	Stderr io.Writer
	// WaitDelay bounds the wait for the script's output pipes after it exited or its
	// context ended; 0 means DefaultWaitDelay.
	WaitDelay time.Duration
}

// Run runs "bash <Path> <verb>" with Env plus env and returns the last line of its stdout,
// trimmed ("" for no output). ctx bounds the run: when it ends the script is killed. The
// error names the script and the verb.
func (s Script) Run(ctx context.Context, verb string, env ...string) (string, error) {
	if s.Path == "" {
		return "", fmt.Errorf("run script verb %q: no script path", verb)
	}
	cmd := exec.CommandContext(ctx, "bash", s.Path, verb)
	cmd.Env = append(append(os.Environ(), s.Env...), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = s.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.WaitDelay = s.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w", filepath.Base(s.Path), verb, err)
	}
	return LastLine(out.String()), nil
}

// LastLine returns the last line of out, trimmed of surrounding white space; trailing blank
// lines are skipped.
func LastLine(out string) string {
	out = strings.TrimSpace(out)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return strings.TrimSpace(out)
}
