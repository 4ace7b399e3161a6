package s3fs

import (
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/flink-go/flink-go/fs"
)

func TestOptionsFromConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	o, err := OptionsFromConfig(map[string]string{
		"s3.endpoint": " http://127.0.0.1:9000 ", "s3.path.style.access": "true",
		"s3.access-key": "ak", "s3.secret-key": "sk", "s3.upload.part-size": "16 MiB",
		"s3.retry.max-attempts": "3", "s3.retry.base-backoff": "50ms", "s3.connection.timeout": "5 s",
		"s3.entropy.key": "_entropy_", "s3.entropy.length": "6", "s3.some.hadoop-only.key": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Endpoint != "http://127.0.0.1:9000" || !o.PathStyle || o.AccessKey != "ak" || o.SecretKey != "sk" ||
		o.PartSize != 16<<20 || o.MaxAttempts != 3 || o.BaseBackoff != 50*time.Millisecond ||
		o.ConnectTimeout != 5*time.Second || o.EntropyKey != "_entropy_" || o.EntropyLength != 6 || o.Region != "" || o.regionExplicit {
		t.Errorf("options = %+v", o)
	}
	d := o.withDefaults()
	if d.UploadConcurrency != DefaultUploadConcurrency || d.MaxBackoff != DefaultMaxBackoff || d.HeaderTimeout != DefaultHeaderTimeout {
		t.Errorf("defaults = %+v", d)
	}
	if d := (Options{}).withDefaults(); d.PartSize != 8<<20 || d.EntropyLength != 4 || d.MaxAttempts != 10 {
		t.Errorf("zero options' defaults = %+v", d)
	}

	t.Setenv("AWS_REGION", "eu-west-1")
	if o, err := OptionsFromConfig(nil); err != nil || o.Region != "eu-west-1" || !o.regionExplicit {
		t.Errorf("AWS_REGION: %+v, %v", o, err)
	}
	if o, err := OptionsFromConfig(map[string]string{"s3.region": "ap-south-1"}); err != nil || o.Region != "ap-south-1" {
		t.Errorf("s3.region over AWS_REGION: %+v, %v", o, err)
	}

	for _, bad := range []map[string]string{
		{"s3.endpoint": "127.0.0.1:9000"},
		{"s3.path.style.access": "yes please"},
		{"s3.access-key": "ak"},
		{"s3.upload.part-size": "1m"},
		{"s3.upload.part-size": "6g"},
		{"s3.upload.part-size": "lots"},
		{"s3.retry.max-attempts": "0"},
		{"s3.entropy.length": "-1"},
		{"s3.retry.max-backoff": "soon"},
		{"s3.entropy.key": "a/b"},
	} {
		if _, err := OptionsFromConfig(bad); err == nil {
			t.Errorf("%v accepted", bad)
		} else {
			for k := range bad {
				if !strings.Contains(err.Error(), k) && !strings.Contains(err.Error(), "part size") {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
		}
	}
}

func TestConfigureKeepsPreviousOnError(t *testing.T) {
	t.Cleanup(func() { _ = Configure(nil) })
	if err := Configure(map[string]string{"s3.entropy.key": "_e_", "fs.other": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := Configure(map[string]string{"s3.retry.max-attempts": "none"}); err == nil {
		t.Fatal("invalid configuration accepted")
	}
	o, err := CurrentOptions()
	if err != nil || o.EntropyKey != "_e_" {
		t.Errorf("after a rejected Configure: %+v, %v", o, err)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: 2 * time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 100: 2 * time.Second} {
		if got := b.delay(attempt, 1); got != want {
			t.Errorf("attempt %d: max delay %v, want %v", attempt, got, want)
		}
		if got := b.delay(attempt, 0.5); got != want/2 {
			t.Errorf("attempt %d: half delay %v, want %v", attempt, got, want/2)
		}
	}
	if got, _ := b.BackoffDelay(3, nil); got < 0 || got > 400*time.Millisecond {
		t.Errorf("BackoffDelay(3) = %v", got)
	}
}

// apiErr builds an SDK-shaped error: an API error code inside an HTTP
// response error.
func apiErr(code string, status int) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
	}}
}

func TestRetryablesCoverThrottlingAndDrops(t *testing.T) {
	r := newRetryer(Options{}.withDefaults())
	for _, err := range []error{
		apiErr("SlowDown", 503), apiErr("InternalError", 500), apiErr("RequestTimeout", 400),
		io.ErrUnexpectedEOF, fmt.Errorf("read: %w", io.EOF),
		&smithyhttp.RequestSendError{Err: errors.New("connection reset by peer")},
	} {
		if !r.IsErrorRetryable(err) {
			t.Errorf("%v not retryable", err)
		}
	}
	for _, err := range []error{apiErr("NoSuchKey", 404), apiErr("AccessDenied", 403), apiErr("PreconditionFailed", 412)} {
		if r.IsErrorRetryable(err) {
			t.Errorf("%v retryable", err)
		}
	}
	if r.MaxAttempts() != DefaultMaxAttempts {
		t.Errorf("MaxAttempts = %d", r.MaxAttempts())
	}
	var _ retry.IsErrorRetryable = retryableTransport
	_ = aws.String
}

func TestErrorMapping(t *testing.T) {
	f := &FileSystem{bucket: "bkt", scheme: "s3", region: "us-east-1", opts: Options{Endpoint: "http://x:9000", MaxAttempts: 3}}
	cases := []struct {
		err      error
		sentinel error
		words    []string
	}{
		{apiErr("NoSuchKey", 404), fs.ErrNotExist, []string{"s3://bkt/a/b"}},
		{apiErr("NotFound", 404), fs.ErrNotExist, nil},
		{apiErr("NoSuchBucket", 404), fs.ErrNotExist, []string{`bucket "bkt"`, "s3.endpoint http://x:9000"}},
		{apiErr("AccessDenied", 403), fs.ErrPermission, []string{"credentials", "s3.access-key", "instance profile"}},
		{apiErr("InvalidAccessKeyId", 403), fs.ErrPermission, nil},
		{apiErr("", 403), fs.ErrPermission, nil},
		{apiErr("PreconditionFailed", 412), fs.ErrExist, nil},
		{apiErr("SlowDown", 503), nil, []string{"3 attempts", "s3.retry.max-attempts"}},
		{&smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}, nil, []string{"s3.endpoint http://x:9000", "reachable", "s3.path.style.access"}},
	}
	for _, c := range cases {
		err := f.wrapErr("open", "a/b", c.err)
		if c.sentinel != nil && !errors.Is(err, c.sentinel) {
			t.Errorf("%v: not %v", err, c.sentinel)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%v does not wrap the SDK error", err)
		}
		for _, w := range append(c.words, "s3://bkt/a/b") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q lacks %q", err, w)
			}
		}
	}
}

