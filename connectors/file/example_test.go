package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/connectors/file"
)

// Two parallel readers split one file by byte ranges; each line is read by exactly one.
func ExampleNewLineSource() {
	dir, _ := os.MkdirTemp("", "lines")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "in.txt")
	os.WriteFile(path, []byte("alpha\nbeta\ngamma\ndelta\n"), 0o644)

	src, err := file.NewLineSource(path)
	if err != nil {
		panic(err)
	}
	perSubtask, err := connectortest.ReadAll[string](context.Background(), src, 2, nil)
	if err != nil {
		panic(err)
	}
	for k, recs := range perSubtask {
		for _, r := range recs {
			fmt.Println(k, r.Value)
		}
	}
	// Output:
	// 0 alpha
	// 0 beta
	// 1 gamma
	// 1 delta
}
