// Package fstest is a conformance suite for fs.FileSystem implementations.
// Each implementation's tests call Run with a fresh, empty base directory;
// the suite checks the semantics the fs package documents.
package fstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
)

// Run runs the conformance suite against fsys below base, an existing empty
// directory.
func Run(t *testing.T, fsys fs.FileSystem, base string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := func(elem ...string) string { return fs.Join(append([]string{base}, elem...)...) }

	t.Run("CreateReadStat", func(t *testing.T) {
		data := bytes.Repeat([]byte("flink-go "), 1000)
		before := time.Now().Add(-2 * time.Second)
		w, err := fsys.Create(ctx, p("a", "b", "file.bin"), fs.CreateOptions{})
		if err != nil {
			t.Fatalf("Create (with missing parents): %v", err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := w.Close(); err == nil {
			t.Error("second Close succeeded")
		}
		got, err := fs.ReadFile(ctx, fsys, p("a", "b", "file.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile: %d bytes, %v; want %d bytes", len(got), err, len(data))
		}
		st, err := fsys.Stat(ctx, p("a", "b", "file.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != int64(len(data)) || st.IsDir || st.Path != p("a", "b", "file.bin") || st.Name() != "file.bin" {
			t.Errorf("Stat = %+v", st)
		}
		if st.ModTime.Before(before) || st.ModTime.After(time.Now().Add(2*time.Second)) {
			t.Errorf("ModTime %v not around now", st.ModTime)
		}
		if st.Mode.Perm() != 0o644 {
			t.Errorf("default perm = %v, want 0644", st.Mode.Perm())
		}
		dst, err := fsys.Stat(ctx, p("a", "b"))
		if err != nil || !dst.IsDir {
			t.Errorf("parent Stat = %+v, %v", dst, err)
		}
	})

	t.Run("RangedReads", func(t *testing.T) {
		data := []byte("0123456789abcdefghij")
		if err := fs.WriteFileAtomic(ctx, fsys, p("range"), data); err != nil {
			t.Fatal(err)
		}
		f, err := fsys.Open(ctx, p("range"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 5)
		if n, err := f.ReadAt(buf, 10); n != 5 || err != nil || string(buf) != "abcde" {
			t.Errorf("ReadAt(10) = %d %q %v", n, buf, err)
		}
		if off, err := f.Seek(15, io.SeekStart); off != 15 || err != nil {
			t.Fatalf("Seek = %d, %v", off, err)
		}
		rest, err := io.ReadAll(f)
		if err != nil || string(rest) != "fghij" {
			t.Errorf("read after seek = %q, %v", rest, err)
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		if err := fs.WriteFileAtomic(ctx, fsys, p("exists"), []byte("old")); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.Create(ctx, p("exists"), fs.CreateOptions{}); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Create over a file without Overwrite: %v, want ErrExist", err)
		}
		w, err := fsys.Create(ctx, p("exists"), fs.CreateOptions{Overwrite: true, Perm: 0o600})
		if err != nil {
			t.Fatalf("Create with Overwrite: %v", err)
		}
		if _, err := w.Write([]byte("new!")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(ctx, fsys, p("exists"))
		if err != nil || string(got) != "new!" {
			t.Fatalf("after overwrite: %q, %v", got, err)
		}
	})

	t.Run("Abort", func(t *testing.T) {
		w, err := fsys.Create(ctx, p("aborted"), fs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("partial")); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if ok, err := fs.Exists(ctx, fsys, p("aborted")); ok || err != nil {
			t.Fatalf("aborted file exists=%v err=%v", ok, err)
		}
	})

	t.Run("NotExist", func(t *testing.T) {
		missing := p("no", "such")
		if _, err := fsys.Open(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open: %v", err)
		}
		if _, err := fsys.Stat(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat: %v", err)
		}
		if _, err := fsys.List(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("List: %v", err)
		}
		if err := fsys.Delete(ctx, missing, true); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Delete: %v", err)
		}
		if err := fsys.Rename(ctx, missing, p("x")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Rename: %v", err)
		}
	})

	t.Run("RenameReplaces", func(t *testing.T) {
		if err := fs.WriteFileAtomic(ctx, fsys, p("r", "src"), []byte("source")); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFileAtomic(ctx, fsys, p("r", "dst"), []byte("destination")); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Rename(ctx, p("r", "src"), p("r", "dst")); err != nil {
			t.Fatalf("Rename over a file: %v", err)
		}
		got, err := fs.ReadFile(ctx, fsys, p("r", "dst"))
		if err != nil || string(got) != "source" {
			t.Fatalf("dst = %q, %v", got, err)
		}
		if ok, _ := fs.Exists(ctx, fsys, p("r", "src")); ok {
			t.Error("src still exists after rename")
		}
		// Directories rename too.
		if err := fsys.Rename(ctx, p("r"), p("r2")); err != nil {
			t.Fatalf("rename dir: %v", err)
		}
		if got, err := fs.ReadFile(ctx, fsys, p("r2", "dst")); err != nil || string(got) != "source" {
			t.Fatalf("after dir rename: %q, %v", got, err)
		}
	})

	t.Run("ListMkdirDelete", func(t *testing.T) {
		d := p("list")
		if err := fsys.MkdirAll(ctx, fs.Join(d, "sub", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fsys.MkdirAll(ctx, fs.Join(d, "sub"), 0o755); err != nil {
			t.Fatalf("MkdirAll of an existing dir: %v", err)
		}
		for _, name := range []string{"c", "a", "b"} {
			if err := fs.WriteFileAtomic(ctx, fsys, fs.Join(d, name), []byte(name+name)); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := fsys.List(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			if e.Path != fs.Join(d, e.Name()) {
				t.Errorf("entry path %q not under %q", e.Path, d)
			}
			if e.Name() == "sub" && !e.IsDir {
				t.Error("sub not a dir")
			}
			if e.Name() == "b" && e.Size != 2 {
				t.Errorf("b size %d", e.Size)
			}
		}
		if want := "a b c sub"; join(names) != want {
			t.Errorf("List names = %q, want %q (sorted, no temp files)", join(names), want)
		}
		if err := fsys.Delete(ctx, fs.Join(d, "sub"), false); !errors.Is(err, fs.ErrNotEmpty) {
			t.Errorf("non-recursive Delete of a non-empty dir: %v, want ErrNotEmpty", err)
		}
		if err := fsys.Delete(ctx, fs.Join(d, "a"), false); err != nil {
			t.Errorf("Delete file: %v", err)
		}
		if err := fsys.Delete(ctx, d, true); err != nil {
			t.Fatalf("recursive Delete: %v", err)
		}
		if ok, err := fs.Exists(ctx, fsys, d); ok || err != nil {
			t.Errorf("after recursive delete exists=%v err=%v", ok, err)
		}
	})

	t.Run("Permissions", func(t *testing.T) {
		// YARN staging directories are 0700, token and key files 0600.
		d := p("private")
		if err := fsys.MkdirAll(ctx, d, 0o700); err != nil {
			t.Fatal(err)
		}
		if st, err := fsys.Stat(ctx, d); err != nil || st.Mode.Perm() != 0o700 || !st.IsDir {
			t.Errorf("MkdirAll(0700): %+v, %v", st, err)
		}
		w, err := fsys.Create(ctx, d+"/secret", fs.CreateOptions{Perm: 0o600})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := fsys.Stat(ctx, d+"/secret"); err != nil || st.Mode.Perm() != 0o600 || st.Size != 0 {
			t.Errorf("Create(0600): %+v, %v", st, err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if _, err := fsys.Stat(cctx, base); !errors.Is(err, context.Canceled) {
			t.Errorf("Stat with a canceled context: %v", err)
		}
	})
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}
