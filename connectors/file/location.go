package file

import (
	"context"
	"fmt"
	"strings"

	"github.com/flink-go/flink-go/fs"
)

// Paths given to the file connectors are URIs resolved by package fs: a bare path or file://
// URI is the local file system, hdfs://nn:8020/dir is HDFS (once package hdfs is imported),
// and so on. Inside sources, snapshots and committables a file is identified by its "id": the
// scheme and authority of the root URI followed by the file's absolute path ("/data/a.txt" for
// bare local paths, "hdfs://nn:8020/data/a.txt"), so ids resolve on any machine of the job.

// location is a resolved root: its file system, its path within it, and the id prefix.
type location struct {
	fsys   fs.FileSystem
	path   string
	prefix string
}

func resolve(ctx context.Context, uri string) (location, error) {
	u, p, err := fs.SplitURI(uri)
	if err != nil {
		return location{}, err
	}
	fsys, _, err := fs.Get(ctx, uri)
	if err != nil {
		return location{}, err
	}
	prefix := ""
	if strings.Contains(uri, "://") { // keep the user's scheme (and authority) in ids
		prefix = u.Scheme + "://"
		if u.User != nil {
			prefix += u.User.String() + "@"
		}
		prefix += u.Host
	}
	return location{fsys: fsys, path: p, prefix: prefix}, nil
}

// id returns the id of path p (a path within l.fsys).
func (l location) id(p string) string { return l.prefix + p }

// openID resolves an id to its file system and path.
func openID(ctx context.Context, id string) (fs.FileSystem, string, error) {
	fsys, p, err := fs.Get(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", id, err)
	}
	return fsys, p, nil
}
