package emr

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
)

// maxDocumentSize bounds a classification document (EMR's own limit is far lower).
const maxDocumentSize = 4 << 20

// ObjectGetter reads an S3 object; *s3.Client implements it.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// LoadOptions say how LoadClassifications fetches and translates a document.
type LoadOptions struct {
	// Translate are the translation options.
	Translate TranslateOptions
	// HTTPClient fetches http(s):// documents; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// S3 fetches s3:// documents; nil means a client from the AWS default chain and AWS.
	S3 ObjectGetter
	// AWS configures the default S3 client.
	AWS AWSOptions
	// Logger receives the notices (ignored classifications and settings); nil means no-op.
	Logger *zerolog.Logger
}

// LoadClassifications reads the classification document at location (a file path, file://,
// http:// or https:// URL, or s3://bucket/key), parses and translates it. The notices are
// logged at info level. Errors name the location.
func LoadClassifications(ctx context.Context, location string, o LoadOptions) (*Result, error) {
	data, err := FetchDocument(ctx, location, o)
	if err != nil {
		return nil, err
	}
	cls, err := ParseClassifications(data, location)
	if err != nil {
		return nil, err
	}
	if o.Translate.Logger == nil {
		o.Translate.Logger = o.Logger
	}
	res, err := Translate(cls, o.Translate)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", location, err)
	}
	if o.Logger != nil {
		for _, n := range res.Notices {
			o.Logger.Info().Str("classifications", location).Msg(n)
		}
	}
	return res, nil
}

// FetchDocument reads the bytes at location (see LoadClassifications).
func FetchDocument(ctx context.Context, location string, o LoadOptions) ([]byte, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:\x" style paths have a 1-letter scheme
		return readFile(location)
	}
	switch u.Scheme {
	case "file":
		return readFile(u.Path)
	case "http", "https":
		return fetchHTTP(ctx, location, o.HTTPClient)
	case "s3", "s3a":
		bucket, key := u.Host, strings.TrimPrefix(u.Path, "/")
		if bucket == "" || key == "" {
			return nil, fmt.Errorf("classifications %s: expected s3://bucket/key", location)
		}
		getter := o.S3
		if getter == nil {
			c, err := NewS3Client(ctx, o.AWS)
			if err != nil {
				return nil, fmt.Errorf("classifications %s: %w", location, err)
			}
			getter = c
		}
		out, err := getter.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("classifications %s: reading the S3 object (does it exist, and may this role read it?): %w", location, err)
		}
		defer out.Body.Close()
		return readLimited(out.Body, location)
	default:
		return nil, fmt.Errorf("classifications %s: unsupported scheme %q (use a file path, https:// or s3://)", location, u.Scheme)
	}
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("classifications: %w", err)
	}
	defer f.Close()
	return readLimited(f, path)
}

func fetchHTTP(ctx context.Context, location string, client *http.Client) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, fmt.Errorf("classifications %s: %w", location, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("classifications %s: %w", location, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("classifications %s: HTTP %s: %s", location, resp.Status, strings.TrimSpace(string(snippet)))
	}
	return readLimited(resp.Body, location)
}

func readLimited(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("classifications %s: reading: %w", what, err)
	}
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("classifications %s: %w: larger than %d bytes", what, ErrClassification, maxDocumentSize)
	}
	return data, nil
}
