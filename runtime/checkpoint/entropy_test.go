package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/serde"
)

// entropyFixture references files by absolute URI (entropy-injected data files),
// next to relative ones.
func entropyFixture() *Completed {
	return &Completed{JobID: "j1", ID: 7, Timestamp: 1000, CompletedAt: 1500, Operators: []*OperatorState{
		{OperatorID: "op", Parallelism: 2, MaxParallelism: 4, Subtasks: []SubtaskState{
			{Subtask: 0, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 1}, Format: "heap-v1",
				Files: []StateFile{{Path: "s3://b/aB3x/ckpt/j1/chk-7/op-0.keyed", Size: 300}}, Offsets: []int64{0, 200}}}},
			{Subtask: 1, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 2, End: 3}, Format: "pebble-v1",
				Files: []StateFile{
					{Path: "s3://b/Qz09/ckpt/j1/chk-7/op-1/MANIFEST-1", Size: 77},
					{Path: "s3://b/k2Lm/ckpt/j1/shared/ab-000012.sst", Size: 1 << 20, Shared: true},
					{Path: "old-000003.sst", Size: 10, Shared: true},
				}}}},
		}},
	}}
}

func TestMetadataV2RoundTrip(t *testing.T) {
	c := entropyFixture()
	data := mustMarshal(t, c)
	if v := binary.BigEndian.Uint32(data[4:]); v != 2 {
		t.Fatalf("a checkpoint with absolute paths written as version %d, want 2", v)
	}
	got, err := UnmarshalMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	// Without absolute paths the file stays version 1 (byte-identical to before).
	if v := binary.BigEndian.Uint32(mustMarshal(t, fixture())[4:]); v != 1 {
		t.Fatalf("relative-only checkpoint written as version %d, want 1", v)
	}
}

// TestMetadataV2Golden pins the version 2 file flags: bit 1 marks an absolute URI.
func TestMetadataV2Golden(t *testing.T) {
	c := &Completed{JobID: "j1", ID: 3, Timestamp: 1000, CompletedAt: 1500, Operators: []*OperatorState{
		{OperatorID: "op", Parallelism: 1, MaxParallelism: 2, Subtasks: []SubtaskState{{Subtask: 0,
			Files: []StateFile{{Path: "s3://b/x/f", Size: 5}, {Path: "g", Size: 1, Shared: true}}}}}}}
	body := "4647434b" + "00000002" + // magic, version 2
		"026a31" + "03" + "d00f" + "b817" + "00" + // job "j1", id 3, timestamps, kind
		"01" + "026f70" + "01" + "02" + "01" + "00" + // operator "op", p 1, maxp 2, 1 subtask: 0
		"00" + // no keyed state
		"02" + // 2 operator state files
		"0a" + hex.EncodeToString([]byte("s3://b/x/f")) + "05" + "02" + // absolute URI, 5 bytes, flags 2
		"0167" + "01" + "01" + // "g", 1 byte, flags 1 (shared)
		"00" + "00" // no source reader, no committables
	want, err := hex.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	want = binary.BigEndian.AppendUint32(want, crc32.Checksum(want, castagnoli))
	if got := mustMarshal(t, c); !bytes.Equal(got, want) {
		t.Fatalf("encoding:\n got %x\nwant %x", got, want)
	}
}

