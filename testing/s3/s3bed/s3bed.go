// Package s3bed gives Go tests a real S3-compatible server on the loopback
// interface: MinIO (or moto's server), run by testing/s3/s3server.sh.
//
// A package whose tests need S3 uses it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(s3bed.Main(m)) }
//
//	func TestCheckpointToS3(t *testing.T) {
//		srv := s3bed.Require(t)       // starts or joins the server; skips under -short
//		bucket := srv.NewBucket(t)    // a fresh bucket, emptied and removed after the test
//		s3fs.Configure(srv.Config())  // s3.endpoint, s3.path.style.access, keys, region
//		...
//	}
//
// Start uses the server FLINK_GO_S3_ENDPOINT names (with FLINK_GO_S3_ACCESS_KEY,
// FLINK_GO_S3_SECRET_KEY, FLINK_GO_S3_REGION), or the one s3server.sh runs,
// or starts one. Test packages running in parallel share it: each holds a
// lease, and the last one out stops a server that a test started (never one
// started by hand). FLINK_GO_S3_KEEP=1 keeps an auto-started server running.
package s3bed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flink-go/flink-go/testing/internal/bedkit"
)

// Environment variables the package reads.
const (
	// EnvEndpoint names an existing S3-compatible server to use.
	EnvEndpoint = "FLINK_GO_S3_ENDPOINT"
	// EnvAccessKey and EnvSecretKey are its credentials; EnvRegion its region
	// (default us-east-1).
	EnvAccessKey = "FLINK_GO_S3_ACCESS_KEY"
	EnvSecretKey = "FLINK_GO_S3_SECRET_KEY"
	EnvRegion    = "FLINK_GO_S3_REGION"
	// EnvScript overrides the path of s3server.sh.
	EnvScript = "FLINK_GO_S3_SCRIPT"
	// EnvKeep, when "1" or "true", keeps an auto-started server running.
	EnvKeep = "FLINK_GO_S3_KEEP"
)

var log = bedkit.Logger("s3bed")

// Server is a running S3-compatible server.
type Server struct {
	// Endpoint is its URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// AccessKey and SecretKey are valid credentials.
	AccessKey, SecretKey string
	// Region is the region to sign requests for.
	Region string
	// Kind is "minio", "moto" or "external".
	Kind string

	script   string
	workDir  string
	lease    string // this Server's lease file name, "<pid>.<n>" ("" if none)
	stopOnce sync.Once
	stopErr  error
}

// Available reports whether a server can be had: FLINK_GO_S3_ENDPOINT is
// set, or s3server.sh is found and bash with it.
func Available() bool {
	if os.Getenv(EnvEndpoint) != "" {
		return true
	}
	if _, err := findScript(); err != nil {
		return false
	}
	_, err := exec.LookPath("bash")
	return err == nil
}

// Start returns a running server: the one FLINK_GO_S3_ENDPOINT names, the one
// s3server.sh already runs, or one it starts (building MinIO the first time,
// which takes minutes).
func Start(ctx context.Context) (*Server, error) {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		s := &Server{Endpoint: strings.TrimRight(ep, "/"), AccessKey: os.Getenv(EnvAccessKey), SecretKey: os.Getenv(EnvSecretKey),
			Region: os.Getenv(EnvRegion), Kind: "external"}
		if s.Region == "" {
			s.Region = "us-east-1"
		}
		if s.AccessKey == "" || s.SecretKey == "" {
			return nil, fmt.Errorf("s3bed: %s is set but %s/%s are not", EnvEndpoint, EnvAccessKey, EnvSecretKey)
		}
		log.Info().Str("endpoint", s.Endpoint).Msg("using the server named by " + EnvEndpoint)
		return s, nil
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	workDir := scriptWorkDir()
	probe := func(ctx context.Context) (string, error) { return runScript(ctx, script, "status") }
	start := func(ctx context.Context) (string, error) {
		log.Info().Msg("no S3 test server running: starting one")
		if _, err := runScript(ctx, script, "start"); err != nil {
			return "", fmt.Errorf("s3bed: start the S3 test server (%s start): %w", script, err)
		}
		return "", nil
	}
	var s *Server
	lease := bedkit.NewLease()
	err = sharedServer(workDir).Join(ctx, lease, probe, start, func(string) error {
		s, err = loadProps(filepath.Join(workDir, "server.properties"))
		return err
	})
	if err != nil {
		return nil, err
	}
	s.script, s.workDir, s.lease = script, workDir, lease
	return s, nil
}

// sharedServer is the lock, lease and autostart bookkeeping of the server in workDir.
func sharedServer(workDir string) *bedkit.Shared {
	return &bedkit.Shared{Name: "s3bed", Noun: "S3 server", WorkDir: workDir, LockFile: ".s3bed.lock",
		KeepEnv: EnvKeep, StopTimeout: time.Minute, Log: log}
}

func loadProps(path string) (*Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("s3bed: read the server's properties (did s3server.sh start succeed?): %w", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	s := &Server{Endpoint: props["endpoint"], AccessKey: props["access.key"], SecretKey: props["secret.key"],
		Region: props["region"], Kind: props["kind"]}
	if s.Endpoint == "" || s.AccessKey == "" {
		return nil, fmt.Errorf("s3bed: %s lacks endpoint or access.key", path)
	}
	return s, nil
}

// Stop releases this process's use of the server. The server itself stops
// only when a test started it, no other test process uses it, and
// FLINK_GO_S3_KEEP is not set. Stop is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	if s.lease == "" {
		return nil
	}
	// A server started by hand is left running.
	return sharedServer(s.workDir).Leave(s.lease, func(ctx context.Context) error {
		_, err := runScript(ctx, s.script, "stop")
		return err
	})
}

