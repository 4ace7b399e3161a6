package fs_test

import (
	"context"
	"fmt"
	"os"

	"github.com/flink-go/flink-go/fs"
)

// Resolve a URI to its file system and publish a file atomically: readers see
// the old _metadata or the new one, never half of it.
func ExampleWriteFileAtomic() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	fsys, p, err := fs.Get(ctx, "file://"+dir+"/checkpoints/chk-7/_metadata")
	if err != nil {
		panic(err)
	}
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("checkpoint 7")); err != nil {
		panic(err)
	}
	data, _ := fs.ReadFile(ctx, fsys, p)
	entries, _ := fsys.List(ctx, fs.Dir(p))
	fmt.Println(string(data), len(entries), entries[0].Name())
	// Output: checkpoint 7 1 _metadata
}
