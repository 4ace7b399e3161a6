package s3fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// TestMultipartCopy renames a file through UploadPartCopy (the path objects
// over 5 GiB take), with the limits lowered so that 13 MiB make three parts.
func TestMultipartCopy(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	oldLimit, oldPart := singleCopyLimit, minCopyPartSize
	singleCopyLimit, minCopyPartSize = 6<<20, 5<<20
	t.Cleanup(func() { singleCopyLimit, minCopyPartSize = oldLimit, oldPart })
	conf := srv.Config()
	opts, err := OptionsFromConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := New(ctx, bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 13<<20)
	_, _ = rand.Read(data)
	if _, err := fs.CopyFrom(ctx, f, "/big", bytes.NewReader(data), fs.CreateOptions{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(ctx, "/big", "/moved/big"); err != nil {
		t.Fatal(err)
	}
	h, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("moved/big")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(aws.ToString(h.ETag), `-3"`) {
		t.Errorf("ETag %s: want a 3-part multipart copy", aws.ToString(h.ETag))
	}
	if got, err := fs.ReadFile(ctx, f, "/moved/big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copied file: %d bytes, %v", len(got), err)
	}
	if st, err := f.Stat(ctx, "/moved/big"); err != nil || st.Mode.Perm() != 0o600 {
		t.Errorf("copied metadata: %+v, %v", st, err)
	}
	if ok, _ := fs.Exists(ctx, f, "/big"); ok {
		t.Error("source still exists")
	}
	ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("open uploads after the copy: %v, %v", ups, err)
	}
}
