package s3fs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/s3fs"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// Benchmarks against the local test server (loopback, one disk): they
// measure this package's overhead and request pattern, not S3's throughput.
//
//	go test ./s3fs -run '^$' -bench . -benchtime 3x

func benchFS(b *testing.B) *s3fs.FileSystem {
	srv := s3bed.Require(b)
	bucket := srv.NewBucket(b)
	conf := srv.Config()
	opts, err := s3fs.OptionsFromConfig(conf)
	if err != nil {
		b.Fatal(err)
	}
	f, err := s3fs.New(context.Background(), bucket, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

func BenchmarkWrite64MiB(b *testing.B) {
	f := benchFS(b)
	ctx := context.Background()
	data := randomBytes(64<<20, 64)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := fs.CopyFrom(ctx, f, fmt.Sprintf("/w/%d", i), bytes.NewReader(data), fs.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSequential64MiB(b *testing.B) {
	f := benchFS(b)
	ctx := context.Background()
	data := randomBytes(64<<20, 65)
	if _, err := fs.CopyFrom(ctx, f, "/r", bytes.NewReader(data), fs.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		file, err := f.Open(ctx, "/r")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, file)
		file.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d, %v", n, err)
		}
	}
}

// BenchmarkWriteFileAtomic1KiB is the cost of publishing a small file such
// as a checkpoint's _metadata: temp PUT, copy, delete and the checks around
// them.
func BenchmarkWriteFileAtomic1KiB(b *testing.B) {
	f := benchFS(b)
	ctx := context.Background()
	data := randomBytes(1024, 1)
	b.ResetTimer()
	for i := range b.N {
		if err := fs.WriteFileAtomic(ctx, f, fmt.Sprintf("/m/%d/_metadata", i), data); err != nil {
			b.Fatal(err)
		}
	}
}
