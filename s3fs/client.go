package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/rs/zerolog"
)

// logger is the package's logger; FileSystems derive theirs from it.
var logger = zerolog.New(os.Stderr).With().Timestamp().Str("component", "s3fs").Logger().Level(zerolog.InfoLevel)

// SetLogger replaces the package's logger (by default Info level to
// stderr). Retries are logged at Warn, configuration at Debug.
func SetLogger(l zerolog.Logger) { logger = l.With().Str("component", "s3fs").Logger() }

// sdkLogger adapts zerolog to the SDK's logger (it reports retries).
type sdkLogger struct{ log zerolog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if c == logging.Warn {
		s.log.Warn().Msgf(format, v...)
		return
	}
	s.log.Debug().Msgf(format, v...)
}

// loggingRetryer logs each retry at Info with its cause: throttling that
// slows checkpoints down should be visible.
type loggingRetryer struct {
	aws.Retryer
	log zerolog.Logger
}

// RetryDelay implements aws.Retryer.
func (r loggingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.Retryer.RetryDelay(attempt, err)
	if derr == nil {
		r.log.Info().Err(err).Int("attempt", attempt).Dur("backoff", d).Msg("retrying S3 request")
	}
	return d, derr
}

// backoff is exponential backoff with full jitter: attempt n (1-based) waits
// a uniformly random time in [0, min(max, base·2^(n-1))].
type backoff struct{ base, max time.Duration }

// BackoffDelay implements retry.BackoffDelayer.
func (b backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	return b.delay(attempt, rand.Float64()), nil
}

func (b backoff) delay(attempt int, r float64) time.Duration {
	limit := b.max
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 40 {
		if d := b.base << (attempt - 1); d > 0 && d < limit {
			limit = d
		}
	}
	return time.Duration(r * float64(limit))
}

// retryableTransport treats a connection that died mid-request or
// mid-response (EOF, reset, broken pipe) as retryable. The SDK's own checks
// already cover throttling (SlowDown, 503), 500/502/504, RequestTimeout and
// failed dials.
var retryableTransport = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
})

func newRetryer(o Options) aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.Backoff = backoff{base: o.BaseBackoff, max: o.MaxBackoff}
		// No client-side retry quota: a checkpoint writer should keep trying
		// for its attempts and then fail that upload, not fail fast because
		// other uploads used up a shared budget.
		so.RateLimiter = ratelimit.None
		so.Retryables = append([]retry.IsErrorRetryable{retry.NoRetryCanceledError{}, retryableTransport}, so.Retryables...)
	})
}

// configureTransport applies o's timeouts and pool sizes to tr.
func configureTransport(tr *http.Transport, o Options) {
	tr.Proxy = http.ProxyFromEnvironment
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: o.SocketTimeout}, nil
	}
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 90 * time.Second
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ExpectContinueTimeout = time.Second
	tr.ResponseHeaderTimeout = o.HeaderTimeout
}

// idleConn fails a Read or Write that blocks longer than idle: a stalled
// connection becomes a timeout error, which the retryer retries (and idle
// pooled connections are closed after idle, as IdleConnTimeout would).
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// Write writes in chunks of at most 256 KiB, each with a fresh deadline, so
// that a large part on a slow but moving connection does not time out.
func (c *idleConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), 256<<10)]
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(chunk)
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// newClient builds the SDK client for o (o has its defaults applied) and
// returns it with its region and HTTP transport. When no region was
// configured it asks S3 for the bucket's region.
func newClient(ctx context.Context, bucket string, o Options, log zerolog.Logger) (*s3.Client, string, *http.Transport, error) {
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return loggingRetryer{newRetryer(o), log} }),
		config.WithLogger(sdkLogger{log}),
		// Integrity: requests carry Content-MD5 (set by this package) and are
		// SigV4-signed over their payload on plain HTTP. Checksums beyond
		// what an API requires break some S3-compatible stores.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.AccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("s3fs: load the AWS configuration (AWS_* variables, ~/.aws/config): %w", err)
	}
	// Keep what the SDK configured on its transport (AWS_CA_BUNDLE's root
	// CAs) and add our timeouts; a transport of our own can release its
	// idle connections on Close.
	var tr *http.Transport
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	configureTransport(tr, o)
	cfg.HTTPClient = &http.Client{Transport: tr}
	discover := cfg.Region == ""
	if discover {
		cfg.Region = DefaultRegion
	}
	build := func(region string) *s3.Client {
		return s3.NewFromConfig(cfg, func(so *s3.Options) {
			so.Region = region
			if o.Endpoint != "" {
				so.BaseEndpoint = aws.String(o.Endpoint)
			}
			so.UsePathStyle = o.PathStyle
		})
	}
	client := build(cfg.Region)
	if !discover {
		return client, cfg.Region, tr, nil
	}
	region := bucketRegion(ctx, client, bucket)
	if region == "" || region == cfg.Region {
		return client, cfg.Region, tr, nil
	}
	log.Debug().Str("bucket", bucket).Str("region", region).Msg("using the bucket's region")
	return build(region), region, tr, nil
}

// bucketRegion asks S3 where a bucket lives: HeadBucket answers with
// x-amz-bucket-region even when it fails (301 from the wrong region, 403).
// It returns "" when the answer has no such header.
func bucketRegion(ctx context.Context, client *s3.Client, bucket string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}, func(so *s3.Options) {
		so.RetryMaxAttempts = 2
	})
	if err == nil {
		return aws.ToString(out.BucketRegion)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return "" // errors surface on real operations
}
