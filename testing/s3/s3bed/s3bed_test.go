package s3bed

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestOp(t *testing.T) {
	cases := []struct {
		method, target string
		header         string
		want           string
	}{
		{"PUT", "/b/k", "", "PutObject"},
		{"PUT", "/b/dir/k?partNumber=2&uploadId=u", "", "UploadPart"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", "X-Amz-Copy-Source", "UploadPartCopy"},
		{"PUT", "/b/k", "X-Amz-Copy-Source", "CopyObject"},
		{"PUT", "/b", "", "CreateBucket"},
		{"POST", "/b/k?uploads", "", "CreateMultipartUpload"},
		{"POST", "/b/k?uploadId=u", "", "CompleteMultipartUpload"},
		{"POST", "/b?delete", "", "DeleteObjects"},
		{"GET", "/b/a/b/c", "", "GetObject"},
		{"GET", "/b?list-type=2&prefix=a%2F", "", "ListObjectsV2"},
		{"HEAD", "/b/k", "", "HeadObject"},
		{"HEAD", "/b", "", "HeadBucket"},
		{"DELETE", "/b/k?uploadId=u", "", "AbortMultipartUpload"},
		{"DELETE", "/b/k", "", "DeleteObject"},
		{"DELETE", "/b/", "", "DeleteBucket"},
		{"GET", "/b?uploads", "", "Other"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.header != "" {
			r.Header.Set(c.header, "src/key")
		}
		if got := Op(r); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.target, got, c.want)
		}
	}
}

func TestRules(t *testing.T) {
	put := httptest.NewRequest("PUT", "/b/k", nil)
	get := httptest.NewRequest("GET", "/b/k", nil)
	r := Rules(EveryNth("PutObject", 2, SlowDown), FirstN("PutObject", 1, Drop), Always("GetObject", Cut))
	var got []Fault
	for range 4 {
		got = append(got, r(put))
	}
	if want := []Fault{Drop, SlowDown, Pass, SlowDown}; !equal(got, want) {
		t.Errorf("put faults %v, want %v", got, want)
	}
	if f := r(get); f != Cut {
		t.Errorf("get fault %v", f)
	}
}

func equal(a, b []Fault) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSanitize(t *testing.T) {
	if got := sanitize("TestX/Sub_Case#01"); got != "testx-sub-case-01" {
		t.Errorf("sanitize = %q", got)
	}
	if got := sanitize(strings.Repeat("a", 100)); len(got) != 40 {
		t.Errorf("sanitize keeps %d characters", len(got))
	}
}

// TestServerThroughProxy: the server works with the SDK, directly and
// through the fault proxy (signatures survive the proxy), and the SDK's own
// retries get through injected faults.
func TestServerThroughProxy(t *testing.T) {
	srv := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := srv.NewBucket(t)
	proxy, err := NewFaultProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := srv.ClientAt(proxy.URL())
	proxy.SetRule(Rules(FirstN("PutObject", 1, SlowDown), FirstN("GetObject", 1, Drop)))
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("a/b"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatalf("PutObject through the proxy: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b")})
	if err != nil {
		t.Fatalf("GetObject through the proxy: %v", err)
	}
	data, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || string(data) != "hello" {
		t.Fatalf("read %q, %v", data, err)
	}
	if proxy.Injected(SlowDown) != 1 || proxy.Injected(Drop) != 1 || proxy.Requests("PutObject") != 2 {
		t.Errorf("injected SlowDown %d, Drop %d; PutObject requests %d", proxy.Injected(SlowDown), proxy.Injected(Drop), proxy.Requests("PutObject"))
	}
	// The plain server sees the object too, and the bucket is cleaned up by NewBucket.
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("a/b")}); err != nil {
		t.Fatal(err)
	}
	// An error answer from the proxy is well-formed S3 XML.
	proxy.SetRule(Always("HeadBucket", InternalError))
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, proxy.URL()+"/"+bucket, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("HeadBucket through an InternalError rule: HTTP %d", resp.StatusCode)
	}
}

// TestStartIsIdempotent: a second Start joins the running server.
func TestStartIsIdempotent(t *testing.T) {
	srv := Require(t)
	if srv.Kind == "external" {
		t.Skip("external server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	again, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if again.Endpoint != srv.Endpoint || again.Kind != srv.Kind {
		t.Errorf("second Start: %s (%s), first %s (%s)", again.Endpoint, again.Kind, srv.Endpoint, srv.Kind)
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	// The first user still holds its lease: the server is up.
	if _, err := runScript(ctx, srv.script, "status"); err != nil {
		t.Errorf("server stopped while a user remains: %v", err)
	}
}
