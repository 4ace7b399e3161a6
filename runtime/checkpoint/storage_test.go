package checkpoint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/serde"
)

// writeCheckpoint stores c under jobDir/chk-<id> with all its files, the way
// tasks and the JobMaster would.
func writeCheckpoint(t *testing.T, fsys fs.FileSystem, jobDir string, c *Completed) string {
	t.Helper()
	ctx := context.Background()
	dir := CheckpointDir(jobDir, c.ID)
	for _, f := range c.Files() {
		if err := fs.WriteFileAtomic(ctx, fsys, ResolveFile(dir, f), make([]byte, f.Size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteMetadata(ctx, fsys, dir, c); err != nil {
		t.Fatal(err)
	}
	return dir
}

func smallCheckpoint(id int64, shared string) *Completed {
	st := SubtaskState{Subtask: 0, Files: []StateFile{{Path: "op-0.state", Size: 10}}, SourceReader: []byte("x")}
	if shared != "" {
		st.Keyed = []KeyedState{{KeyGroups: serdeRange(0, 7), Format: "pebble-v1", Files: []StateFile{{Path: shared, Size: 5, Shared: true}}}}
	}
	return &Completed{JobID: "job", ID: id, Timestamp: id * 1000, CompletedAt: id*1000 + 1,
		Operators: []*OperatorState{{OperatorID: "op", Parallelism: 1, MaxParallelism: 8, Subtasks: []SubtaskState{st}}}}
}

func TestWriteReadMetadata(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fsys := fs.Local{}
	c := fixture()
	dir := filepath.ToSlash(filepath.Join(root, "job", "chk-42"))
	if err := WriteMetadata(ctx, fsys, dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetadata(ctx, fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	c.ExternalPath = dir
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("read back %+v", got)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.FromSlash(dir))
	if len(entries) != 1 || entries[0].Name() != MetadataFileName {
		t.Errorf("directory holds %v", entries)
	}
	// Missing and corrupt files give a MetadataError naming the file.
	_, err = ReadMetadata(ctx, fsys, root)
	var me *MetadataError
	if !errors.As(err, &me) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.ToSlash(filepath.Join(root, MetadataFileName))) {
		t.Errorf("missing metadata: %v", err)
	}
	p := filepath.Join(filepath.FromSlash(dir), MetadataFileName)
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)-10], 0o644)
	_, err = ReadMetadata(ctx, fsys, dir)
	if !errors.As(err, &me) || !errors.Is(err, ErrTruncated) || me.Path != fs.Join(dir, MetadataFileName) {
		t.Errorf("truncated metadata: %v", err)
	}
	// An invalid checkpoint is refused before anything is written.
	bad := fixture()
	bad.ID = 0
	if err := WriteMetadata(ctx, fsys, fs.Join(root, "bad"), bad); err == nil {
		t.Error("wrote a checkpoint with id 0")
	}
	if _, err := os.Stat(filepath.Join(root, "bad")); !os.IsNotExist(err) {
		t.Error("invalid checkpoint left a directory")
	}
}

func TestFindLatest(t *testing.T) {
	ctx := context.Background()
	fsys := fs.Local{}
	jobDir := filepath.ToSlash(filepath.Join(t.TempDir(), "job"))

	// Nothing there yet.
	if c, errs := FindLatest(ctx, fsys, jobDir); c != nil || errs != nil {
		t.Fatalf("empty: %v %v", c, errs)
	}
	writeCheckpoint(t, fsys, jobDir, smallCheckpoint(1, "sst-1"))
	writeCheckpoint(t, fsys, jobDir, smallCheckpoint(2, "sst-2"))
	// chk-3: a shared file was deleted.
	writeCheckpoint(t, fsys, jobDir, smallCheckpoint(3, "sst-3"))
	if err := os.Remove(filepath.Join(filepath.FromSlash(jobDir), "shared", "sst-3")); err != nil {
		t.Fatal(err)
	}
	// chk-4: tasks wrote files but _metadata never came.
	os.MkdirAll(filepath.Join(filepath.FromSlash(jobDir), "chk-4"), 0o755)
	os.WriteFile(filepath.Join(filepath.FromSlash(jobDir), "chk-4", "op-0.state"), []byte("x"), 0o644)
	// chk-10: corrupt metadata (numeric, not lexical, order: 10 > 4).
	d10 := writeCheckpoint(t, fsys, jobDir, smallCheckpoint(10, ""))
	os.WriteFile(filepath.Join(filepath.FromSlash(d10), MetadataFileName), []byte("FGCK\x00\x00\x00\x01garbage!"), 0o644)
	// chk-11: a copy of chk-2's metadata (wrong id).
	d11 := filepath.Join(filepath.FromSlash(jobDir), "chk-11")
	os.MkdirAll(d11, 0o755)
	data, _ := os.ReadFile(filepath.Join(filepath.FromSlash(jobDir), "chk-2", MetadataFileName))
	os.WriteFile(filepath.Join(d11, MetadataFileName), data, 0o644)
	// Noise that is not a checkpoint.
	os.MkdirAll(filepath.Join(filepath.FromSlash(jobDir), "chk-x"), 0o755)
	os.WriteFile(filepath.Join(filepath.FromSlash(jobDir), "chk-12"), nil, 0o644)

	before := listTree(t, jobDir)
	c, skipped := FindLatest(ctx, fsys, jobDir)
	if c == nil || c.ID != 2 || c.ExternalPath != fs.Join(jobDir, "chk-2") {
		t.Fatalf("latest = %+v, skipped %v", c, skipped)
	}
	if len(skipped) != 4 {
		t.Fatalf("skipped %d: %v", len(skipped), skipped)
	}
	for i, want := range []string{"chk-11: its metadata is for checkpoint 2", "chk-10", "chk-4", "chk-3"} {
		if !strings.Contains(skipped[i].Error(), want) {
			t.Errorf("skip %d = %v, want mention of %q", i, skipped[i], want)
		}
	}
	if !errors.Is(skipped[1], ErrChecksum) && !errors.Is(skipped[1], ErrTruncated) {
		t.Errorf("chk-10 reason %v", skipped[1])
	}
	if !errors.Is(skipped[2], fs.ErrNotExist) || !errors.Is(skipped[3], ErrMissingFile) {
		t.Errorf("reasons %v / %v", skipped[2], skipped[3])
	}
	if after := listTree(t, jobDir); !reflect.DeepEqual(before, after) {
		t.Errorf("FindLatest changed the directory:\n%v\n%v", before, after)
	}
	// The same through a URI.
	cu, _ := FindLatestURI(ctx, "file://"+jobDir)
	if cu == nil || cu.ID != 2 || cu.ExternalPath != "file://"+jobDir+"/chk-2" {
		t.Errorf("FindLatestURI = %+v", cu)
	}
	if _, errs := FindLatestURI(ctx, "nosuch://x/y"); len(errs) != 1 {
		t.Errorf("bad scheme: %v", errs)
	}
	// Its files resolve.
	for _, f := range c.Files() {
		if _, err := os.Stat(filepath.FromSlash(c.FilePath(f))); err != nil {
			t.Errorf("file %v: %v", f, err)
		}
	}
}

