// Package fs is flink-go's one file-system abstraction. Checkpoint storage,
// savepoints, the YARN staging directory and JobManager HA data all go through
// it, and the implementation is chosen by the URI scheme of the path:
//
//	file:///tmp/ckpt or /tmp/ckpt   the local file system (this package)
//	hdfs://nn:8020/flink/ckpt      HDFS (package hdfs registers "hdfs")
//	s3://bucket/prefix             S3 (registered by its own package)
//
// Typical use:
//
//	fsys, p, err := fs.Get(ctx, "hdfs://nn:8020/flink/checkpoints/chk-7/_metadata")
//	if err != nil { ... }
//	err = fs.WriteFileAtomic(ctx, fsys, p, data)
//
// Paths passed to a FileSystem are slash-separated and absolute ("/a/b"), as
// returned by Get; the scheme and authority are not part of them.
//
// # Semantics every implementation keeps
//
//   - Errors satisfy errors.Is against the io/fs sentinels re-exported here:
//     ErrNotExist when a path is missing, ErrExist when Create without
//     Overwrite finds a file, ErrPermission when access is denied, and
//     ErrNotEmpty when a non-recursive Delete meets a non-empty directory.
//   - Create makes missing parent directories. The bytes are durable once
//     Writer.Close returns nil. Whether a file under construction is visible
//     to Stat/List before Close depends on the file system (on HDFS and on
//     local disks it is), so publish files that readers poll for with Rename
//     or WriteFileAtomic; Writer.Abort discards a file that failed halfway.
//   - Rename replaces an existing destination file and is atomic on file
//     systems that have an atomic rename (local, HDFS). Object stores emulate it.
//   - Delete of a missing path returns an error wrapping ErrNotExist, so callers
//     that do not care test for it with errors.Is.
//   - List returns the entries of a directory sorted by name; listing a file
//     or a missing directory is an error.
//
// All methods take a context. Implementations check it before starting work
// and, where the underlying client allows, bound blocking I/O by its deadline.
package fs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"syscall"
	"time"
)

// Sentinel errors. They are the io/fs (and os) sentinels, so
// errors.Is(err, os.ErrNotExist) works too.
var (
	// ErrNotExist: the path does not exist.
	ErrNotExist = iofs.ErrNotExist
	// ErrExist: the path exists and the operation would have replaced it.
	ErrExist = iofs.ErrExist
	// ErrPermission: the caller may not access the path.
	ErrPermission = iofs.ErrPermission
	// ErrNotEmpty: a non-recursive Delete of a directory that has entries.
	ErrNotEmpty error = syscall.ENOTEMPTY
	// ErrUnsupportedScheme: no implementation is registered for a URI scheme.
	ErrUnsupportedScheme = errors.New("unsupported file system scheme")
)

// FileInfo describes a file or directory.
type FileInfo struct {
	// Path is the absolute, slash-separated path within its file system.
	Path string
	// Size in bytes; 0 for directories.
	Size int64
	// ModTime is the modification time as the file system reports it. On HDFS
	// it has millisecond resolution and is exactly what YARN compares
	// LocalResource timestamps against.
	ModTime time.Time
	// IsDir reports whether the entry is a directory.
	IsDir bool
	// Mode holds the permission bits (and os.ModeDir for directories).
	Mode os.FileMode
}

// Name returns the last element of Path.
func (fi FileInfo) Name() string {
	return Base(fi.Path)
}

// CreateOptions tune FileSystem.Create. The zero value creates a new file with
// mode 0644, failing with ErrExist if one is already there.
type CreateOptions struct {
	// Overwrite replaces an existing file instead of failing with ErrExist.
	Overwrite bool
	// Perm is the permission of the new file; 0 means 0644.
	Perm os.FileMode
	// Replication is the number of replicas on file systems that have them
	// (HDFS); 0 means the file system's default. Others ignore it.
	Replication int
	// BlockSize in bytes on file systems that have blocks (HDFS); 0 means the
	// file system's default. Others ignore it.
	BlockSize int64
}

// File is an open file for reading: sequential reads, seeks and ranged reads
// with ReadAt (which does not move the read offset).
type File interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
}

// Writer is a file being written. Close flushes, completes and closes the file;
// once it returns nil the data is durable. Abort gives up on the file: it closes
// it and removes what was written. Calling Close or Abort again after either one
// returns an error and has no effect.
type Writer interface {
	io.WriteCloser
	Abort() error
}

// FileSystem is the interface every storage back end implements. Paths are
// absolute and slash-separated, without scheme or authority; use Get to split a
// URI into a FileSystem and such a path. Implementations are safe for
// concurrent use.
type FileSystem interface {
	// Open opens a file for reading.
	Open(ctx context.Context, path string) (File, error)
	// Create creates a file for writing, making missing parent directories.
	Create(ctx context.Context, path string, opts CreateOptions) (Writer, error)
	// Rename moves from to to, replacing a file at to.
	Rename(ctx context.Context, from, to string) error
	// Delete removes a file or an empty directory; with recursive, a
	// directory and everything below it.
	Delete(ctx context.Context, path string, recursive bool) error
	// List returns a directory's entries sorted by name.
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// Stat describes one path.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// MkdirAll creates a directory and any missing parents. It succeeds if
	// the directory already exists.
	MkdirAll(ctx context.Context, path string, perm os.FileMode) error
}
