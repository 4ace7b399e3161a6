package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/fs"
)

// Names in the storage layout.
const (
	// MetadataFileName is the file that makes a checkpoint directory a
	// checkpoint; written last, atomically.
	MetadataFileName = "_metadata"
	// SharedDirName is the job's directory for incremental (shared) files.
	SharedDirName = "shared"
	// CheckpointDirPrefix prefixes a checkpoint's directory name: chk-<id>.
	CheckpointDirPrefix = "chk-"
)

// CheckpointDir returns <jobDir>/chk-<id>; jobDir may be a URI.
func CheckpointDir(jobDir string, id int64) string {
	return joinURI(jobDir, CheckpointDirPrefix+strconv.FormatInt(id, 10))
}

// JobDir returns <checkpointsDir>/<jobID>, the job's checkpoint directory.
func JobDir(checkpointsDir, jobID string) string { return joinURI(checkpointsDir, jobID) }

// NewSavepointDir returns a fresh savepoint directory below targetDir:
// savepoint-<first 6 characters of the job id>-<12 random hex digits>, as
// Flink names them.
func NewSavepointDir(targetDir, jobID string) (string, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("checkpoint: random savepoint name: %w", err)
	}
	prefix := jobID
	if len(prefix) > 6 {
		prefix = prefix[:6]
	}
	return joinURI(targetDir, "savepoint-"+prefix+"-"+hex.EncodeToString(r[:])), nil
}

// parseCheckpointDirName returns n for "chk-<n>".
func parseCheckpointDirName(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, CheckpointDirPrefix)
	if !ok || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// splitURI splits "scheme://authority/p" into ("scheme://authority", "/p");
// a bare path has an empty prefix.
func splitURI(u string) (prefix, p string) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", u
	}
	rest := u[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return u, "/"
	}
	return u[:i+3+j], rest[j:]
}

// joinURI joins path elements to a URI or path without touching the scheme
// and authority.
func joinURI(base string, elem ...string) string {
	prefix, p := splitURI(base)
	return prefix + path.Join(append([]string{p}, elem...)...)
}

// SharedDir returns the job's shared directory (incremental files) of the checkpoint directory
// chkDir, a URI or path: its sibling named SharedDirName.
func SharedDir(chkDir string) string {
	return joinURI(parentURI(strings.TrimRight(chkDir, "/")), SharedDirName)
}

// parentURI returns the parent directory of a URI or path.
func parentURI(u string) string {
	prefix, p := splitURI(u)
	return prefix + path.Dir(p)
}

// WriteMetadata writes c's metadata to dir/_metadata atomically (temporary
// file, then rename), after the tasks' files: its presence marks the
// checkpoint complete.
func WriteMetadata(ctx context.Context, fsys fs.FileSystem, dir string, c *Completed) error {
	p := fs.Join(dir, MetadataFileName)
	data, err := MarshalMetadata(c)
	if err != nil {
		return &MetadataError{Path: p, Err: err}
	}
	if err := fs.WriteFileAtomic(ctx, fsys, p, data); err != nil {
		return &MetadataError{Path: p, Err: fmt.Errorf("write (is the checkpoint storage reachable and writable?): %w", err)}
	}
	return nil
}

// ReadMetadata reads dir/_metadata. Errors are *MetadataError naming the file
// and wrapping the cause (fs.ErrNotExist when there is no _metadata: the
// checkpoint never completed, or dir is not a checkpoint directory). The
// result's ExternalPath is dir.
func ReadMetadata(ctx context.Context, fsys fs.FileSystem, dir string) (*Completed, error) {
	p := fs.Join(dir, MetadataFileName)
	f, err := fsys.Open(ctx, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MetadataError{Path: p, Err: fmt.Errorf("no metadata file (checkpoint incomplete, or not a checkpoint directory): %w", err)}
		}
		return nil, &MetadataError{Path: p, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err != nil {
		return nil, &MetadataError{Path: p, Err: fmt.Errorf("read: %w", err)}
	}
	c, err := UnmarshalMetadata(data)
	if err != nil {
		return nil, &MetadataError{Path: p, Err: err}
	}
	c.ExternalPath = dir
	return c, nil
}

// ErrMissingFile marks a checkpoint whose referenced file is missing or has
// the wrong size.
var ErrMissingFile = errors.New("checkpoint references a missing or incomplete file")

// VerifyFiles checks that every file c references exists below dir (shared
// files below dir/../shared) with the recorded size; files referenced by
// absolute URI (entropy-injected) are looked up on their own file system.
func VerifyFiles(ctx context.Context, fsys fs.FileSystem, dir string, c *Completed) error {
	for _, f := range c.Files() {
		p := ResolveFile(dir, f)
		ffs, fp := fsys, p
		if IsAbsolutePath(f.Path) {
			var err error
			if ffs, fp, err = fs.Get(ctx, f.Path); err != nil {
				return fmt.Errorf("checkpoint %d: file %s: %w", c.ID, f.Path, err)
			}
		}
		st, err := ffs.Stat(ctx, fp)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("checkpoint %d: %w: %s (deleted by hand, or the shared directory moved?)", c.ID, ErrMissingFile, p)
			}
			return fmt.Errorf("checkpoint %d: stat %s: %w", c.ID, p, err)
		}
		if st.IsDir || st.Size != f.Size {
			return fmt.Errorf("checkpoint %d: %w: %s has %d bytes, metadata says %d", c.ID, ErrMissingFile, p, st.Size, f.Size)
		}
	}
	return nil
}

