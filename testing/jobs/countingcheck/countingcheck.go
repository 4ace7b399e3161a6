// Package countingcheck holds what the end-to-end tests of several packages (client, am) need
// to check a run of examples/counting: the output a failure-free run must commit, and the
// committed output itself, read from the part files of an output directory on any file system
// (local, HDFS, S3) and sorted so that runs at any parallelism compare line by line.
//
// examples/counting sends key (i*7919) mod keys for record i = 0 .. records-1, emits
// "<key> <count>" whenever a key's running count is a multiple of every, and "final <key>
// <count>" for every key at the end of its bounded input. Its file sink commits part files named
// part-*; files of pending or aborted transactions are hidden (a leading dot) and never read.
package countingcheck

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/fs"
)

// FinalPrefix starts the lines that carry a key's final count.
const FinalPrefix = "final "

// PartPrefix starts the names of the committed output files.
const PartPrefix = "part-"

// Expected returns the sorted output lines of a failure-free run of examples/counting with
// --records records, --keys keys and --every every. The job refuses a non-positive --keys or
// --every; for those, and for a negative records, Expected returns nil.
func Expected(records, keys, every int64) []string {
	if records < 0 || keys <= 0 || every <= 0 {
		return nil
	}
	counts := make([]int64, keys)
	var out []string
	for i := int64(0); i < records; i++ {
		k := (i * 7919) % keys
		counts[k]++
		if counts[k]%every == 0 {
			out = append(out, strconv.FormatInt(k, 10)+" "+strconv.FormatInt(counts[k], 10))
		}
	}
	for k := int64(0); k < keys; k++ {
		out = append(out, FinalPrefix+strconv.FormatInt(k, 10)+" "+strconv.FormatInt(counts[k], 10))
	}
	sort.Strings(out)
	return out
}

// Finals returns the lines of lines that carry a final count, in their order.
func Finals(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, FinalPrefix) {
			out = append(out, l)
		}
	}
	return out
}

// Lines splits the contents of output files into their non-empty lines and sorts them.
func Lines(contents ...[]byte) []string {
	var out []string
	for _, data := range contents {
		for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Parts is the committed output of a directory.
type Parts struct {
	// Files are the paths of the part files read, sorted.
	Files []string
	// Lines are their non-empty lines, sorted.
	Lines []string
}

// ReadParts reads the part files (part-*, not directories) directly under dir of fsys. A
// missing dir is an error wrapping fs.ErrNotExist (the job committed nothing, or the path is
// wrong); so is a part file that cannot be read.
func ReadParts(ctx context.Context, fsys fs.FileSystem, dir string) (Parts, error) {
	if fsys == nil {
		return Parts{}, fmt.Errorf("countingcheck: reading the output %s: no file system given", dir)
	}
	list, err := fsys.List(ctx, dir)
	if err != nil {
		return Parts{}, fmt.Errorf("countingcheck: listing the output directory %s (did the job commit any output?): %w", dir, err)
	}
	var p Parts
	var contents [][]byte
	for _, fi := range list {
		if fi.IsDir || !strings.HasPrefix(fi.Name(), PartPrefix) {
			continue
		}
		data, err := fs.ReadFile(ctx, fsys, fi.Path)
		if err != nil {
			return Parts{}, fmt.Errorf("countingcheck: reading the part file %s: %w", fi.Path, err)
		}
		p.Files = append(p.Files, fi.Path)
		contents = append(contents, data)
	}
	sort.Strings(p.Files)
	p.Lines = Lines(contents...)
	return p, nil
}
