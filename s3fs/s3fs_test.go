package s3fs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/fs/fstest"
	"github.com/flink-go/flink-go/s3fs"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

func TestMain(m *testing.M) { os.Exit(s3bed.Main(m)) }

// options points the file system at srv (or at endpoint, e.g. a fault proxy).
func options(t *testing.T, srv *s3bed.Server, endpoint string) s3fs.Options {
	t.Helper()
	conf := srv.Config()
	if endpoint != "" {
		conf = srv.ConfigAt(endpoint)
	}
	opts, err := s3fs.OptionsFromConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// newFS returns a FileSystem on a fresh bucket of the test server.
func newFS(t *testing.T) (*s3fs.FileSystem, *s3bed.Server, string) {
	t.Helper()
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	f, err := s3fs.New(context.Background(), bucket, options(t, srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, srv, bucket
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestConformance(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	if err := f.MkdirAll(ctx, "/conformance", 0o755); err != nil {
		t.Fatal(err)
	}
	fstest.Run(t, f, "/conformance")
}

// TestConformanceThroughGet runs the suite on a FileSystem that fs.Get makes
// for an s3a:// URI from the process-wide configuration.
func TestConformanceThroughGet(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	if err := s3fs.Configure(srv.Config()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3fs.Configure(nil) })
	ctx := testCtx(t)
	fsys, p, err := fs.Get(ctx, "s3a://"+bucket+"/base")
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.MkdirAll(ctx, p, 0o755); err != nil {
		t.Fatal(err)
	}
	fstest.Run(t, fsys, p)
	// The same bucket through s3:// sees the same files.
	fsys2, _, err := fs.Get(ctx, "s3://"+bucket+"/")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := fs.Exists(ctx, fsys2, "/base/range"); !ok || err != nil {
		t.Fatalf("s3:// view of s3a:// file: exists=%v err=%v", ok, err)
	}
}

// writeChunks writes data through fs in irregular chunk sizes.
func writeChunks(t *testing.T, w io.Writer, data []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+r.IntN(3<<20))
		if _, err := w.Write(data[off : off+n]); err != nil {
			t.Fatalf("Write at %d: %v", off, err)
		}
		off += n
	}
}

func TestMultipartUpload40MB(t *testing.T) {
	f, srv, bucket := newFS(t)
	ctx := testCtx(t)
	data := randomBytes(40<<20, 40)
	w, err := f.Create(ctx, "/big/file.bin", fs.CreateOptions{Perm: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	writeChunks(t, w, data)
	// Nothing is visible before Close.
	if ok, err := fs.Exists(ctx, f, "/big/file.bin"); ok || err != nil {
		t.Fatalf("file visible before Close: %v %v", ok, err)
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("40 MiB: Close took %v", time.Since(start))
	h, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("big/file.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(h.ETag); !strings.HasSuffix(etag, `-5"`) {
		t.Errorf("ETag %s: want a multipart upload of 5 parts of 8 MiB", etag)
	}
	st, err := f.Stat(ctx, "/big/file.bin")
	if err != nil || st.Size != int64(len(data)) || st.Mode.Perm() != 0o600 {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	got, err := fs.ReadFile(ctx, f, "/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
	ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open", len(ups.Uploads))
	}
}

func TestSinglePutUpToOnePart(t *testing.T) {
	f, srv, bucket := newFS(t)
	ctx := testCtx(t)
	for _, size := range []int{0, 1, s3fs.DefaultPartSize} {
		name := fmt.Sprintf("f%d", size)
		data := randomBytes(size, uint64(size))
		w, err := f.Create(ctx, "/"+name, fs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, w, data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		h, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(aws.ToString(h.ETag), "-") {
			t.Errorf("%d bytes: ETag %s is a multipart upload's; want one PutObject", size, aws.ToString(h.ETag))
		}
		if got, err := fs.ReadFile(ctx, f, "/"+name); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", size, len(got), err)
		}
	}
}

func TestAbortMultipart(t *testing.T) {
	f, srv, bucket := newFS(t)
	ctx := testCtx(t)
	w, err := f.Create(ctx, "/aborted", fs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeChunks(t, w, randomBytes(20<<20, 7))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after Abort", len(ups.Uploads))
	}
	if ok, _ := fs.Exists(ctx, f, "/aborted"); ok {
		t.Error("aborted file exists")
	}
}

func TestRangedReads(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	data := randomBytes(3<<20+17, 3)
	if _, err := fs.CopyFrom(ctx, f, "/r", bytes.NewReader(data), fs.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	file, err := f.Open(ctx, "/r")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// Concurrent ReadAt calls at scattered offsets.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i) * int64(len(data)) / 32
			buf := make([]byte, 100_000)
			n, err := file.ReadAt(buf, off)
			want := data[off:min(off+int64(len(buf)), int64(len(data)))]
			if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], want) {
				errs <- fmt.Errorf("ReadAt(%d) = %d, %v", off, n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Past the end: the bytes that exist, then io.EOF.
	buf := make([]byte, 100)
	if n, err := file.ReadAt(buf, int64(len(data)-10)); n != 10 || err != io.EOF || !bytes.Equal(buf[:10], data[len(data)-10:]) {
		t.Errorf("ReadAt over the end = %d, %v", n, err)
	}
	if n, err := file.ReadAt(buf, int64(len(data)+5)); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v", n, err)
	}
	if _, err := file.ReadAt(buf, -1); err == nil {
		t.Error("ReadAt(-1) succeeded")
	}
	// Seek around: small forward jumps, backwards, from the end.
	for _, s := range []struct {
		off    int64
		whence int
		abs    int64
	}{{1000, io.SeekStart, 1000}, {5000, io.SeekCurrent, 6000 + 4096}, {-4096, io.SeekEnd, int64(len(data)) - 4096}, {10, io.SeekStart, 10}} {
		pos, err := file.Seek(s.off, s.whence)
		if err != nil {
			t.Fatal(err)
		}
		if s.whence == io.SeekCurrent {
			s.abs = pos // relative to wherever the previous read left us
		}
		if pos != s.abs {
			t.Fatalf("Seek(%d, %d) = %d, want %d", s.off, s.whence, pos, s.abs)
		}
		chunk := make([]byte, 4096)
		n, err := io.ReadFull(file, chunk)
		if err != nil || !bytes.Equal(chunk[:n], data[pos:pos+int64(n)]) {
			t.Fatalf("read 4096 at %d: %d, %v", pos, n, err)
		}
	}
	if _, err := file.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to -1 succeeded")
	}
	// Reading to the end after a seek.
	if _, err := file.Seek(int64(len(data))-5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(file)
	if err != nil || !bytes.Equal(rest, data[len(data)-5:]) {
		t.Errorf("tail = %q, %v", rest, err)
	}
}

// TestReadDetectsReplacement: a file overwritten while open gives an error,
// not a mix of old and new bytes.
func TestReadDetectsReplacement(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	if err := fs.WriteFileAtomic(ctx, f, "/x", []byte("old contents")); err != nil {
		t.Fatal(err)
	}
	file, err := f.Open(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := fs.WriteFileAtomic(ctx, f, "/x", []byte("new contents")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(file); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("read of a replaced file: %v, want an error saying it was replaced", err)
	}
}

func TestListPagination(t *testing.T) {
	f, srv, bucket := newFS(t)
	ctx := testCtx(t)
	const files, dirs = 1205, 30
	// Put the objects directly, many at a time.
	keys := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	c := srv.Client()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range files {
		keys <- fmt.Sprintf("many/f%05d", i)
	}
	for i := range dirs {
		keys <- fmt.Sprintf("many/d%03d/inner", i)
	}
	keys <- "many-sibling/keep" // shares the prefix "many" but is not below many/
	close(keys)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	entries, err := f.List(ctx, "/many")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != files+dirs {
		t.Fatalf("List returned %d entries, want %d", len(entries), files+dirs)
	}
	for i, e := range entries {
		var want string
		if i < dirs {
			want = fmt.Sprintf("d%03d", i)
		} else {
			want = fmt.Sprintf("f%05d", i-dirs)
		}
		if e.Name() != want || e.IsDir != (i < dirs) {
			t.Fatalf("entry %d = %+v, want %s", i, e, want)
		}
	}
	// Recursive delete goes over 1000 keys: several DeleteObjects batches.
	if err := f.Delete(ctx, "/many", true); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "many-sibling/keep" {
		var left []string
		for _, o := range out.Contents {
			left = append(left, aws.ToString(o.Key))
		}
		t.Fatalf("after deleting /many the bucket holds %d keys (%.5v), want only many-sibling/keep", len(left), left)
	}
}

func TestRename(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	big := randomBytes(9<<20, 9)
	for p, data := range map[string][]byte{"/src/a": []byte("a"), "/src/sub/b": []byte("bb"), "/src/sub/deep/c": big} {
		if _, err := fs.CopyFrom(ctx, f, p, bytes.NewReader(data), fs.CreateOptions{Perm: 0o640}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MkdirAll(ctx, "/src/empty", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(ctx, "/src", "/dst"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := fs.Exists(ctx, f, "/src"); ok {
		t.Error("/src still exists")
	}
	if got, err := fs.ReadFile(ctx, f, "/dst/sub/deep/c"); err != nil || !bytes.Equal(got, big) {
		t.Errorf("renamed big file: %d bytes, %v", len(got), err)
	}
	if st, err := f.Stat(ctx, "/dst/sub/b"); err != nil || st.Mode.Perm() != 0o640 || st.Size != 2 {
		t.Errorf("renamed file keeps its metadata: %+v, %v", st, err)
	}
	if st, err := f.Stat(ctx, "/dst/empty"); err != nil || !st.IsDir || st.Mode.Perm() != 0o700 {
		t.Errorf("renamed empty dir: %+v, %v", st, err)
	}
	// File onto a directory, directory into itself, onto a non-empty directory.
	if err := f.Rename(ctx, "/dst/a", "/dst/sub"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("file onto a directory: %v, want ErrExist", err)
	}
	if err := f.Rename(ctx, "/dst", "/dst/sub/x"); err == nil {
		t.Error("directory into itself succeeded")
	}
	if err := f.Rename(ctx, "/dst/sub", "/dst"); err == nil {
		t.Error("directory onto its non-empty parent succeeded")
	}
	// Names with spaces, plus signs, percent signs and non-ASCII letters.
	odd := "/odd dir/a+b %41 é.txt"
	if err := fs.WriteFileAtomic(ctx, f, odd, []byte("odd")); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(ctx, "/odd dir", "/odd+dir ü"); err != nil {
		t.Fatal(err)
	}
	if got, err := fs.ReadFile(ctx, f, "/odd+dir ü/a+b %41 é.txt"); err != nil || string(got) != "odd" {
		t.Errorf("odd names after rename: %q, %v", got, err)
	}
	if entries, err := f.List(ctx, "/odd+dir ü"); err != nil || len(entries) != 1 || entries[0].Name() != "a+b %41 é.txt" {
		t.Errorf("List of odd names: %v, %v", entries, err)
	}
	// A file renamed onto itself stays.
	if err := f.Rename(ctx, "/dst/a", "/dst/a"); err != nil {
		t.Errorf("rename onto itself: %v", err)
	}
	if got, err := fs.ReadFile(ctx, f, "/dst/a"); err != nil || string(got) != "a" {
		t.Errorf("after self-rename: %q, %v", got, err)
	}
}

func TestRecursiveDeleteKeepsSiblings(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	for _, p := range []string{"/ckpt/chk-1/a", "/ckpt/chk-1/sub/b", "/ckpt/chk-10/a", "/ckpt/chk-1.txt"} {
		if err := fs.WriteFileAtomic(ctx, f, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MkdirAll(ctx, "/ckpt/chk-1/emptydir", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, "/ckpt/chk-1", true); err != nil {
		t.Fatal(err)
	}
	entries, err := f.List(ctx, "/ckpt")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "chk-1.txt chk-10" {
		t.Errorf("after deleting chk-1: %q, want \"chk-1.txt chk-10\"", got)
	}
	if err := f.Delete(ctx, "/ckpt/chk-1", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second delete: %v, want ErrNotExist", err)
	}
	if err := f.Delete(ctx, "/", true); err == nil {
		t.Error("deleting the bucket root succeeded")
	}
}

// TestMarkedDirectoryOutlivesItsFiles: a directory made with MkdirAll stays
// when its last file goes; one made implicitly by Create does not.
func TestMarkedDirectoryOutlivesItsFiles(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	if err := f.MkdirAll(ctx, "/made", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/made/x", "/implicit/x"} {
		if err := fs.WriteFileAtomic(ctx, f, p, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := f.Delete(ctx, p, false); err != nil {
			t.Fatal(err)
		}
	}
	if entries, err := f.List(ctx, "/made"); err != nil || len(entries) != 0 {
		t.Errorf("List(/made) = %v, %v; want an empty directory", entries, err)
	}
	if _, err := f.Stat(ctx, "/implicit"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(/implicit) = %v, want ErrNotExist", err)
	}
	if err := f.MkdirAll(ctx, "/made/x2", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFileAtomic(ctx, f, "/file", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.MkdirAll(ctx, "/file", 0o755); !errors.Is(err, fs.ErrExist) {
		t.Errorf("MkdirAll over a file: %v, want ErrExist", err)
	}
	if _, err := f.List(ctx, "/file"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("List of a file: %v", err)
	}
	if _, err := f.Open(ctx, "/made"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Open of a directory: %v", err)
	}
}

// TestCreateExclusiveRace: of two writers creating the same new file, one
// wins and the other gets ErrExist at Close (If-None-Match).
func TestCreateExclusiveRace(t *testing.T) {
	f, srv, _ := newFS(t)
	if srv.Kind == "moto" {
		t.Skip("moto does not implement conditional writes (If-None-Match)")
	}
	ctx := testCtx(t)
	for _, size := range []int{10, 12 << 20} {
		p := fmt.Sprintf("/race-%d", size)
		w1, err := f.Create(ctx, p, fs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w2, err := f.Create(ctx, p, fs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, w1, randomBytes(size, 1))
		writeChunks(t, w2, randomBytes(size, 2))
		if err := w1.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w2.Close(); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%d bytes: second writer's Close: %v, want ErrExist", size, err)
		}
		if got, err := fs.ReadFile(ctx, f, p); err != nil || !bytes.Equal(got, randomBytes(size, 1)) {
			t.Errorf("%d bytes: the file is not the first writer's: %v", size, err)
		}
	}
}

func TestErrorsNameTheCause(t *testing.T) {
	srv := s3bed.Require(t)
	ctx := testCtx(t)
	f, err := s3fs.New(ctx, "no-such-bucket-flinkgo", options(t, srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Stat(ctx, "/x")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no-such-bucket-flinkgo") {
		t.Errorf("Stat in a missing bucket: %v", err)
	}
	if _, err := f.List(ctx, "/"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "s3.endpoint") {
		t.Errorf("List in a missing bucket: %v", err)
	}

	if srv.Kind == "moto" {
		t.Skip("moto does not check signatures")
	}
	bucket := srv.NewBucket(t)
	opts := options(t, srv, "")
	opts.SecretKey = "wrong-secret"
	opts.MaxAttempts = 1
	bad, err := s3fs.New(ctx, bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.List(ctx, "/")
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "credentials") || !strings.Contains(err.Error(), bucket) {
		t.Errorf("List with a wrong secret key: %v", err)
	}
	w, err := bad.Create(ctx, "/f", fs.CreateOptions{Overwrite: true})
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("write with a wrong secret key: %v", err)
	}
}

func TestEntropyInjectionWritesSpreadKeys(t *testing.T) {
	f, srv, bucket := newFS(t)
	ctx := testCtx(t)
	conf := srv.Config()
	conf["s3.entropy.key"] = "_entropy_"
	conf["s3.entropy.length"] = "6"
	if err := s3fs.Configure(conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3fs.Configure(nil) })
	base := "s3://" + bucket + "/_entropy_/flink/ckpt/chk-3/"
	seen := map[string]bool{}
	for i := range 5 {
		uri, err := s3fs.InjectEntropy(fmt.Sprintf("%sdata-%d", base, i), true)
		if err != nil {
			t.Fatal(err)
		}
		fsys, p, err := fs.Get(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("state")); err != nil {
			t.Fatal(err)
		}
		seen[strings.Split(p, "/")[1]] = true
	}
	meta, err := s3fs.InjectEntropy(base+"_metadata", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + bucket + "/flink/ckpt/chk-3/_metadata"; meta != want {
		t.Errorf("metadata path %s, want %s", meta, want)
	}
	fsys, p, err := fs.Get(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFileAtomic(ctx, fsys, p, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	top, err := f.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	// 5 entropy directories (6 random characters each, almost surely
	// distinct) plus "flink".
	if len(seen) != 5 || len(top) != 6 {
		t.Errorf("top-level entries %v (entropy parts %v): want 5 random 6-character dirs and flink", top, seen)
	}
	for dir := range seen {
		if len(dir) != 6 || dir == "flink" {
			t.Errorf("entropy directory %q", dir)
		}
	}
}

// TestRegionDiscovery: with no region configured anywhere, the FileSystem
// asks for the bucket's region (x-amz-bucket-region) and signs for it.
func TestRegionDiscovery(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	conf := srv.Config()
	delete(conf, "s3.region")
	opts, err := s3fs.OptionsFromConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	f, err := s3fs.New(ctx, bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Region() != srv.Region {
		t.Errorf("discovered region %q, want the server's %q", f.Region(), srv.Region)
	}
	if err := fs.WriteFileAtomic(ctx, f, "/x", []byte("x")); err != nil {
		t.Errorf("write with the discovered region: %v", err)
	}
}

// TestFailedWriteNeverPublishes: when starting the multipart upload fails,
// Write reports it and a later Close (instead of Abort) fails too rather
// than publishing the first part as the whole file.
func TestFailedWriteNeverPublishes(t *testing.T) {
	f, proxy, _, _ := faultFS(t, 2)
	ctx := testCtx(t)
	proxy.SetRule(s3bed.Always("CreateMultipartUpload", s3bed.InternalError))
	w, err := f.Create(ctx, "/partial", fs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(12<<20, 12)); err == nil {
		t.Fatal("Write succeeded although the multipart upload could not start")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed Write succeeded")
	}
	proxy.SetRule(nil)
	if ok, err := fs.Exists(ctx, f, "/partial"); ok || err != nil {
		t.Fatalf("file published after a failed write: exists=%v err=%v", ok, err)
	}
}

// patternReader yields n pseudo-random bytes without holding them; byte i
// depends only on i, so any chunking reads the same stream.
type patternReader struct {
	off, size int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-p.off))
	for i := 0; i < n; {
		pos := p.off + int64(i)
		w := splitmix(uint64(pos / 8))
		for j := pos % 8; j < 8 && i < n; j++ {
			b[i] = byte(w >> (8 * j))
			i++
		}
	}
	p.off += int64(n)
	return n, nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// TestStreamingUploadMemoryBounded: a 160 MiB file streams through the
// writer with the heap bounded by the parts in flight, not the file size.
func TestStreamingUploadMemoryBounded(t *testing.T) {
	f, _, _ := newFS(t)
	ctx := testCtx(t)
	const size = 160 << 20
	src := func() io.Reader { return &patternReader{size: size} }
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	n, err := fs.CopyFrom(ctx, f, "/stream", src(), fs.CreateOptions{})
	close(stop)
	<-sampled
	if err != nil || n != size {
		t.Fatalf("CopyFrom = %d, %v", n, err)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("160 MiB upload: heap grew by at most %d MiB", grew>>20)
	// 4 parts in flight + the one filling + pool slack, far below the file size.
	if limit := int64(12 * s3fs.DefaultPartSize); grew > limit {
		t.Errorf("heap grew by %d MiB during a 160 MiB upload, want < %d MiB", grew>>20, limit>>20)
	}
	file, err := f.Open(ctx, "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	h1, h2 := sha256.New(), sha256.New()
	if _, err := io.Copy(h1, file); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(h2, src()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
		t.Fatal("streamed file differs from its source")
	}
}
