package s3fs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/s3fs"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// faultFS returns a FileSystem whose requests go through a fault-injecting
// proxy in front of the test server, with short backoffs.
func faultFS(t *testing.T, attempts int) (*s3fs.FileSystem, *s3bed.FaultProxy, *s3bed.Server, string) {
	t.Helper()
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	proxy, err := s3bed.NewFaultProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	opts := options(t, srv, proxy.URL())
	opts.MaxAttempts = attempts
	opts.BaseBackoff = 5 * time.Millisecond
	opts.MaxBackoff = 100 * time.Millisecond
	f, err := s3fs.New(context.Background(), bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, proxy, srv, bucket
}

func openUploads(t *testing.T, srv *s3bed.Server, bucket string) int {
	t.Helper()
	ups, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(ups.Uploads)
}

// TestMultipartUploadSurvivesThrottlingAndDrops: a 40 MiB upload while the
// proxy answers 503 SlowDown to every 2nd part request, drops the
// connection of every 3rd, fails the first CreateMultipartUpload with 500
// and loses the response of the first CompleteMultipartUpload after the
// server completed it. The upload is retried and completes with the right
// bytes.
func TestMultipartUploadSurvivesThrottlingAndDrops(t *testing.T) {
	f, proxy, srv, bucket := faultFS(t, 10)
	ctx := testCtx(t)
	proxy.SetRule(s3bed.Rules(
		s3bed.EveryNth("UploadPart", 2, s3bed.SlowDown),
		s3bed.EveryNth("UploadPart", 3, s3bed.Drop),
		s3bed.FirstN("CreateMultipartUpload", 1, s3bed.InternalError),
		s3bed.FirstN("CompleteMultipartUpload", 1, s3bed.DropAfter),
	))
	data := randomBytes(40<<20, 41)
	w, err := f.Create(ctx, "/ckpt/chk-1/state", fs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeChunks(t, w, data)
	if err := w.Close(); err != nil {
		t.Fatalf("Close under faults: %v", err)
	}
	proxy.SetRule(nil)
	t.Logf("requests: UploadPart %d, injected: SlowDown %d, drops %d, 500s %d, lost responses %d",
		proxy.Requests("UploadPart"), proxy.Injected(s3bed.SlowDown), proxy.Injected(s3bed.Drop),
		proxy.Injected(s3bed.InternalError), proxy.Injected(s3bed.DropAfter))
	if proxy.Injected(s3bed.SlowDown) == 0 || proxy.Injected(s3bed.Drop) == 0 || proxy.Injected(s3bed.InternalError) != 1 ||
		proxy.Injected(s3bed.DropAfter) != 1 {
		t.Errorf("not every fault was injected")
	}
	got, err := fs.ReadFile(ctx, f, "/ckpt/chk-1/state")
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
	if n := openUploads(t, srv, bucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

// TestLostResponsesAreIdempotent: a PutObject and a rename whose responses
// were lost after the server applied them still succeed, including the
// exclusive create (If-None-Match) whose retry finds its own object.
func TestLostResponsesAreIdempotent(t *testing.T) {
	f, proxy, _, _ := faultFS(t, 5)
	ctx := testCtx(t)
	proxy.SetRule(s3bed.Rules(
		s3bed.FirstN("PutObject", 1, s3bed.DropAfter),
		s3bed.FirstN("CopyObject", 1, s3bed.DropAfter),
		s3bed.FirstN("DeleteObject", 1, s3bed.DropAfter),
	))
	if err := fs.WriteFileAtomic(ctx, f, "/ckpt/_metadata", []byte("metadata v1")); err != nil {
		t.Fatalf("WriteFileAtomic with lost responses: %v", err)
	}
	if proxy.Injected(s3bed.DropAfter) != 3 {
		t.Errorf("lost %d responses, want 3 (put, copy, delete)", proxy.Injected(s3bed.DropAfter))
	}
	proxy.SetRule(nil)
	got, err := fs.ReadFile(ctx, f, "/ckpt/_metadata")
	if err != nil || string(got) != "metadata v1" {
		t.Fatalf("metadata = %q, %v", got, err)
	}
	entries, err := f.List(ctx, "/ckpt")
	if err != nil || len(entries) != 1 {
		t.Errorf("List = %v, %v; want only _metadata (no temp file)", entries, err)
	}
}

// TestReadResumesCutResponses: GET responses cut off half-way are resumed
// from where they stopped, for sequential reads and for ReadAt.
func TestReadResumesCutResponses(t *testing.T) {
	f, proxy, _, _ := faultFS(t, 5)
	ctx := testCtx(t)
	data := randomBytes(5<<20, 5)
	if _, err := fs.CopyFrom(ctx, f, "/r", bytes.NewReader(data), fs.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy.SetRule(s3bed.Rules(s3bed.FirstN("GetObject", 3, s3bed.Cut), s3bed.EveryNth("GetObject", 5, s3bed.SlowDown)))
	got, err := fs.ReadFile(ctx, f, "/r")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile through cut responses: %d bytes, %v", len(got), err)
	}
	file, err := f.Open(ctx, "/r")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	proxy.SetRule(s3bed.FirstN("GetObject", 2, s3bed.Cut))
	buf := make([]byte, 1<<20)
	if n, err := file.ReadAt(buf, 1234); err != nil || !bytes.Equal(buf[:n], data[1234:1234+n]) || n != len(buf) {
		t.Fatalf("ReadAt through cut responses: %d, %v", n, err)
	}
	if proxy.Injected(s3bed.Cut) != 5 {
		t.Errorf("%d responses cut, want 5", proxy.Injected(s3bed.Cut))
	}
}

// TestPermanentFailureIsClear: when S3 keeps throttling the part uploads the
// write fails within its attempts with an error naming the file and the
// cause, the multipart upload is aborted, and no file appears — what a
// checkpoint writer needs to decline the checkpoint.
func TestPermanentFailureIsClear(t *testing.T) {
	f, proxy, srv, bucket := faultFS(t, 4)
	ctx := testCtx(t)
	proxy.SetRule(s3bed.Always("UploadPart", s3bed.SlowDown))
	start := time.Now()
	w, err := f.Create(ctx, "/ckpt/chk-2/state", fs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(20<<20, 20)
	var werr error
	if _, werr = w.Write(data); werr == nil {
		werr = w.Close()
	} else {
		_ = w.Abort()
	}
	took := time.Since(start)
	if werr == nil {
		t.Fatal("write succeeded while every part upload was throttled")
	}
	t.Logf("error after %v: %v", took, werr)
	msg := werr.Error()
	for _, want := range []string{"s3://" + bucket + "/ckpt/chk-2/state", "upload part", "SlowDown"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if took > time.Minute {
		t.Errorf("failing took %v", took)
	}
	proxy.SetRule(nil)
	if n := openUploads(t, srv, bucket); n != 0 {
		t.Errorf("%d multipart uploads left open after the failure", n)
	}
	if ok, err := fs.Exists(ctx, f, "/ckpt/chk-2/state"); ok || err != nil {
		t.Errorf("failed file exists=%v err=%v", ok, err)
	}
	// Connections that always drop: a clear error too.
	proxy.SetRule(s3bed.Always("PutObject", s3bed.Drop))
	err = fs.WriteFileAtomic(ctx, f, "/ckpt/chk-2/_metadata", []byte("m"))
	if err == nil || !strings.Contains(err.Error(), "s3://"+bucket+"/ckpt/chk-2/") {
		t.Errorf("PutObject with dropped connections: %v", err)
	}
	t.Logf("dropped connections: %v", err)
	// The context's deadline stops retrying, however many attempts are left.
	opts := options(t, srv, proxy.URL())
	opts.MaxAttempts = 1000
	patient, err := s3fs.New(ctx, bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer patient.Close()
	proxy.SetRule(s3bed.Always("HeadObject", s3bed.SlowDown))
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := patient.Stat(cctx, "/x"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Stat with an expiring context under throttling: %v after %v", err, time.Since(start))
	}
}

// TestFailedPublishLeavesNothing: when publishing a checkpoint's _metadata
// fails for good (every copy throttled), WriteFileAtomic returns the error
// and leaves neither the file nor its temporary file.
func TestFailedPublishLeavesNothing(t *testing.T) {
	f, proxy, _, _ := faultFS(t, 3)
	ctx := testCtx(t)
	proxy.SetRule(s3bed.Always("CopyObject", s3bed.SlowDown))
	err := fs.WriteFileAtomic(ctx, f, "/ckpt/chk-9/_metadata", []byte("metadata"))
	if err == nil || !strings.Contains(err.Error(), "rename") || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("WriteFileAtomic with every copy throttled: %v", err)
	}
	proxy.SetRule(nil)
	if _, err := f.List(ctx, "/ckpt/chk-9"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the failed publish the directory still has entries (or: %v)", err)
	}
}

// TestStalledConnectionsAreRetried: connections that go silent — an upload
// the server stops reading, a download that stops mid-way — fail after
// s3.socket.timeout and are retried or resumed.
func TestStalledConnectionsAreRetried(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	proxy, err := s3bed.NewFaultProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	opts := options(t, srv, proxy.URL())
	opts.SocketTimeout = 500 * time.Millisecond
	opts.BaseBackoff, opts.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	ctx := testCtx(t)
	f, err := s3fs.New(ctx, bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := randomBytes(20<<20, 21)
	proxy.SetRule(s3bed.Rules(s3bed.FirstN("UploadPart", 1, s3bed.Stall), s3bed.FirstN("PutObject", 1, s3bed.Stall)))
	start := time.Now()
	if _, err := fs.CopyFrom(ctx, f, "/big", bytes.NewReader(data), fs.CreateOptions{}); err != nil {
		t.Fatalf("upload through a stalled part: %v", err)
	}
	if err := fs.WriteFileAtomic(ctx, f, "/small", []byte("small")); err != nil {
		t.Fatalf("put through a stalled connection: %v", err)
	}
	proxy.SetRule(s3bed.FirstN("GetObject", 1, s3bed.Stall))
	got, err := fs.ReadFile(ctx, f, "/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through a stalled response: %d bytes, %v", len(got), err)
	}
	if proxy.Injected(s3bed.Stall) != 3 {
		t.Errorf("%d stalls injected, want 3", proxy.Injected(s3bed.Stall))
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("recovering from 3 stalls took %v", took)
	}
}

// TestConfigureReplacesCachedFileSystems: after Configure, fs.Get hands out
// file systems with the new settings (here: an endpoint through a proxy).
func TestConfigureReplacesCachedFileSystems(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	proxy, err := s3bed.NewFaultProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	t.Cleanup(func() { _ = s3fs.Configure(nil) })
	ctx := testCtx(t)
	if err := s3fs.Configure(srv.Config()); err != nil {
		t.Fatal(err)
	}
	direct, p, err := fs.Get(ctx, "s3://"+bucket+"/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFileAtomic(ctx, direct, p, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if proxy.Requests("") != 0 {
		t.Fatalf("%d requests through the proxy before Configure pointed there", proxy.Requests(""))
	}
	if err := s3fs.Configure(srv.ConfigAt(proxy.URL())); err != nil {
		t.Fatal(err)
	}
	viaProxy, _, err := fs.Get(ctx, "s3://"+bucket+"/a")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fs.ReadFile(ctx, viaProxy, p); err != nil || string(got) != "a" {
		t.Fatalf("read through the new configuration: %q, %v", got, err)
	}
	if proxy.Requests("GetObject") != 1 {
		t.Errorf("GetObject requests through the proxy: %d, want 1", proxy.Requests("GetObject"))
	}
}