func listTree(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(filepath.FromSlash(root), func(p string, info os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestResolveRestorePath(t *testing.T) {
	ctx := context.Background()
	fsys := fs.Local{}
	root := filepath.ToSlash(t.TempDir())
	jobDir := fs.Join(root, "job")
	dir := writeCheckpoint(t, fsys, jobDir, smallCheckpoint(5, "sst-5"))

	for _, uri := range []string{dir, dir + "/", fs.Join(dir, MetadataFileName), "file://" + dir} {
		c, err := ResolveRestorePath(ctx, uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if c.ID != 5 || c.ExternalPath != dir {
			t.Errorf("%s: id %d path %q", uri, c.ID, c.ExternalPath)
		}
	}
	// A savepoint: self-contained, in its own directory.
	sp, err := NewSavepointDir(fs.Join(root, "savepoints"), "a1b2c3d4e5f6")
	if err != nil || !strings.HasPrefix(fs.Base(sp), "savepoint-a1b2c3-") || len(fs.Base(sp)) != len("savepoint-a1b2c3-")+12 {
		t.Fatalf("savepoint dir %q %v", sp, err)
	}
	spc := smallCheckpoint(6, "")
	spc.Kind, spc.Savepoint = SavepointPlain, true
	for _, f := range spc.Files() {
		fs.WriteFileAtomic(ctx, fsys, ResolveFile(sp, f), make([]byte, f.Size))
	}
	if err := WriteMetadata(ctx, fsys, sp, spc); err != nil {
		t.Fatal(err)
	}
	if c, err := ResolveRestorePath(ctx, sp); err != nil || !c.Savepoint {
		t.Fatalf("savepoint: %v %v", c, err)
	}

	errCases := []struct {
		uri, want string
	}{
		{jobDir, "looks like a job's checkpoint directory"},
		{fs.Join(root, "nope"), "no such file"},
		{fs.Join(dir, "op-0.state"), "is a file but not _metadata"},
		{"nosuchscheme://x/y", "unsupported file system scheme"},
	}
	for _, ec := range errCases {
		if _, err := ResolveRestorePath(ctx, ec.uri); err == nil || !strings.Contains(err.Error(), ec.want) {
			t.Errorf("%s: %v, want %q", ec.uri, err, ec.want)
		}
	}
	// A referenced file is missing.
	os.Remove(filepath.FromSlash(fs.Join(dir, "op-0.state")))
	if _, err := ResolveRestorePath(ctx, dir); !errors.Is(err, ErrMissingFile) {
		t.Errorf("missing file: %v", err)
	}
}

func TestURIHelpers(t *testing.T) {
	cases := []struct{ got, want string }{
		{CheckpointDir("hdfs://nn:8020/flink/ckpt/j", 7), "hdfs://nn:8020/flink/ckpt/j/chk-7"},
		{CheckpointDir("hdfs:///flink/ckpt/j/", 7), "hdfs:///flink/ckpt/j/chk-7"},
		{CheckpointDir("s3://bucket", 1), "s3://bucket/chk-1"},
		{CheckpointDir("/tmp/x", 2), "/tmp/x/chk-2"},
		{JobDir("s3://b/ck", "abc"), "s3://b/ck/abc"},
		{ResolveFile("s3://b/ck/j/chk-3", StateFile{Path: "a/b.sst", Shared: true}), "s3://b/ck/j/shared/a/b.sst"},
		{ResolveFile("s3://b/ck/j/chk-3", StateFile{Path: "x"}), "s3://b/ck/j/chk-3/x"},
		{ResolveFile("/sp/savepoint-1", StateFile{Path: "x"}), "/sp/savepoint-1/x"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for name, want := range map[string]int64{"chk-1": 1, "chk-123": 123, "chk-": 0, "chk--1": 0, "chk-+1": 0, "chk-0": 0, "chk-1x": 0, "shared": 0} {
		n, ok := parseCheckpointDirName(name)
		if ok != (want > 0) || n != want && ok {
			t.Errorf("%s -> %d %v", name, n, ok)
		}
	}
}

func serdeRange(start, end int) serde.KeyGroupRange {
	return serde.KeyGroupRange{Start: start, End: end}
}
