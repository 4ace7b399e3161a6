package hdfs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/testing/hadoop/testbed"
)

// BenchmarkWriteRead streams 64 MiB into a new HDFS file and reads it back
// (go test -run XXX -bench . -benchtime 3x ./hdfs/).
func BenchmarkWriteRead(b *testing.B) {
	c := testbed.Require(b)
	ctx := context.Background()
	opts, err := hdfs.LoadOptions(c.ConfDir())
	if err != nil {
		b.Fatal(err)
	}
	fsys, err := hdfs.New(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	const mib = 64
	b.SetBytes(2 * mib << 20)
	for i := 0; i < b.N; i++ {
		p := fmt.Sprintf("/tmp/bench/%d-%d", time.Now().UnixNano(), i)
		w, err := fsys.Create(ctx, p, fs.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < mib; j++ {
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f, err := fsys.Open(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, f)
		f.Close()
		if err != nil || n != mib<<20 {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		_ = fsys.Delete(ctx, p, false)
	}
}
