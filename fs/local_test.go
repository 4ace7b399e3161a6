package fs_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/fs/fstest"
)

func TestLocalConformance(t *testing.T) {
	fstest.Run(t, fs.Local{}, filepath.ToSlash(t.TempDir()))
}

func TestGetResolvesLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, uri := range []string{dir + "/x/../y", "file://" + dir + "/y", "file://localhost" + dir + "/y"} {
		fsys, p, err := fs.Get(ctx, uri)
		if err != nil {
			t.Fatalf("Get(%q): %v", uri, err)
		}
		if _, ok := fsys.(fs.Local); !ok {
			t.Errorf("Get(%q) = %T, want fs.Local", uri, fsys)
		}
		if p != filepath.ToSlash(dir)+"/y" {
			t.Errorf("Get(%q) path = %q", uri, p)
		}
	}
	wd, _ := os.Getwd()
	if _, p, err := fs.Get(ctx, "rel/path"); err != nil || p != filepath.ToSlash(wd)+"/rel/path" {
		t.Errorf("relative: %q, %v", p, err)
	}
}

func TestGetErrors(t *testing.T) {
	ctx := context.Background()
	_, _, err := fs.Get(ctx, "nosuch://host/p")
	if !errors.Is(err, fs.ErrUnsupportedScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, _, err := fs.Get(ctx, ""); err == nil {
		t.Error("empty path accepted")
	}
	if _, _, err := fs.Get(ctx, "file://otherhost/tmp"); err == nil {
		t.Error("file URI with a remote host accepted")
	}
	if _, _, err := fs.Get(ctx, "mailto:someone"); err == nil {
		t.Error("opaque URI accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := fs.Get(cctx, "/tmp"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

type countingFS struct {
	fs.Local
	closed *int
}

func (c countingFS) Close() error { *c.closed++; return nil }

func TestRegisterCachesPerAuthority(t *testing.T) {
	ctx := context.Background()
	created, closed := 0, 0
	var hosts []string
	fs.Register("Memtest", func(_ context.Context, u *url.URL) (fs.FileSystem, error) {
		created++
		hosts = append(hosts, u.Host)
		return countingFS{closed: &closed}, nil
	})
	a1, p, err := fs.Get(ctx, "memtest://h1:1/a/b/")
	if err != nil || p != "/a/b" {
		t.Fatalf("Get: %q, %v", p, err)
	}
	a2, _, _ := fs.Get(ctx, "MEMTEST://h1:1/c")
	if _, _, err := fs.Get(ctx, "memtest://h2:2/"); err != nil {
		t.Fatal(err)
	}
	if created != 2 || a1 != a2 || strings.Join(hosts, ",") != "h1:1,h2:2" {
		t.Errorf("created %d file systems for hosts %v (a1==a2: %v)", created, hosts, a1 == a2)
	}
	if !strings.Contains(strings.Join(fs.Schemes(), ","), "memtest") {
		t.Errorf("Schemes() = %v", fs.Schemes())
	}
	if err := fs.CloseAll(); err != nil || closed != 2 {
		t.Errorf("CloseAll: closed %d, %v", closed, err)
	}
	if _, _, err := fs.Get(ctx, "memtest://h1:1/"); err != nil || created != 3 {
		t.Errorf("after CloseAll: created %d, %v", created, err)
	}
}

func TestFactoryErrorIsWrapped(t *testing.T) {
	boom := errors.New("boom")
	fs.Register("failing", func(context.Context, *url.URL) (fs.FileSystem, error) { return nil, boom })
	if _, _, err := fs.Get(context.Background(), "failing://x/y"); !errors.Is(err, boom) {
		t.Errorf("Get: %v", err)
	}
}

func TestPathHelpers(t *testing.T) {
	cases := map[string]string{
		fs.Clean(""):               "/",
		fs.Clean("a//b/../c/"):     "/a/c",
		fs.Join("/a", "b", "../c"): "/a/c",
		fs.Base("/a/b/"):           "b",
		fs.Dir("/a/b"):             "/a",
		fs.Dir("/"):                "/",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
}

func TestWriteFileAtomicLeavesNoTemp(t *testing.T) {
	ctx := context.Background()
	dir := filepath.ToSlash(t.TempDir())
	for i := 0; i < 3; i++ {
		if err := fs.WriteFileAtomic(ctx, fs.Local{}, dir+"/meta", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := fs.Local{}.List(ctx, dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "meta" || entries[0].Size != 1 {
		t.Fatalf("entries = %+v, %v", entries, err)
	}
	if err := fs.WriteFileAtomic(ctx, fs.Local{}, "/", nil); err == nil {
		t.Error("replacing / accepted")
	}
	// The parent is a file: creating the temp file must fail cleanly.
	if err := fs.WriteFileAtomic(ctx, fs.Local{}, dir+"/meta/child", []byte("x")); err == nil {
		t.Error("write below a file accepted")
	}
}