func TestMetadataVersionRules(t *testing.T) {
	reCRC := func(b []byte) []byte {
		b = append([]byte(nil), b[:len(b)-4]...)
		return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	// A version 1 reader's rules hold: an absolute path in a version 1 file is corrupt.
	v2 := mustMarshal(t, entropyFixture())
	asV1 := append([]byte(nil), v2...)
	binary.BigEndian.PutUint32(asV1[4:], 1)
	if _, err := UnmarshalMetadata(reCRC(asV1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("absolute paths in a version 1 file: %v", err)
	}
	// A version 2 file without absolute paths is not canonical.
	v1 := mustMarshal(t, fixture())
	asV2 := append([]byte(nil), v1...)
	binary.BigEndian.PutUint32(asV2[4:], 2)
	if _, err := UnmarshalMetadata(reCRC(asV2)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("version 2 without absolute paths: %v", err)
	}
	// The absolute flag must agree with the path.
	i := bytes.Index(v2, []byte("s3://b/aB3x/ckpt/j1/chk-7/op-0.keyed"))
	bad := append([]byte(nil), v2...)
	flag := i + len("s3://b/aB3x/ckpt/j1/chk-7/op-0.keyed") + 2 // after the path and its 2-byte size
	if bad[flag] != 2 {
		t.Fatalf("test setup: flag byte is %d", bad[flag])
	}
	bad[flag] = 0
	if _, err := UnmarshalMetadata(reCRC(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("absolute path without the flag: %v", err)
	}
	bad[flag] = 6
	if _, err := UnmarshalMetadata(reCRC(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown flag bit: %v", err)
	}
}

func TestAbsolutePathRules(t *testing.T) {
	for _, p := range []string{"s3://b/x/f", "s3a://b/x", "hdfs://nn:8020/a/b", "file:///tmp/a"} {
		if !IsAbsolutePath(p) || validatePath(p) != nil {
			t.Errorf("%q: absolute %v, validate %v", p, IsAbsolutePath(p), validatePath(p))
		}
	}
	for _, p := range []string{"s3://b/x/../f", "s3://b//f", "s3://b", "s3://b/x/_metadata", "s3://b/x?y=1", "s3://b/x#f", "s3://b/./x"} {
		if validatePath(p) == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for _, p := range []string{"a/b", "x:y", "3s://b/x", "/abs", "a/s3://b"} {
		if IsAbsolutePath(p) {
			t.Errorf("%q taken for an absolute URI", p)
		}
	}
	// Savepoints stay self-contained: no absolute paths.
	if err := validateFile(StateFile{Path: "s3://b/x/f"}, true); err == nil || !strings.Contains(err.Error(), "relocatable") {
		t.Errorf("absolute path in a savepoint: %v", err)
	}
	if got := ResolveFile("s3://b/ckpt/j/chk-1", StateFile{Path: "s3://b/Xy12/ckpt/j/chk-1/f"}); got != "s3://b/Xy12/ckpt/j/chk-1/f" {
		t.Errorf("ResolveFile absolute = %q", got)
	}
	if got := ResolveFile("s3://b/ckpt/j/chk-1", StateFile{Path: "f", Shared: true}); got != "s3://b/ckpt/j/shared/f" {
		t.Errorf("ResolveFile shared = %q", got)
	}
}

// With DataJobDir (entropy injection), tasks write below the marked directory, _metadata
// goes to JobDir, paths inside the checkpoint or shared directory are stored relative and
// injected ones absolute; aborting and discarding list the injected exclusive files.
func TestCoordinatorEntropyPaths(t *testing.T) {
	cfg := Config{JobID: "j", JobDir: "s3://b/ckpt/j", DataJobDir: "s3://b/_entropy_/ckpt/j", Interval: time.Second, Retained: 1}
	src := TaskID{Vertex: "v", Subtask: 0}
	c := NewCoordinator(cfg, []TaskID{src}, []TaskID{src}, nil, 1)
	now := time.Unix(1000, 0)
	c.Tick(now)
	now = now.Add(time.Second)
	acts := c.Tick(now)
	tr := findAction[*TriggerAction](t, acts)
	if tr.Dir != "s3://b/_entropy_/ckpt/j/chk-1" {
		t.Fatalf("tasks write to %q, want the marked directory", tr.Dir)
	}
	h := TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op", MaxParallelism: 4,
		Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 3}, Format: "pebble-v1", Files: []StateFile{
			{Path: "s3://b/AAAA/ckpt/j/chk-1/op-0/MANIFEST-1", Size: 1},
			{Path: "s3://b/BBBB/ckpt/j/shared/x-1.sst", Size: 2, Shared: true, New: true},
			{Path: "s3://b/ckpt/j/chk-1/op-0/OPTIONS-1", Size: 3}, // inside the metadata directory: made relative
			{Path: "s3://b/ckpt/j/shared/y-2.sst", Size: 4, Shared: true, New: true},
		}}}}}}
	acts = c.Ack(now, src, 1, h)
	cp := findAction[*CompleteAction](t, acts).Checkpoint
	if cp.ExternalPath != "s3://b/ckpt/j/chk-1" {
		t.Fatalf("metadata directory %q, want the marker removed", cp.ExternalPath)
	}
	var paths []string
	for _, f := range cp.Files() {
		paths = append(paths, f.Path)
	}
	want := []string{"op-0/OPTIONS-1", "s3://b/AAAA/ckpt/j/chk-1/op-0/MANIFEST-1", "s3://b/BBBB/ckpt/j/shared/x-1.sst", "y-2.sst"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("files %v, want %v", paths, want)
	}
	if h.Operators[0].Keyed[0].Files[2].Path != "s3://b/ckpt/j/chk-1/op-0/OPTIONS-1" {
		t.Fatal("Ack modified the caller's handle")
	}
	if _, err := MarshalMetadata(cp); err != nil {
		t.Fatal(err)
	}
	c.Finalized(now, 1, nil)
	if c.SharedRegistry().Refs("s3://b/BBBB/ckpt/j/shared/x-1.sst") != 1 || c.SharedRegistry().Refs("y-2.sst") != 1 {
		t.Fatal("shared files not registered under their stored paths")
	}

	// Checkpoint 2 acknowledged, then aborted: its injected file is listed for deletion.
	now = now.Add(time.Second)
	acts = c.Tick(now)
	if findAction[*TriggerAction](t, acts).ID != 2 {
		t.Fatal("no checkpoint 2")
	}
	src2 := TaskID{Vertex: "v", Subtask: 1}
	c.Restart(now, "test", []TaskID{src, src2}, []TaskID{src, src2}) // aborts 2 (no acks yet)
	now = now.Add(time.Second)
	c.Tick(now)
	now = now.Add(time.Second)
	acts = c.Tick(now)
	id := findAction[*TriggerAction](t, acts).ID
	h3 := TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op2", MaxParallelism: 1,
		Files: []StateFile{{Path: "s3://b/CCCC/ckpt/j/chk-3/f", Size: 1}}}}}
	c.Ack(now, src, id, h3)
	acts = c.Decline(now, src2, id, "boom")
	ab := findAction[*AbortAction](t, acts)
	ds := findAction[*DiscardStateAction](t, acts)
	if ab.Dir != "s3://b/ckpt/j/chk-3" || ds.ID != id || !reflect.DeepEqual(ds.Exclusive, []string{"s3://b/CCCC/ckpt/j/chk-3/f"}) {
		t.Fatalf("abort %+v, discard %+v", ab, ds)
	}

	// Shutdown with discard: checkpoint 1's directory, its injected exclusive file and both
	// shared files go.
	acts = c.Shutdown(now, "finished", true)
	d := findAction[*DiscardAction](t, acts)
	ds = findAction[*DiscardStateAction](t, acts)
	if d.Checkpoint.ID != 1 || !reflect.DeepEqual(d.SharedFiles, []string{"s3://b/BBBB/ckpt/j/shared/x-1.sst", "y-2.sst"}) {
		t.Fatalf("discard %+v", d)
	}
	if !reflect.DeepEqual(ds.Exclusive, []string{"s3://b/AAAA/ckpt/j/chk-1/op-0/MANIFEST-1"}) || ds.Dir != "s3://b/ckpt/j/chk-1" {
		t.Fatalf("discard-state %+v", ds)
	}
}

