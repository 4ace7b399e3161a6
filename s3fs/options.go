package s3fs

import (
	"fmt"
	"github.com/flink-go/flink-go/configs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Configuration keys the FileSystem reads (see Configure). The first six are
// Flink's own s3.* keys; the others are flink-go's.
const (
	KeyEndpoint          = "s3.endpoint"
	KeyPathStyleAccess   = "s3.path.style.access"
	KeyAccessKey         = "s3.access-key"
	KeySecretKey         = "s3.secret-key"
	KeyEntropyKey        = "s3.entropy.key"
	KeyEntropyLength     = "s3.entropy.length"
	KeySessionToken      = "s3.session-token"
	KeyRegion            = "s3.region"
	KeyPartSize          = "s3.upload.part-size"
	KeyUploadConcurrency = "s3.upload.max-concurrency"
	KeyMaxAttempts       = "s3.retry.max-attempts"
	KeyBaseBackoff       = "s3.retry.base-backoff"
	KeyMaxBackoff        = "s3.retry.max-backoff"
	KeyConnectTimeout    = "s3.connection.timeout"
	KeyHeaderTimeout     = "s3.response-header.timeout"
	KeySocketTimeout     = "s3.socket.timeout"
)

// Limits and defaults.
const (
	// MinPartSize is S3's smallest allowed multipart part (except the last).
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest allowed part.
	MaxPartSize = 5 << 30
	// MaxParts is the most parts one multipart upload may have.
	MaxParts = 10000
	// MaxSinglePutCopy is the largest object CopyObject copies in one request;
	// larger ones are copied part by part (UploadPartCopy).
	MaxSinglePutCopy = 5 << 30

	DefaultRegion            = "us-east-1"
	DefaultPartSize          = 8 << 20
	DefaultUploadConcurrency = 4
	DefaultMaxAttempts       = 10
	DefaultBaseBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff        = 20 * time.Second
	DefaultConnectTimeout    = 10 * time.Second
	DefaultHeaderTimeout     = 2 * time.Minute
	DefaultSocketTimeout     = 2 * time.Minute
	DefaultEntropyLength     = 4
)

// Options configure a FileSystem. The zero value of a field means its
// documented default; OptionsFromConfig fills them from s3.* keys.
type Options struct {
	// Endpoint is the S3 endpoint URL (s3.endpoint), e.g.
	// "http://127.0.0.1:9000" for an S3-compatible store. Empty means the
	// SDK's choice: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else the AWS
	// endpoint of Region.
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key (s3.path.style.access); most S3-compatible stores
	// need it.
	PathStyle bool
	// Region signs requests (s3.region). Empty means AWS_REGION,
	// AWS_DEFAULT_REGION or the shared config's region; when none of them is
	// set either, the bucket's region is asked from S3 (HeadBucket's
	// x-amz-bucket-region) and us-east-1 is the fallback.
	Region string
	// AccessKey and SecretKey (s3.access-key, s3.secret-key, and
	// SessionToken, s3.session-token) are static credentials. Empty means
	// the SDK's default credential chain: AWS_ACCESS_KEY_ID/…, the shared
	// credentials file, web identity, ECS, then the EC2 instance profile —
	// what runs on EMR.
	AccessKey, SecretKey, SessionToken string
	// PartSize is the multipart part size in bytes (s3.upload.part-size);
	// files up to one part are written with one PutObject. Default 8 MiB,
	// at least 5 MiB.
	PartSize int64
	// UploadConcurrency is how many parts of one file upload at once
	// (s3.upload.max-concurrency). Default 4. A writer buffers at most
	// UploadConcurrency+1 parts.
	UploadConcurrency int
	// MaxAttempts is how often one request is tried (s3.retry.max-attempts)
	// on throttling (503 SlowDown), 5xx, RequestTimeout and dropped
	// connections. Default 10.
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff with full
	// jitter between attempts: attempt n waits a random time up to
	// min(MaxBackoff, BaseBackoff·2^n) (s3.retry.base-backoff,
	// s3.retry.max-backoff; defaults 200ms and 20s).
	BaseBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds a TCP connect (s3.connection.timeout, default
	// 10s); HeaderTimeout bounds the wait for a response's headers once the
	// request is sent (s3.response-header.timeout, default 2m). Both abort
	// one attempt, which is then retried. Overall deadlines come from the
	// contexts callers pass.
	ConnectTimeout, HeaderTimeout time.Duration
	// SocketTimeout bounds how long one read from or write to a connection
	// may block (s3.socket.timeout, default 2m): a connection that stalls —
	// the peer vanished without closing it — fails the attempt, which is then
	// retried (a read resumes where it stopped).
	SocketTimeout time.Duration
	// EntropyKey and EntropyLength configure entropy injection
	// (s3.entropy.key, s3.entropy.length; see InjectEntropy).
	EntropyKey    string
	EntropyLength int

	// regionExplicit records that Region was configured, not defaulted.
	regionExplicit bool
}

// OptionsFromConfig reads s3.* keys from conf (keys are matched
// case-sensitively, values are trimmed) and the AWS region variables from the
// environment. Unknown s3.* keys are ignored: Flink passes all of them on to
// Hadoop's S3A, so configurations carry many that do not apply here. Invalid
// values give an error naming the key.
func OptionsFromConfig(conf map[string]string) (Options, error) {
	var o Options
	get := func(k string) string { return strings.TrimSpace(conf[k]) }
	o.Endpoint = get(KeyEndpoint)
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return o, fmt.Errorf("s3fs: %s=%q: want an http:// or https:// URL such as http://127.0.0.1:9000", KeyEndpoint, o.Endpoint)
		}
	}
	var err error
	if v := get(KeyPathStyleAccess); v != "" {
		if o.PathStyle, err = strconv.ParseBool(v); err != nil {
			return o, fmt.Errorf("s3fs: %s=%q: want true or false", KeyPathStyleAccess, v)
		}
	}
	o.AccessKey, o.SecretKey, o.SessionToken = get(KeyAccessKey), get(KeySecretKey), get(KeySessionToken)
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return o, fmt.Errorf("s3fs: %s and %s must be set together", KeyAccessKey, KeySecretKey)
	}
	o.Region = get(KeyRegion)
	if o.Region == "" {
		o.Region = os.Getenv("AWS_REGION")
	}
	if o.Region == "" {
		o.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	o.regionExplicit = o.Region != ""
	if v := get(KeyPartSize); v != "" {
		if o.PartSize, err = parseBytes(v); err != nil {
			return o, fmt.Errorf("s3fs: %s=%q: %w", KeyPartSize, v, err)
		}
	}
	ints := []struct {
		key string
		dst *int
	}{{KeyUploadConcurrency, &o.UploadConcurrency}, {KeyMaxAttempts, &o.MaxAttempts}, {KeyEntropyLength, &o.EntropyLength}}
	for _, i := range ints {
		if v := get(i.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("s3fs: %s=%q: want a positive integer", i.key, v)
			}
			*i.dst = n
		}
	}
	durs := []struct {
		key string
		dst *time.Duration
	}{{KeyBaseBackoff, &o.BaseBackoff}, {KeyMaxBackoff, &o.MaxBackoff}, {KeyConnectTimeout, &o.ConnectTimeout}, {KeyHeaderTimeout, &o.HeaderTimeout}, {KeySocketTimeout, &o.SocketTimeout}}
	for _, d := range durs {
		if v := get(d.key); v != "" {
			x, err := parseDuration(v)
			if err != nil || x <= 0 {
				return o, fmt.Errorf("s3fs: %s=%q: want a positive duration such as 500ms or 30 s", d.key, v)
			}
			*d.dst = x
		}
	}
	o.EntropyKey = conf[KeyEntropyKey] // not trimmed: the marker is matched literally
	if err := o.validate(); err != nil {
		return o, err
	}
	return o, nil
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Region != "" && !o.regionExplicit {
		o.regionExplicit = true
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.UploadConcurrency == 0 {
		o.UploadConcurrency = DefaultUploadConcurrency
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff == 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.HeaderTimeout == 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.SocketTimeout == 0 {
		o.SocketTimeout = DefaultSocketTimeout
	}
	if o.EntropyLength == 0 {
		o.EntropyLength = DefaultEntropyLength
	}
	return o
}

func (o Options) validate() error {
	if o.PartSize != 0 && (o.PartSize < MinPartSize || o.PartSize > MaxPartSize) {
		return fmt.Errorf("s3fs: part size %d out of range: S3 allows %d (5 MiB) to %d (5 GiB)", o.PartSize, MinPartSize, int64(MaxPartSize))
	}
	if o.UploadConcurrency < 0 || o.MaxAttempts < 0 || o.EntropyLength < 0 {
		return fmt.Errorf("s3fs: negative upload concurrency, attempts or entropy length")
	}
	if o.BaseBackoff < 0 || o.MaxBackoff < 0 || o.ConnectTimeout < 0 || o.HeaderTimeout < 0 || o.SocketTimeout < 0 {
		return fmt.Errorf("s3fs: negative backoff or timeout")
	}
	if strings.Contains(o.EntropyKey, "/") {
		return fmt.Errorf("s3fs: %s=%q must not contain '/'", KeyEntropyKey, o.EntropyKey)
	}
	return nil
}

// parseBytes parses a positive memory size in Flink's syntax (configs.ParseMemorySize: "8388608",
// "8m", "16 mb", "64k", "1g").
func parseBytes(s string) (int64, error) {
	n, err := configs.ParseMemorySize(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 8388608, 8m or 16 mb")
	}
	return int64(n), nil
}

// parseDuration parses a duration in Flink's syntax (configs.ParseDuration: "500ms", "30 s";
// a plain number is milliseconds).
func parseDuration(s string) (time.Duration, error) {
	return configs.ParseDuration(s)
}

// ---- the process-wide configuration hook ----

var global struct {
	mu   sync.Mutex
	conf map[string]string
	opts Options
	err  error
}

// Configure sets the process-wide s3.* configuration that FileSystems created
// through fs.Get ("s3://bucket/...", "s3a://bucket/...") use. The job
// configuration's s3.* entries are meant to be passed here once at start-up;
// keys without the "s3." prefix are ignored. Configure re-registers the
// schemes, so FileSystems that fs.Get cached earlier are replaced by ones
// with the new settings on the next Get. Invalid values give an error and
// leave the previous configuration in place.
func Configure(conf map[string]string) error {
	c := make(map[string]string, len(conf))
	for k, v := range conf {
		if strings.HasPrefix(k, "s3.") {
			c[k] = v
		}
	}
	opts, err := OptionsFromConfig(c)
	if err != nil {
		return err
	}
	global.mu.Lock()
	global.conf, global.opts, global.err = c, opts, nil
	global.mu.Unlock()
	register()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	logger.Debug().Strs("keys", keys).Msg("s3 file system configured")
	return nil
}

// CurrentOptions returns the options of the process-wide configuration
// (Configure, else the environment alone).
func CurrentOptions() (Options, error) {
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.conf == nil {
		return OptionsFromConfig(nil) // re-read the environment each time
	}
	return global.opts, global.err
}
