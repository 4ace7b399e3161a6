package fs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// Local is the FileSystem of the machine's own disks, registered for "file"
// and used for bare paths. Paths are absolute and slash-separated.
type Local struct{}

var _ FileSystem = Local{}

func localFactory(context.Context, *url.URL) (FileSystem, error) { return Local{}, nil }

func osPath(p string) string { return filepath.FromSlash(Clean(p)) }

// Open opens a local file for reading.
func (Local) Open(ctx context.Context, p string) (File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(osPath(p))
	if err != nil {
		return nil, err // *os.PathError: unwraps to ErrNotExist etc.
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: p, Err: errors.New("is a directory")}
	}
	return f, nil
}

// Create creates a local file (and its missing parent directories, mode 0755).
func (Local) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	op := osPath(p)
	if err := os.MkdirAll(filepath.Dir(op), 0o755); err != nil {
		return nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE
	if opts.Overwrite {
		flags |= os.O_TRUNC
	} else {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(op, flags, perm)
	if err != nil {
		return nil, err
	}
	return &localWriter{f: f}, nil
}

type localWriter struct {
	mu   sync.Mutex
	f    *os.File
	done bool
}

func (w *localWriter) Write(b []byte) (int, error) { return w.f.Write(b) }

// Close syncs the file to disk, then closes it.
func (w *localWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return fmt.Errorf("fs: close %s: %w", w.f.Name(), os.ErrClosed)
	}
	w.done = true
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("fs: sync %s: %w", w.f.Name(), err)
	}
	return w.f.Close()
}

// Abort closes and removes the file.
func (w *localWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return fmt.Errorf("fs: abort %s: %w", w.f.Name(), os.ErrClosed)
	}
	w.done = true
	cerr := w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return cerr
}

// Rename renames atomically (rename(2)), replacing a file at to, and syncs
// the destination directory so the new name survives a crash. The parent of
// to must exist.
func (Local) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(osPath(from), osPath(to)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(osPath(to)))
}

// syncDir fsyncs a directory, making renames and creations in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fs: sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some file systems cannot sync directories
		return fmt.Errorf("fs: sync directory %s: %w", dir, err)
	}
	return nil
}

// Delete removes a file or directory.
func (Local) Delete(ctx context.Context, p string, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := osPath(p)
	if op == string(filepath.Separator) {
		return &os.PathError{Op: "delete", Path: p, Err: os.ErrPermission}
	}
	if _, err := os.Lstat(op); err != nil {
		return err
	}
	if recursive {
		return os.RemoveAll(op)
	}
	err := os.Remove(op)
	var pe *os.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, syscall.EEXIST) {
		// Some systems report EEXIST for a non-empty directory.
		pe.Err = ErrNotEmpty
	}
	return err
}

// List lists a local directory, sorted by name.
func (Local) List(ctx context.Context, dir string) ([]FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(osPath(dir))
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed while listing
		} else if err != nil {
			return nil, err
		}
		out = append(out, toFileInfo(Join(dir, e.Name()), info))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Stat describes a local path.
func (Local) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return FileInfo{}, err
	}
	info, err := os.Stat(osPath(p))
	if err != nil {
		return FileInfo{}, err
	}
	return toFileInfo(Clean(p), info), nil
}

// MkdirAll creates a local directory and its parents.
func (Local) MkdirAll(ctx context.Context, p string, perm os.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if perm == 0 {
		perm = 0o755
	}
	return os.MkdirAll(osPath(p), perm)
}

func toFileInfo(p string, info os.FileInfo) FileInfo {
	fi := FileInfo{Path: p, ModTime: info.ModTime(), IsDir: info.IsDir(), Mode: info.Mode() & (os.ModePerm | os.ModeDir)}
	if !fi.IsDir {
		fi.Size = info.Size()
	}
	return fi
}