// A late acknowledgement's injected files are discarded by URI.
func TestCoordinatorEntropyLateAck(t *testing.T) {
	cfg := Config{JobID: "j", JobDir: "s3://b/ckpt/j", DataJobDir: "s3://b/_entropy_/ckpt/j", Interval: time.Second}
	a, b := TaskID{Vertex: "v", Subtask: 0}, TaskID{Vertex: "v", Subtask: 1}
	c := NewCoordinator(cfg, []TaskID{a, b}, []TaskID{a, b}, nil, 1)
	now := time.Unix(1000, 0)
	c.Tick(now)
	now = now.Add(time.Second)
	c.Tick(now)
	c.Decline(now, a, 1, "no")
	acts := c.Ack(now, b, 1, TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op", MaxParallelism: 1,
		Files: []StateFile{{Path: "s3://b/DDDD/ckpt/j/chk-1/f", Size: 1}, {Path: "s3://b/ckpt/j/chk-1/g", Size: 1}}}}})
	ds := findAction[*DiscardStateAction](t, acts)
	if !reflect.DeepEqual(ds.Exclusive, []string{"g", "s3://b/DDDD/ckpt/j/chk-1/f"}) || ds.Dir != "s3://b/ckpt/j/chk-1" {
		t.Fatalf("late ack discard %+v", ds)
	}
}

func findAction[T Action](t *testing.T, acts []Action) T {
	t.Helper()
	for _, a := range acts {
		if x, ok := a.(T); ok {
			return x
		}
	}
	var zero T
	t.Fatalf("no %T in %v", zero, acts)
	return zero
}