func TestEntropyResolve(t *testing.T) {
	fixed := func(n int) (string, error) { return strings.Repeat("Z", n), nil }
	e := Entropy{Key: "_entropy_", Length: 4}
	cases := []struct {
		in      string
		forData bool
		want    string
	}{
		{"s3://b/_entropy_/ckpt/chk-1/f", true, "s3://b/ZZZZ/ckpt/chk-1/f"},
		{"s3://b/_entropy_/ckpt/chk-1/_metadata", false, "s3://b/ckpt/chk-1/_metadata"},
		{"s3a://b/x/_entropy_/ckpt/", false, "s3a://b/x/ckpt/"},
		{"s3://b/pre_entropy_post/f", true, "s3://b/preZZZZpost/f"},
		{"s3://b/_entropy_/a/_entropy_/f", true, "s3://b/ZZZZ/a/_entropy_/f"}, // first occurrence only
		{"s3://b/ckpt/f", true, "s3://b/ckpt/f"},
		{"hdfs://nn/_entropy_/f", true, "hdfs://nn/_entropy_/f"},
		{"/local/_entropy_/f", true, "/local/_entropy_/f"},
	}
	for _, c := range cases {
		got, err := e.resolve(c.in, c.forData, fixed)
		if err != nil || got != c.want {
			t.Errorf("resolve(%q, %v) = %q, %v; want %q", c.in, c.forData, got, err, c.want)
		}
	}
	if got, _ := (Entropy{}).Resolve("s3://b/_entropy_/f", true); got != "s3://b/_entropy_/f" {
		t.Errorf("no key: %q", got)
	}
	// Real randomness: Length alphanumeric characters.
	got, err := Entropy{Key: "_e_", Length: 8}.Resolve("s3://b/_e_/f", true)
	if err != nil {
		t.Fatal(err)
	}
	part := strings.Split(strings.TrimPrefix(got, "s3://b/"), "/")[0]
	if len(part) != 8 || strings.Trim(part, alphanumeric) != "" {
		t.Errorf("random part %q", part)
	}
	s, _ := randomString(62 * 50)
	for _, c := range alphanumeric {
		if !strings.ContainsRune(s, c) {
			t.Errorf("character %q never drawn in %d", c, len(s))
		}
	}
}

func TestMultipartETag(t *testing.T) {
	p1, p2 := md5.Sum([]byte("part one")), md5.Sum([]byte("part two"))
	joined := md5.Sum(append(p1[:], p2[:]...))
	want := fmt.Sprintf(`"%x-2"`, joined)
	if got := multipartETag([][]byte{p1[:], p2[:]}); got != want {
		t.Errorf("multipartETag = %s, want %s", got, want)
	}
}

func TestCopyPartSizeAndSource(t *testing.T) {
	if got := copyPartSize(6 << 30); got != 512<<20 {
		t.Errorf("6 GiB: %d", got)
	}
	huge := int64(5) << 40 // 5 TiB, S3's maximum object
	ps := copyPartSize(huge)
	if (huge+ps-1)/ps > MaxParts || ps > MaxPartSize {
		t.Errorf("5 TiB: part size %d gives %d parts", ps, (huge+ps-1)/ps)
	}
	if got := copySource("bkt", "a b/c+d/é"); got != "bkt/a%20b/c%2Bd/%C3%A9" {
		t.Errorf("copySource = %q", got)
	}
}

func TestParseHelpers(t *testing.T) {
	for in, want := range map[string]int64{"8388608": 8 << 20, "8m": 8 << 20, "16 mb": 16 << 20, "64k": 64 << 10, "1g": 1 << 30, "10MB": 10 << 20} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for in, want := range map[string]time.Duration{"500": 500 * time.Millisecond, "30 s": 30 * time.Second, "2 min": 2 * time.Minute} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v", in, got, err)
		}
	}
}

func TestFactoryRejectsBadURIs(t *testing.T) {
	if _, _, err := fs.Get(t.Context(), "s3:///no-bucket/x"); err == nil || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("s3 URI without bucket: %v", err)
	}
	if _, _, err := fs.Get(t.Context(), "s3a://key:secret@bkt/x"); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("credentials in the URI: %v", err)
	}
	if _, err := New(t.Context(), "bad/bucket", Options{}); err == nil {
		t.Error("bucket with a slash accepted")
	}
}
