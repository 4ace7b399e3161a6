package emr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/bootstrap"
)

// ObjectPutter writes an S3 object; *s3.Client implements it.
type ObjectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Published says where Publish put the files.
type Published struct {
	// Source is s3://bucket/prefix: the bootstrap action's --source.
	Source string
	// Script is the bootstrap action's path.
	Script string
	// SHA256 is the binary's checksum.
	SHA256 string
}

// BootstrapActionArg renders the action for 'aws emr create-cluster --bootstrap-actions'.
func (p Published) BootstrapActionArg() string {
	return fmt.Sprintf("Path=%s,Args=[--source,%s],Name=Install flink-go", p.Script, p.Source)
}

// Publish uploads the flink-go binary at binaryPath, its SHA-256 checksum file and the
// bootstrap script to s3://bucket/prefix/. The checksum is written after the binary, so that
// a node never sees a checksum for a binary that is not there yet.
func Publish(ctx context.Context, s3c ObjectPutter, bucket, prefix, binaryPath string) (Published, error) {
	if bucket == "" || strings.ContainsAny(bucket, "/:") {
		return Published{}, fmt.Errorf("publish: bucket %q: give the bucket name only (no s3:// and no path; use --prefix for the path)", bucket)
	}
	prefix = strings.Trim(prefix, "/")
	key := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "/" + name
	}
	source := "s3://" + bucket
	if prefix != "" {
		source += "/" + prefix
	}
	f, err := os.Open(binaryPath)
	if err != nil {
		return Published{}, fmt.Errorf("publish: the flink-go binary: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Published{}, fmt.Errorf("publish: %s: %w", binaryPath, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Published{}, fmt.Errorf("publish: reading %s: %w", binaryPath, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Published{}, fmt.Errorf("publish: %s: %w", binaryPath, err)
	}
	put := func(name string, body io.Reader, size int64, ctype string) error {
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key(name)), Body: body,
			ContentLength: aws.Int64(size), ContentType: aws.String(ctype),
		})
		if err != nil {
			return fmt.Errorf("publish: uploading s3://%s/%s (does the bucket exist, and may you write to it?): %w", bucket, key(name), err)
		}
		return nil
	}
	if err := put(bootstrap.BinaryName, f, st.Size(), "application/octet-stream"); err != nil {
		return Published{}, err
	}
	sumLine := []byte(sum + "  " + bootstrap.BinaryName + "\n")
	if err := put(bootstrap.ChecksumName, bytes.NewReader(sumLine), int64(len(sumLine)), "text/plain"); err != nil {
		return Published{}, err
	}
	script := bootstrap.Script()
	if err := put(bootstrap.ScriptName, bytes.NewReader(script), int64(len(script)), "text/x-shellscript"); err != nil {
		return Published{}, err
	}
	return Published{Source: source, Script: source + "/" + bootstrap.ScriptName, SHA256: sum}, nil
}
