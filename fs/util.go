package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// WriteFileAtomic writes data to path so that readers see either the old file
// or the complete new one, never a partial file: it writes a temporary file
// next to path (a hidden name starting with "._tmp."), closes it, then renames
// it over path. On error the temporary file is removed.
func WriteFileAtomic(ctx context.Context, fsys FileSystem, path string, data []byte) error {
	return WriteFileAtomicWith(ctx, fsys, path, data, CreateOptions{})
}

// WriteFileAtomicWith is WriteFileAtomic with create options for the file
// (permission, replication); Overwrite is implied.
func WriteFileAtomicWith(ctx context.Context, fsys FileSystem, path string, data []byte, opts CreateOptions) error {
	path = Clean(path)
	if path == "/" {
		return fmt.Errorf("fs: write %q: cannot replace the root directory", path)
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("fs: write %s: random temp name: %w", path, err)
	}
	tmp := Join(Dir(path), "._tmp."+Base(path)+"."+hex.EncodeToString(suffix[:]))
	opts.Overwrite = false
	w, err := fsys.Create(ctx, tmp, opts)
	if err != nil {
		return fmt.Errorf("fs: write %s: create temp file: %w", path, err)
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(fmt.Errorf("fs: write %s: %w", tmp, err), w.Abort())
	}
	if err := w.Close(); err != nil {
		_ = fsys.Delete(context.WithoutCancel(ctx), tmp, false)
		return fmt.Errorf("fs: write %s: close temp file: %w", path, err)
	}
	if err := fsys.Rename(ctx, tmp, path); err != nil {
		_ = fsys.Delete(context.WithoutCancel(ctx), tmp, false)
		return fmt.Errorf("fs: write %s: rename temp file into place: %w", path, err)
	}
	return nil
}

// ReadFile reads a whole file.
func ReadFile(ctx context.Context, fsys FileSystem, path string) ([]byte, error) {
	f, err := fsys.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("fs: read %s: %w", path, err)
	}
	return data, nil
}

// Exists reports whether path exists. Errors other than ErrNotExist are
// returned.
func Exists(ctx context.Context, fsys FileSystem, path string) (bool, error) {
	_, err := fsys.Stat(ctx, path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	return false, err
}

// CopyFrom streams r into a new file at path and closes it, aborting the file
// on error. It returns the number of bytes written.
func CopyFrom(ctx context.Context, fsys FileSystem, path string, r io.Reader, opts CreateOptions) (int64, error) {
	w, err := fsys.Create(ctx, path, opts)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return n, errors.Join(fmt.Errorf("fs: copy into %s: %w", path, err), w.Abort())
	}
	if err := w.Close(); err != nil {
		return n, fmt.Errorf("fs: close %s: %w", path, err)
	}
	return n, nil
}