// Cleanup deletes injected files named by URI; VerifyFiles finds them on their file system.
func TestCleanupAndVerifyAbsolute(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	chk := filepath.Join(root, "ckpt", "j", "chk-1")
	injected := filepath.Join(root, "Xy12", "ckpt", "j", "chk-1", "op-0.keyed")
	shared := filepath.Join(root, "Xy12", "ckpt", "j", "shared", "s.sst")
	for _, p := range []string{filepath.Join(chk, "x"), injected, shared} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &Completed{JobID: "j", ID: 1, ExternalPath: chk, Operators: []*OperatorState{{OperatorID: "op", Parallelism: 1, MaxParallelism: 1,
		Subtasks: []SubtaskState{{Subtask: 0, Files: []StateFile{{Path: "x", Size: 3}, {Path: "file://" + injected, Size: 3}, {Path: "file://" + shared, Size: 3, Shared: true}}}}}}}
	fsys, p, err := fs.Get(ctx, chk)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyFiles(ctx, fsys, p, c); err != nil {
		t.Fatalf("VerifyFiles: %v", err)
	}
	if err := os.Remove(injected); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFiles(ctx, fsys, p, c); !errors.Is(err, ErrMissingFile) {
		t.Fatalf("VerifyFiles with a missing injected file: %v", err)
	}
	if err := os.WriteFile(injected, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Action{
		&DiscardAction{Checkpoint: c, SharedFiles: []string{"file://" + shared}},
		&DiscardStateAction{ID: 1, Dir: chk, Exclusive: []string{"file://" + injected}},
	} {
		if err := Cleanup(ctx, a); err != nil {
			t.Fatalf("Cleanup(%v): %v", a, err)
		}
	}
	for _, p := range []string{chk, injected, shared} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

// Tasks name their files by the full path below the trigger's directory; the coordinator
// stores them relative whether the directory is a URI or a bare local path, so checkpoints
// without entropy injection keep relative paths (and format version 1).
func TestCoordinatorRelativizesTaskPaths(t *testing.T) {
	for _, jobDir := range []string{"/tmp/ck/j", "file:///tmp/ck/j", "s3://b/ck/j", "hdfs://nn:8020/ck/j"} {
		src := TaskID{Vertex: "v", Subtask: 0}
		c := NewCoordinator(Config{JobID: "j", JobDir: jobDir, Interval: time.Second}, []TaskID{src}, []TaskID{src}, nil, 1)
		now := time.Unix(1000, 0)
		c.Tick(now)
		now = now.Add(time.Second)
		tr := findAction[*TriggerAction](t, c.Tick(now))
		h := TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op", MaxParallelism: 2,
			Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 1}, Format: "heap-v1",
				Files: []StateFile{{Path: tr.Dir + "/op-0.keyed", Size: 10}}, Offsets: []int64{0, 5}}},
			Files: []StateFile{{Path: strings.TrimSuffix(tr.Dir, "chk-1") + "shared/s.sst", Size: 1, Shared: true, New: true}}}}}
		cp := findAction[*CompleteAction](t, c.Ack(now, src, 1, h)).Checkpoint
		files := cp.Files()
		if len(files) != 2 || files[0].Path != "op-0.keyed" || files[1].Path != "s.sst" {
			t.Errorf("%s: stored paths %+v, want relative", jobDir, files)
		}
		if data := mustMarshal(t, cp); binary.BigEndian.Uint32(data[4:]) != 1 {
			t.Errorf("%s: written as version %d, want 1", jobDir, binary.BigEndian.Uint32(data[4:]))
		}
	}
	// An absolute local path outside the checkpoint's directories is refused, as before.
	src := TaskID{Vertex: "v", Subtask: 0}
	c := NewCoordinator(Config{JobID: "j", JobDir: "/tmp/ck/j", Interval: time.Second}, []TaskID{src}, []TaskID{src}, nil, 1)
	now := time.Unix(1000, 0)
	c.Tick(now)
	now = now.Add(time.Second)
	c.Tick(now)
	acts := c.Ack(now, src, 1, TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op", MaxParallelism: 1,
		Files: []StateFile{{Path: "/etc/passwd", Size: 1}}}}})
	if ab := findAction[*AbortAction](t, acts); !strings.Contains(ab.Reason, "relative") {
		t.Errorf("abort reason %q", ab.Reason)
	}
}
