package client_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// TestRunBinaryFromS3: `flink-go run s3://bucket/job` (as an EMR step does) downloads the job
// binary and runs it.
func TestRunBinaryFromS3(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	data, err := os.ReadFile(bin("wordcount"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("jobs/wordcount"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	input := dir + "/in.txt"
	os.WriteFile(input, []byte("to be or not to be\n"), 0o644)
	r := flinkGoHome(t, dir, 2*time.Minute, append(append([]string{"run", "-D", "rest.port=0"}, s3Flags(srv.Config())...),
		"s3://"+bucket+"/jobs/wordcount", "--input", input, "--output", dir+"/out")...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got := committedLines(t, dir+"/out")
	if len(got) != 4 || got[0] != "be\t2" {
		t.Fatalf("counts %v", got)
	}
}
