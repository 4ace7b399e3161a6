package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
)

// faultFS wraps a FileSystem and injects failures: writes into the n-th created file fail after
// some bytes, and reads of files whose name contains readFail fail halfway.
type faultFS struct {
	fs.FileSystem
	failCreate int32 // 1-based index of the Create whose writes fail; 0: none
	creates    atomic.Int32
	readFail   string
}

var errInjected = errors.New("injected I/O error")

func (f *faultFS) Create(ctx context.Context, path string, opts fs.CreateOptions) (fs.Writer, error) {
	w, err := f.FileSystem.Create(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	if f.creates.Add(1) == f.failCreate {
		return &failingWriter{Writer: w, left: 100}, nil
	}
	return w, nil
}

type failingWriter struct {
	fs.Writer
	left int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n, _ := w.Writer.Write(p[:w.left])
		w.left = 0
		return n, errInjected
	}
	w.left -= len(p)
	return w.Writer.Write(p)
}

func (f *faultFS) Open(ctx context.Context, path string) (fs.File, error) {
	file, err := f.FileSystem.Open(ctx, path)
	if err != nil || f.readFail == "" || !strings.Contains(path, f.readFail) {
		return file, err
	}
	return &failingFile{File: file}, nil
}

type failingFile struct {
	fs.File
	read int
}

func (f *failingFile) Read(p []byte) (int, error) {
	if f.read > 10 {
		return 0, errInjected
	}
	n, err := f.File.Read(p[:min(len(p), 11)])
	f.read += n
	return n, err
}

func TestUploadWriteFailure(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{MemTableSize: 64 << 10, TransferConcurrency: 1})
	for i := 0; i < 5000; i++ {
		_ = s.Set(key(i), []byte("some value bytes"))
	}
	want := dump(t, s)
	p, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.files) < 3 {
		t.Fatalf("want several files, have %d", len(p.files))
	}
	ffs := &faultFS{FileSystem: st.fsys, failCreate: 2}
	_, _, err = p.Upload(context.Background(), ffs, st.shared, st.private(1), st.uploaded)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Upload through a failing file system: %v", err)
	}
	if !strings.Contains(err.Error(), "upload ") || !strings.Contains(err.Error(), "checkpoint 1") {
		t.Errorf("error does not say which checkpoint and file: %v", err)
	}
	t.Logf("error: %v", err)
	// No partial file: the failed copy was aborted, and every file left in storage is a
	// complete copy of a file of the prepared checkpoint.
	sizes := map[string]int64{}
	for _, f := range p.files {
		sizes[f.name] = f.size
	}
	for _, dir := range []string{st.shared, st.private(1)} {
		entries, err := st.fsys.List(context.Background(), dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			local := e.Name()
			if dir == st.shared {
				local = local[17:] // "<16 hex>-"
			}
			if want, ok := sizes[local]; !ok || e.Size != want {
				t.Errorf("partial or unknown file left behind: %s (%d bytes, local file %d bytes)", e.Path, e.Size, want)
			}
		}
	}
	// The next checkpoint, on a healthy file system, succeeds and restores.
	snap, _ := st.checkpoint(t, s, 2)
	rs, err := st.restore(t, snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "after a failed upload", dump(t, rs), want)
}

func TestRestoreReadFailure(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	for i := 0; i < 1000; i++ {
		_ = s.Set(key(i), []byte("v"))
	}
	snap, _ := st.checkpoint(t, s, 1)
	ffs := &faultFS{FileSystem: st.fsys, readFail: snap.Files[0].Name}
	dir := filepath.Join(t.TempDir(), "r")
	_, err := Restore(context.Background(), ffs, snap, st.shared, st.private(1), Options{Dir: dir})
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), snap.Files[0].Name) {
		t.Fatalf("restore with a failing read: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed restore left a database behind")
	}
	if _, err := os.Stat(filepath.Join(dir, "restore")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed restore left its staging directory behind")
	}
	// A cancelled context stops the restore.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Restore(ctx, st.fsys, snap, st.shared, st.private(1), Options{Dir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("restore with a cancelled context: %v", err)
	}
	// And the same directory restores fine afterwards.
	rs, err := Restore(context.Background(), st.fsys, snap, st.shared, st.private(1), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if got := len(dump(t, rs)); got != 1000 {
		t.Fatalf("restored %d keys", got)
	}
}

func TestSnapshotDescriptor(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	_ = s.Set([]byte("k"), []byte("v"))
	snap, _ := st.checkpoint(t, s, 7)
	data, err := MarshalSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*back) != fmt.Sprint(*snap) {
		t.Fatalf("round trip:\n%+v\n%+v", back, snap)
	}
	rs, err := st.restore(t, back, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := rs.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatal("restore from a decoded descriptor lost the key")
	}
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(string(data), `"id":`, `"extra":1,"id":`, 1),
		"trailing":      string(data) + "{}",
		"bad name":      strings.Replace(string(data), `"local":"MANIFEST-`, `"local":"../MANIFEST-`, 1),
		"not json":      "PK\x03\x04",
		"empty":         "",
	} {
		if _, err := UnmarshalSnapshot([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := MarshalSnapshot(nil); err == nil {
		t.Error("MarshalSnapshot(nil): no error")
	}
}

// stallFS serves files whose reads block until the file is closed: a remote store that
// stopped answering.
type stallFS struct{ fs.FileSystem }

func (f stallFS) Open(ctx context.Context, path string) (fs.File, error) {
	file, err := f.FileSystem.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return &stallingFile{File: file, closed: make(chan struct{})}, nil
}

type stallingFile struct {
	fs.File
	closed chan struct{}
	once   sync.Once
}

func (f *stallingFile) Read([]byte) (int, error) {
	<-f.closed
	return 0, errors.New("read on a closed file")
}

func (f *stallingFile) Close() error {
	f.once.Do(func() { close(f.closed) })
	return f.File.Close()
}

// TestRestoreStalledRead: a read that blocks in the file system ends when the restore's
// context does, instead of hanging the task's restore for good.
func TestRestoreStalledRead(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	for i := 0; i < 100; i++ {
		_ = s.Set(key(i), []byte("v"))
	}
	snap, _ := st.checkpoint(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Restore(ctx, stallFS{st.fsys}, snap, st.shared, st.private(1), Options{Dir: filepath.Join(t.TempDir(), "r")})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("restore with stalled reads: %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("restore with stalled reads did not return 30 s after its 300 ms deadline")
	}
}
