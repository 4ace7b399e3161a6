// Package emrbed gives Go tests a local stand-in for the Amazon EMR and S3 APIs: moto's server
// (the PyPI package moto[server], installed by scripts/install-test-deps.sh), run on the
// loopback interface. moto keeps state, so tests assert on what the server recorded
// (DescribeCluster, ListSteps, DescribeStep, objects in buckets).
//
// A package whose tests need it:
//
//	func TestMain(m *testing.M) { emrbed.Main(m) }
//
//	func TestX(t *testing.T) {
//		bed := emrbed.Require(t) // skips without moto_server, unless required
//		bed.SetEnv(t)            // AWS_ENDPOINT_URL, dummy credentials, region
//		...
//	}
//
// moto does not run steps: a step stays RUNNING (the first) or PENDING until the cluster is
// terminated; tests of step completion use an in-memory API instead.
package emrbed

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/testing/internal/bedkit"
)

// Environment variables the package reads.
const (
	// EnvRequire, when "1" or "true" (or CI=true), makes a missing moto_server fail the test
	// instead of skipping it.
	EnvRequire = "FLINK_GO_REQUIRE_EMR_TESTBED"
	// EnvEndpoint names a running moto (or other EMR/S3-compatible) server to use instead of
	// starting one, e.g. http://127.0.0.1:5000.
	EnvEndpoint = "FLINK_GO_EMR_TESTBED_ENDPOINT"
	// EnvBinary overrides the moto_server command.
	EnvBinary = "FLINK_GO_MOTO_SERVER"
)

// Region is the region the test bed's clients use.
const Region = "us-east-1"

// Server is a running moto server.
type Server struct {
	endpoint string
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// Endpoint returns the server's base URL, http://127.0.0.1:PORT.
func (s *Server) Endpoint() string { return s.endpoint }

// LogPath returns the server's log file ("" for an external server).
func (s *Server) LogPath() string { return s.logPath }

func binary() string {
	if b := os.Getenv(EnvBinary); b != "" {
		return b
	}
	return "moto_server"
}

// Available reports whether a server can be had: EnvEndpoint is set or moto_server is on PATH.
func Available() bool {
	if os.Getenv(EnvEndpoint) != "" {
		return true
	}
	_, err := exec.LookPath(binary())
	return err == nil
}

func required() bool { return bedkit.EnvTrue(EnvRequire) || bedkit.EnvTrue("CI") }

// Start starts moto_server on a free loopback port and waits until it answers (or uses the
// server EnvEndpoint names). The log goes to a file in a temporary directory.
func Start(ctx context.Context) (*Server, error) {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		s := &Server{endpoint: ep}
		return s, s.waitReady(ctx, 30*time.Second)
	}
	bin, err := exec.LookPath(binary())
	if err != nil {
		return nil, fmt.Errorf("emrbed: %s not found (install it with scripts/install-test-deps.sh, or pip install 'moto[server]'): %w", binary(), err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("emrbed: finding a free port: %w", err)
		}
		s, err := startOn(ctx, bin, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOn(ctx context.Context, bin string, port int) (*Server, error) {
	dir, err := os.MkdirTemp("", "emrbed-")
	if err != nil {
		return nil, fmt.Errorf("emrbed: %w", err)
	}
	logPath := filepath.Join(dir, "moto.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("emrbed: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emrbed: starting %s: %w", bin, err)
	}
	s := &Server{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; log %s:\n%s", err, logPath, tail(log, 2000))
	}
	return s, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	what := fmt.Sprintf("emrbed: %s did not answer within %s", s.endpoint, limit)
	return bedkit.Poll(ctx, 100*time.Millisecond, what, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"/moto-api/data.json", nil)
		if err != nil {
			return true, fmt.Errorf("emrbed: endpoint %q: %w", s.endpoint, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return true, nil
			}
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		if s.done != nil {
			select {
			case <-s.done:
				return true, fmt.Errorf("emrbed: moto_server exited before it answered: %v", s.waitErr)
			default:
			}
		}
		return false, err
	})
}

// Reset clears all of the server's state (clusters, buckets).
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emrbed: reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emrbed: reset: HTTP %s", resp.Status)
	}
	return nil
}

// Stop ends a server that Start started (an external one is left alone).
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		_ = os.RemoveAll(filepath.Dir(s.logPath))
	})
}

// Env returns the environment for clients of the server (the AWS SDK, the aws CLI, the
// bootstrap script): endpoint, dummy credentials, region, and no EC2 metadata lookups.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":            s.endpoint,
		"AWS_ENDPOINT_URL_EMR":        s.endpoint,
		"AWS_ENDPOINT_URL_S3":         s.endpoint,
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  Region,
		"AWS_DEFAULT_REGION":          Region,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// SetEnv sets Env in the test's environment (restored after the test).
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// shared is the package's server, started by the first Require.
var shared bedkit.Once[*Server]

// Require returns the package's shared server, starting it on first use. Without moto_server
// the test is skipped, or fails when EnvRequire or CI=true is set. The server's state is reset
// before it is handed out, so each test starts empty.
func Require(t testing.TB) *Server {
	t.Helper()
	if !Available() {
		if required() {
			t.Fatalf("emrbed: moto_server not found and %s/CI require the EMR test bed: run scripts/install-test-deps.sh", EnvRequire)
		}
		t.Skip("emrbed: moto_server not found (scripts/install-test-deps.sh installs it): skipping the EMR API test")
	}
	s, err := shared.Get(func() (*Server, error) { return Start(context.Background()) })
	if err != nil {
		t.Fatalf("emrbed: %v", err)
	}
	if err := s.Reset(context.Background()); err != nil {
		t.Fatalf("emrbed: %v", err)
	}
	return s
}

// Main runs the package's tests and stops the shared server afterwards.
func Main(m *testing.M) {
	code := m.Run()
	_ = shared.Release(func(s *Server) error { s.Stop(); return nil })
	os.Exit(code)
}
