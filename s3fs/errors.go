package s3fs

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/flink-go/flink-go/fs"
)

// errorKind classifies an S3 error for mapping to fs sentinels and hints.
type errorKind int

const (
	kindOther errorKind = iota
	kindNotFound
	kindNoSuchBucket
	kindNoSuchUpload
	kindPermission
	kindPrecondition
	kindContext
	kindConnection
	kindUnavailable
)

// classify inspects an SDK error: its API error code and HTTP status.
func classify(err error) (errorKind, string, int) {
	if err == nil {
		return kindOther, "", 0
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return kindContext, "", 0
	}
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch code {
	case "NoSuchBucket":
		return kindNoSuchBucket, code, status
	case "NoSuchKey", "NotFound":
		return kindNotFound, code, status
	case "NoSuchUpload":
		return kindNoSuchUpload, code, status
	case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "AllAccessDisabled", "AccountProblem", "TokenRefreshRequired":
		return kindPermission, code, status
	case "PreconditionFailed":
		return kindPrecondition, code, status
	}
	switch status {
	case http.StatusNotFound:
		return kindNotFound, code, status
	case http.StatusForbidden:
		return kindPermission, code, status
	case http.StatusPreconditionFailed:
		return kindPrecondition, code, status
	}
	var reqSend *smithyhttp.RequestSendError
	if errors.As(err, &reqSend) {
		return kindConnection, code, status
	}
	if code == "SlowDown" || code == "RequestTimeout" || status >= 500 {
		return kindUnavailable, code, status
	}
	return kindOther, code, status
}

// isNotFound reports whether err means the object (not the bucket) is missing.
func isNotFound(err error) bool {
	k, _, _ := classify(err)
	return k == kindNotFound
}

// wrapErr turns an SDK error of operation op on s3://bucket/key into an error
// that satisfies errors.Is against the fs sentinels (ErrNotExist,
// ErrPermission, ErrExist) or the context's error, and names the likely cause.
func (f *FileSystem) wrapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	where := f.uri(key)
	kind, _, _ := classify(err)
	switch kind {
	case kindContext:
		return fmt.Errorf("s3: %s %s: %w", op, where, err)
	case kindNotFound:
		return fmt.Errorf("s3: %s %s: %w", op, where, errors.Join(fs.ErrNotExist, err))
	case kindNoSuchBucket:
		return fmt.Errorf("s3: %s %s: bucket %q does not exist (is the bucket name right? is s3.endpoint %s right?): %w",
			op, where, f.bucket, f.endpointDesc(), errors.Join(fs.ErrNotExist, err))
	case kindPermission:
		return fmt.Errorf("s3: %s %s: access denied (are credentials configured — s3.access-key/s3.secret-key, AWS_ACCESS_KEY_ID or the instance profile — and allowed on this bucket? is s3.endpoint %s / region %s right?): %w",
			op, where, f.endpointDesc(), f.region, errors.Join(fs.ErrPermission, err))
	case kindPrecondition:
		return fmt.Errorf("s3: %s %s: %w", op, where, errors.Join(fs.ErrExist, err))
	case kindUnavailable:
		return fmt.Errorf("s3: %s %s: S3 kept failing or throttling after %d attempts (spread the keys with s3.entropy.key, or raise s3.retry.max-attempts): %w",
			op, where, f.opts.MaxAttempts, err)
	case kindConnection:
		hint := ""
		if f.opts.Endpoint != "" && !f.opts.PathStyle {
			hint = "; S3-compatible stores usually need s3.path.style.access: true"
		}
		return fmt.Errorf("s3: %s %s: cannot reach S3 after %d attempts (is s3.endpoint %s right and reachable?%s): %w",
			op, where, f.opts.MaxAttempts, f.endpointDesc(), hint, err)
	}
	return fmt.Errorf("s3: %s %s: %w", op, where, err)
}

func (f *FileSystem) endpointDesc() string {
	if f.opts.Endpoint != "" {
		return f.opts.Endpoint
	}
	return "(AWS default)"
}