// Config returns the s3.* configuration that points the S3 file system at
// this server (for s3fs.Configure or a job's configuration).
func (s *Server) Config() map[string]string {
	return map[string]string{
		"s3.endpoint":          s.Endpoint,
		"s3.path.style.access": "true",
		"s3.access-key":        s.AccessKey,
		"s3.secret-key":        s.SecretKey,
		"s3.region":            s.Region,
	}
}

// ConfigAt is Config with the endpoint replaced, e.g. by a FaultProxy's URL
// in front of this server.
func (s *Server) ConfigAt(endpoint string) map[string]string {
	c := s.Config()
	c["s3.endpoint"] = endpoint
	return c
}

// Env returns the AWS_* environment (KEY=value) for child processes that
// read S3 settings from the environment.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}
}

// Client returns an SDK client for the server (path-style, static keys, few
// retries), for setting up and checking test data behind the file system's
// back.
func (s *Server) Client() *s3.Client {
	return s.ClientAt(s.Endpoint)
}

// ClientAt is Client for another endpoint in front of the same server, such
// as a FaultProxy.
func (s *Server) ClientAt(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:           s.Region,
		BaseEndpoint:     aws.String(endpoint),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RetryMaxAttempts: 3,
		HTTPClient:       &http.Client{Timeout: time.Minute},
		// Checksums only where an API requires them: moto and older MinIO
		// releases reject some of the SDK's newer defaults.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket (no error if this server already has it).
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if s.Region != "" && s.Region != "us-east-1" {
		// As on AWS: buckets outside us-east-1 name their region.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.Region)}
	}
	_, err := s.Client().CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3bed: create bucket %s on %s: %w", name, s.Endpoint, err)
	}
	return nil
}

// EmptyAndDeleteBucket removes every object, every unfinished multipart
// upload and then the bucket.
func (s *Server) EmptyAndDeleteBucket(ctx context.Context, name string) error {
	c := s.Client()
	b := aws.String(name)
	pager := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: b})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3bed: list %s: %w", name, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("s3bed: empty %s: %w", name, err)
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
	if err == nil {
		for _, u := range ups.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: u.Key, UploadId: u.UploadId})
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		return fmt.Errorf("s3bed: delete bucket %s: %w", name, err)
	}
	return nil
}

// NewBucket creates a bucket with a unique name for one test and removes it
// (with its contents) when the test ends, unless the test failed and
// FLINK_GO_S3_KEEP is set.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := strings.ToLower(fmt.Sprintf("t-%s-%s", sanitize(t.Name()), hex.EncodeToString(r[:])))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv(EnvKeep) != "" {
			t.Logf("s3bed: keeping bucket %s of the failed test", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.EmptyAndDeleteBucket(ctx, name); err != nil {
			t.Errorf("s3bed: clean up: %v", err)
		}
	})
	return name
}

// sanitize keeps bucket names valid: lower-case letters, digits and dashes,
// at most 40 characters of the test name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 40 {
		out = strings.Trim(out[:40], "-")
	}
	return out
}

// ---- TestMain support ----

// beds is the package's shared server (one, under the key struct{}{}).
var beds bedkit.Beds[struct{}, *Server]

// Main runs a test package with one shared server: the first test that
// calls Require starts or joins it, and Main releases it after the tests. A
// package whose selected tests never call Require starts nothing. Use it as
// os.Exit(s3bed.Main(m)).
func Main(m *testing.M) int {
	code, err := beds.Run(m, func(_ struct{}, s *Server) error { return s.Stop() })
	if err != nil {
		log.Error().Err(err).Msg("release the S3 server")
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Require returns the package's server, starting or joining it on first use.
// It skips the test under -short or when no server can be had (no
// s3server.sh and no FLINK_GO_S3_ENDPOINT), and fails it when the server
// cannot be started. Without Main in TestMain each call starts (or joins) a
// server and releases it in t.Cleanup.
func Require(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("s3bed: -short: skipping the S3 test")
	}
	if !Available() {
		t.Skip("s3bed: testing/s3/s3server.sh not found and " + EnvEndpoint + " unset: skipping the S3 test")
	}
	s, err := beds.Require(t, struct{}{}, bedkit.Starter[*Server]{
		Start:   Start,
		Timeout: 15 * time.Minute,
		Release: func(s *Server) error {
			if err := s.Stop(); err != nil {
				return fmt.Errorf("s3bed: release the server: %w", err)
			}
			return nil
		},
		Ready: func(s *Server, err error, took time.Duration) {
			if err != nil {
				log.Error().Err(err).Msg("S3 server did not start: S3 tests fail")
				return
			}
			log.Info().Dur("took", took).Str("kind", s.Kind).Str("endpoint", s.Endpoint).Msg("S3 server ready")
		},
	})
	if err != nil {
		t.Fatalf("s3bed: no S3 server: %v", err)
	}
	return s
}

// ---- helpers ----

func findScript() (string, error) {
	script, err := bedkit.FindScript(EnvScript, "testing/s3/s3server.sh")
	if err != nil {
		return "", fmt.Errorf("s3bed: %w", err)
	}
	return script, nil
}

// scriptWorkDir mirrors the script's default: FLINK_GO_S3_WORK, else
// $FLINK_GO_CACHE/s3server, else ~/.cache/flink-go/s3server.
func scriptWorkDir() string {
	if w := os.Getenv("FLINK_GO_S3_WORK"); w != "" {
		return w
	}
	cache := os.Getenv("FLINK_GO_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "flink-go")
	}
	return filepath.Join(cache, "s3server")
}

// runScript runs s3server.sh with one verb; the last line of its stdout is
// the result, its stderr (progress) goes to ours.
func runScript(ctx context.Context, script, verb string) (string, error) {
	return bedkit.Script{Path: script}.Run(ctx, verb)
}