// FindLatest returns the newest checkpoint below jobDir (directories chk-<n>)
// whose _metadata reads and whose referenced files all exist, and the reasons
// the newer ones were skipped (newest first). A missing jobDir means no
// checkpoint: nil, nil. It never deletes anything.
func FindLatest(ctx context.Context, fsys fs.FileSystem, jobDir string) (*Completed, []error) {
	entries, err := fsys.List(ctx, jobDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("checkpoint: list %s: %w", jobDir, err)}
	}
	type cand struct {
		id  int64
		dir string
	}
	var cands []cand
	for _, e := range entries {
		if !e.IsDir {
			continue
		}
		if id, ok := parseCheckpointDirName(e.Name()); ok {
			cands = append(cands, cand{id, fs.Join(jobDir, e.Name())})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].id > cands[j].id })
	var skipped []error
	for _, cd := range cands {
		if err := ctx.Err(); err != nil {
			return nil, append(skipped, err)
		}
		c, err := ReadMetadata(ctx, fsys, cd.dir)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("skipping %s: %w", cd.dir, err))
			continue
		}
		if c.ID != cd.id {
			skipped = append(skipped, fmt.Errorf("skipping %s: its metadata is for checkpoint %d (directory renamed or copied?)", cd.dir, c.ID))
			continue
		}
		if err := VerifyFiles(ctx, fsys, cd.dir, c); err != nil {
			skipped = append(skipped, fmt.Errorf("skipping %s: %w", cd.dir, err))
			continue
		}
		return c, skipped
	}
	return nil, skipped
}

// FindLatestURI is FindLatest for a job directory given as a URI (or path):
// the result's ExternalPath is the checkpoint directory as a URI below
// jobDirURI, so a Coordinator with the same Config.JobDir owns it.
func FindLatestURI(ctx context.Context, jobDirURI string) (*Completed, []error) {
	fsys, p, err := fs.Get(ctx, jobDirURI)
	if err != nil {
		return nil, []error{fmt.Errorf("checkpoint: job directory %q: %w", jobDirURI, err)}
	}
	c, skipped := FindLatest(ctx, fsys, p)
	if c != nil {
		c.ExternalPath = CheckpointDir(jobDirURI, c.ID)
	}
	return c, skipped
}

// ResolveRestorePath reads the checkpoint or savepoint a job restores from
// (flink-go run -s <uri>): uri is its directory or its _metadata file, on any
// registered file system. The files it references are verified to exist. The
// result's ExternalPath is the directory as a URI (a bare path for local
// files).
func ResolveRestorePath(ctx context.Context, uri string) (*Completed, error) {
	fsys, p, err := fs.Get(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: restore path %q: %w", uri, err)
	}
	dir := p
	if fs.Base(p) == MetadataFileName {
		dir = fs.Dir(p)
	} else {
		st, err := fsys.Stat(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: restore path %q: %w", uri, err)
		}
		if !st.IsDir {
			return nil, fmt.Errorf("checkpoint: restore path %q is a file but not %s; pass the savepoint or checkpoint directory", uri, MetadataFileName)
		}
	}
	c, err := ReadMetadata(ctx, fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if entries, lerr := fsys.List(ctx, dir); lerr == nil {
				for _, e := range entries {
					if _, ok := parseCheckpointDirName(e.Name()); ok && e.IsDir {
						return nil, fmt.Errorf("checkpoint: restore path %q looks like a job's checkpoint directory; pass one of its chk-<n> directories: %w", uri, err)
					}
				}
			}
		}
		return nil, fmt.Errorf("checkpoint: restore path %q: %w", uri, err)
	}
	if err := VerifyFiles(ctx, fsys, dir, c); err != nil {
		return nil, fmt.Errorf("checkpoint: restore path %q: %w", uri, err)
	}
	u, _, err := fs.SplitURI(uri)
	if err == nil && u.Scheme != "file" {
		u.Path = dir
		c.ExternalPath = u.String()
	} else {
		c.ExternalPath = dir
	}
	return c, nil
}
