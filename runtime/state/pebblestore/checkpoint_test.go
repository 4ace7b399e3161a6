package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/flink-go/flink-go/fs"
)

// storage is a checkpoint storage location on the local file system, as the checkpoint
// pipeline would lay it out: one shared directory, one private directory per checkpoint.
type storage struct {
	fsys     fs.FileSystem
	shared   string
	root     string
	uploaded map[string]bool
}

func newStorage(t testing.TB) *storage {
	root := filepath.ToSlash(t.TempDir())
	return &storage{fsys: fs.Local{}, shared: fs.Join(root, "shared"), root: root, uploaded: map[string]bool{}}
}

func (st *storage) private(id int64) string {
	return fs.Join(st.root, fmt.Sprintf("chk-%d", id))
}

// checkpoint runs both halves of a checkpoint and records its shared files as uploaded.
func (st *storage) checkpoint(t testing.TB, s *Store, id int64) (*Snapshot, int64) {
	t.Helper()
	p, err := s.PrepareCheckpoint(id)
	if err != nil {
		t.Fatalf("PrepareCheckpoint(%d): %v", id, err)
	}
	snap, n, err := p.Upload(context.Background(), st.fsys, st.shared, st.private(id), st.uploaded)
	if err != nil {
		t.Fatalf("Upload(%d): %v", id, err)
	}
	if _, err := os.Stat(p.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Upload left the local checkpoint directory %s behind: %v", p.dir, err)
	}
	for _, name := range snap.SharedNames() {
		st.uploaded[name] = true
	}
	return snap, n
}

func (st *storage) restore(t testing.TB, snap *Snapshot, o Options) (*Store, error) {
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "restored")
	}
	s, err := Restore(context.Background(), st.fsys, snap, st.shared, st.private(snap.ID), o)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

func equalMaps(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("%s: key %x = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
}

func key(i int) []byte {
	var k [11]byte
	binary.BigEndian.PutUint16(k[:], uint16(i%128)) // key group
	k[2] = 1                                        // state id
	binary.BigEndian.PutUint64(k[3:], uint64(i))
	return k[:]
}

func value(r *rand.Rand, n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// settle waits until Pebble has no flush or compaction running (for 3 polls in a row), so that
// tests measure what one checkpoint adds rather than the tail of an earlier bulk load. It does
// not wait for the estimated compaction debt to reach zero: Pebble leaves non-overlapping L0
// files of a sorted load in place (one sublevel), debt or not.
func settle(t testing.TB, s *Store) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	quiet := 0
	for quiet < 3 {
		m := s.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("compactions did not settle: %d in progress", m.Compact.NumInProgress)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCheckpointRestoreEquality(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{MemTableSize: 256 << 10})
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		if err := s.Set(key(i), value(r, 50)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20000; i += 7 {
		if err := s.Delete(key(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Key group 5 dropped with a range deletion.
	if err := s.DeleteRange([]byte{0, 5}, []byte{0, 6}); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s)
	snap, n := st.checkpoint(t, s, 1)
	t.Logf("private files: %+v", snap.Private)
	if n < snap.StateSize() || snap.StateSize() == 0 {
		t.Fatalf("first checkpoint uploaded %d bytes of a %d-byte state; want all of it", n, snap.StateSize())
	}
	// Writes after PrepareCheckpoint are not part of it.
	if err := s.Set([]byte("after"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	r2, err := st.restore(t, snap, Options{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	equalMaps(t, "restored store", dump(t, r2), want)
	// The restored store is a working store: writable, and checkpoints again.
	if err := r2.Set([]byte("new"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	want["new"] = "y"
	snap2, _ := st.checkpoint(t, r2, 2)
	r3, err := st.restore(t, snap2, Options{})
	if err != nil {
		t.Fatalf("Restore of a restored store's checkpoint: %v", err)
	}
	equalMaps(t, "restored twice", dump(t, r3), want)
}

func TestIncrementalCheckpoint(t *testing.T) {
	const n = 200_000
	st := newStorage(t)
	s := openTest(t, Options{MemTableSize: 4 << 20})
	r := rand.New(rand.NewPCG(3, 4))
	if err := s.Import(func(yield func(k, v []byte) bool) {
		for i := 0; i < n; i++ {
			if !yield(key(i), value(r, 100)) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	snap1, up1 := st.checkpoint(t, s, 1)
	full := snap1.StateSize()
	if up1 != full {
		t.Fatalf("full checkpoint uploaded %d of %d bytes", up1, full)
	}
	if full < n*100 {
		t.Fatalf("state of %d keys x 100 B is only %d bytes", n, full)
	}
	// Update 1% of the keys, then checkpoint again.
	for j := 0; j < n/100; j++ {
		if err := s.Set(key(r.IntN(n)), value(r, 100)); err != nil {
			t.Fatal(err)
		}
	}
	snap2, up2 := st.checkpoint(t, s, 2)
	ratio := float64(up2) / float64(snap2.StateSize())
	t.Logf("full state %d B in %d files; incremental upload %d B (%.2f%% of %d B)",
		full, len(snap1.Files), up2, 100*ratio, snap2.StateSize())
	if ratio > 0.05 {
		t.Errorf("incremental checkpoint uploaded %.1f%% of the state, want < 5%%", 100*ratio)
	}
	// Exactly the shared files that checkpoint 1 did not have were uploaded, plus the
	// private files.
	old := map[string]bool{}
	for _, f := range snap1.Files {
		old[f.Name] = true
	}
	var want int64
	for _, f := range snap2.Files {
		if !old[f.Name] {
			want += f.Size
		}
	}
	for _, f := range snap2.Private {
		want += f.Size
	}
	if up2 != want {
		t.Errorf("uploaded %d bytes, the new files of checkpoint 2 total %d", up2, want)
	}
	for _, f := range snap2.Files {
		if f.New == old[f.Name] {
			t.Errorf("file %s: New=%v, but in checkpoint 1: %v", f.Name, f.New, old[f.Name])
		}
	}
	// Both checkpoints restore to what the store held at each.
	r2, err := st.restore(t, snap2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "checkpoint 2", dump(t, r2), dump(t, s))
}

// TestRetainedCheckpoints restores every retained checkpoint after later ones were taken, with
// the store compacting in between (the shared files of older checkpoints must stay usable).
func TestRetainedCheckpoints(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{MemTableSize: 64 << 10, tweak: func(o *pebble.Options) {
		o.L0CompactionThreshold = 2
	}})
	r := rand.New(rand.NewPCG(5, 6))
	type retained struct {
		snap  *Snapshot
		state map[string]string
	}
	var kept []retained
	for id := int64(1); id <= 8; id++ {
		for j := 0; j < 3000; j++ {
			i := r.IntN(5000)
			if r.IntN(10) == 0 {
				_ = s.Delete(key(i))
			} else if err := s.Set(key(i), value(r, 40)); err != nil {
				t.Fatal(err)
			}
		}
		snap, _ := st.checkpoint(t, s, id)
		kept = append(kept, retained{snap, dump(t, s)})
	}
	for _, k := range kept {
		rs, err := st.restore(t, k.snap, Options{})
		if err != nil {
			t.Fatalf("restore checkpoint %d: %v", k.snap.ID, err)
		}
		equalMaps(t, fmt.Sprintf("checkpoint %d", k.snap.ID), dump(t, rs), k.state)
		_ = rs.Close()
	}
}

// TestRestoreOlderThenCheckpoint restores an older checkpoint, writes, checkpoints: the new
// database instance reuses Pebble file numbers that later checkpoints of the first instance
// used, which must not make it skip or overwrite their shared files.
func TestRestoreOlderThenCheckpoint(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	write := func(s *Store, tag string, from, to int) {
		for i := from; i < to; i++ {
			if err := s.Set(key(i), []byte(tag)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(s, "a", 0, 1000)
	snap1, _ := st.checkpoint(t, s, 1)
	write(s, "b", 0, 1000)
	snap2, _ := st.checkpoint(t, s, 2)
	want2 := dump(t, s)

	r1, err := st.restore(t, snap1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(r1, "c", 500, 1000)
	want3 := dump(t, r1)
	snap3, up3 := st.checkpoint(t, r1, 3)
	// Checkpoint 1's file is referenced again, not uploaded.
	reused := 0
	for _, f := range snap3.Files {
		for _, g := range snap1.Files {
			if f.Name == g.Name {
				reused++
			}
		}
	}
	if reused != len(snap1.Files) {
		t.Errorf("checkpoint 3 reuses %d of checkpoint 1's %d files", reused, len(snap1.Files))
	}
	if up3 >= snap3.StateSize() {
		t.Errorf("checkpoint 3 uploaded %d of %d bytes: nothing was reused", up3, snap3.StateSize())
	}
	for _, c := range []struct {
		snap *Snapshot
		want map[string]string
	}{{snap2, want2}, {snap3, want3}} {
		rs, err := st.restore(t, c.snap, Options{})
		if err != nil {
			t.Fatalf("restore %d: %v", c.snap.ID, err)
		}
		equalMaps(t, "restored", dump(t, rs), c.want)
	}
}

func TestRestoreMissingOrCorruptFile(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	for i := 0; i < 1000; i++ {
		_ = s.Set(key(i), []byte("value"))
	}
	snap, _ := st.checkpoint(t, s, 1)
	if len(snap.Files) == 0 {
		t.Fatal("no shared files")
	}
	sst := fs.Join(st.shared, snap.Files[0].Name)
	data, err := fs.ReadFile(context.Background(), st.fsys, sst)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) {
		if err := fs.WriteFileAtomic(context.Background(), st.fsys, sst, b); err != nil {
			t.Fatal(err)
		}
	}
	manifest := ""
	for _, f := range snap.Private {
		if strings.HasPrefix(f.Name, "MANIFEST-") {
			manifest = f.Name
		}
	}

	cases := []struct {
		name   string
		break_ func()
		file   string
		cause  string
	}{
		{"corrupt sst", func() {
			bad := append([]byte(nil), data...)
			bad[len(bad)/2] ^= 0x40
			put(bad)
		}, snap.Files[0].Name, "checksum mismatch"},
		{"truncated sst", func() { put(data[:len(data)-1]) }, snap.Files[0].Name, "size mismatch"},
		{"grown sst", func() { put(append(append([]byte(nil), data...), 0)) }, snap.Files[0].Name, "size mismatch"},
		{"missing sst", func() {
			if err := st.fsys.Delete(context.Background(), sst, false); err != nil {
				t.Fatal(err)
			}
		}, snap.Files[0].Name, "missing"},
		{"missing manifest", func() {
			put(data)
			if err := st.fsys.Delete(context.Background(), fs.Join(st.private(1), manifest), false); err != nil {
				t.Fatal(err)
			}
		}, manifest, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.break_()
			dir := filepath.Join(t.TempDir(), "r")
			_, err := st.restore(t, snap, Options{Dir: dir})
			if err == nil {
				t.Fatal("restore succeeded")
			}
			t.Logf("%s: %v", c.name, err)
			if !strings.Contains(err.Error(), c.file) || !strings.Contains(err.Error(), c.cause) {
				t.Fatalf("error %q does not name file %s and cause %q", err, c.file, c.cause)
			}
			if c.cause == "missing" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error does not wrap ErrNotExist: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed restore left %s/db behind", dir)
			}
		})
	}
}

func TestRestoreRejects(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	_ = s.Set([]byte("k"), []byte("v"))
	snap, _ := st.checkpoint(t, s, 1)

	// Into a directory that holds a database.
	if _, err := st.restore(t, snap, Options{Dir: s.opts.Dir}); err == nil || !strings.Contains(err.Error(), "already holds a database") {
		t.Errorf("restore over an existing database: %v", err)
	}
	bad := func(mut func(*Snapshot)) *Snapshot {
		c := *snap
		c.Files = append([]SnapshotFile(nil), snap.Files...)
		c.Private = append([]SnapshotFile(nil), snap.Private...)
		mut(&c)
		return &c
	}
	for name, sn := range map[string]*Snapshot{
		"nil":         nil,
		"no manifest": bad(func(s *Snapshot) { s.Private = nil }),
		"path escape": bad(func(s *Snapshot) { s.Files[0].LocalName = "../x.sst" }),
		"duplicate":   bad(func(s *Snapshot) { s.Files = append(s.Files, s.Files[0]) }),
		"sst private": bad(func(s *Snapshot) { s.Private = append(s.Private, s.Files[0]) }),
	} {
		if _, err := Restore(context.Background(), st.fsys, sn, st.shared, st.private(1), Options{Dir: t.TempDir()}); err == nil {
			t.Errorf("%s: restore accepted the snapshot", name)
		}
	}
}

func TestUploadCancelled(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	_ = s.Set([]byte("k"), []byte("v"))
	p, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Upload(ctx, st.fsys, st.shared, st.private(1), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Upload with a cancelled context: %v", err)
	}
	if _, err := os.Stat(p.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Upload left %s behind", p.dir)
	}
	// Abandoning a prepared checkpoint without uploading.
	p2, err := s.PrepareCheckpoint(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := p2.Release(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p2.Upload(context.Background(), st.fsys, st.shared, st.private(2), nil); err == nil || !strings.Contains(err.Error(), "already uploaded or released") {
		t.Errorf("Upload after Release: %v", err)
	}
	if _, _, err := p.Upload(context.Background(), st.fsys, st.shared, st.private(1), nil); err == nil || !strings.Contains(err.Error(), "already uploaded or released") {
		t.Errorf("second Upload: %v", err)
	}
	if _, err := os.Stat(p2.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left %s behind", p2.dir)
	}
}

// TestUploadConcurrentWithWrites uploads while the task keeps writing, as the pipeline does.
func TestUploadConcurrentWithWrites(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{MemTableSize: 64 << 10})
	for i := 0; i < 5000; i++ {
		_ = s.Set(key(i), []byte("before"))
	}
	want := dump(t, s)
	p, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		snap *Snapshot
		err  error
	}
	done := make(chan result)
	go func() {
		snap, _, err := p.Upload(context.Background(), st.fsys, st.shared, st.private(1), st.uploaded)
		done <- result{snap, err}
	}()
	for i := 0; i < 20000; i++ {
		if err := s.Set(key(i), []byte("after")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange(nil, []byte{0, 64}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rs, err := st.restore(t, res.snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "checkpoint taken before the writes", dump(t, rs), want)
}

// TestOverlappingCheckpoints uploads checkpoint 2 before checkpoint 1 completes (so without
// its files in the uploaded set), as happens with concurrent checkpoints: checkpoint 2 uploads
// the files again under names of its own, and both checkpoints restore.
func TestOverlappingCheckpoints(t *testing.T) {
	st := newStorage(t)
	// No compactions, so that checkpoint 3 holds checkpoint 1's file.
	s := openTest(t, Options{tweak: func(o *pebble.Options) { o.DisableAutomaticCompactions = true }})
	for i := 0; i < 2000; i++ {
		_ = s.Set(key(i), []byte("one"))
	}
	want1 := dump(t, s)
	p1, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		_ = s.Set(key(i), []byte("two"))
	}
	want2 := dump(t, s)
	p2, err := s.PrepareCheckpoint(2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	snap2, _, err := p2.Upload(ctx, st.fsys, st.shared, st.private(2), st.uploaded)
	if err != nil {
		t.Fatal(err)
	}
	snap1, _, err := p1.Upload(ctx, st.fsys, st.shared, st.private(1), st.uploaded)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range append(snap1.Files, snap2.Files...) {
		if !f.New {
			t.Errorf("%s not marked New, though no checkpoint had completed", f.Name)
		}
		if names[f.Name] {
			t.Errorf("two uploads under one name %s", f.Name)
		}
		names[f.Name] = true
	}
	// Checkpoint 1 completes, then checkpoint 3 reuses its files (the late, older upload must
	// not have made the store forget them).
	for _, n := range snap1.SharedNames() {
		st.uploaded[n] = true
	}
	snap3, _ := st.checkpoint(t, s, 3)
	reused := 0
	for _, f := range snap3.Files {
		if !f.New {
			reused++
		}
	}
	if reused == 0 {
		t.Errorf("checkpoint 3 reuses none of checkpoint 1's files:\n1: %+v\n2: %+v\n3: %+v", snap1.Files, snap2.Files, snap3.Files)
	}
	for _, c := range []struct {
		snap *Snapshot
		want map[string]string
	}{{snap1, want1}, {snap2, want2}, {snap3, want2}} {
		rs, err := st.restore(t, c.snap, Options{})
		if err != nil {
			t.Fatalf("restore %d: %v", c.snap.ID, err)
		}
		equalMaps(t, fmt.Sprintf("checkpoint %d", c.snap.ID), dump(t, rs), c.want)
	}
}

func TestPlanUpload(t *testing.T) {
	files := []localFile{
		{name: "000005.sst", size: 100, shared: true},
		{name: "000007.sst", size: 200, shared: true},
		{name: "000009.sst", size: 300, shared: true},
		{name: "000011.sst", size: 400, shared: true},
		{name: "000013.sst", size: 500, shared: true},
		{name: "MANIFEST-000001", size: 50},
	}
	known := map[string][]SnapshotFile{
		// restored: keeps its storage name
		"000005.sst": {{Name: "aaaa-000005.sst", LocalName: "000005.sst", Size: 100, Checksum: 5}},
		// uploaded by a checkpoint that has not completed (or was aborted)
		"000007.sst": {{Name: "bbbb-000007.sst", LocalName: "000007.sst", Size: 200, Checksum: 7}},
		// uploaded twice by overlapping checkpoints; the second one completed
		"000009.sst": {
			{Name: "cccc-000009.sst", LocalName: "000009.sst", Size: 300, Checksum: 9},
			{Name: "dddd-000009.sst", LocalName: "000009.sst", Size: 300, Checksum: 9},
		},
		// stale entry whose size disagrees: never trusted
		"000011.sst": {{Name: "eeee-000011.sst", LocalName: "000011.sst", Size: 1, Checksum: 11}},
	}
	uploaded := map[string]bool{"aaaa-000005.sst": true, "dddd-000009.sst": true, "eeee-000011.sst": true}
	plan := planUpload(files, known, uploaded, "ffff")
	want := []struct {
		name   string
		upload bool
		sum    uint32
	}{
		{"aaaa-000005.sst", false, 5},
		{"ffff-000007.sst", true, 0},
		{"dddd-000009.sst", false, 9},
		{"ffff-000011.sst", true, 0},
		{"ffff-000013.sst", true, 0},
		{"MANIFEST-000001", true, 0},
	}
	if len(plan) != len(want) {
		t.Fatalf("plan has %d steps", len(plan))
	}
	for i, w := range want {
		e := plan[i].entry
		if e.Name != w.name || plan[i].upload != w.upload || e.LocalName != files[i].name ||
			e.Checksum != w.sum || e.New != w.upload || e.Size != files[i].size {
			t.Errorf("step %d: %+v upload=%v, want name %s upload %v checksum %d", i, e, plan[i].upload, w.name, w.upload, w.sum)
		}
	}
}

// TestRestoreOlderFormat restores a checkpoint written in Pebble's oldest supported format (as a
// checkpoint of an older build would be): the store opens it, ratcheted to the newest format.
func TestRestoreOlderFormat(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{tweak: func(o *pebble.Options) { o.FormatMajorVersion = pebble.FormatMinSupported }})
	for i := 0; i < 3000; i++ {
		_ = s.Set(key(i), []byte(fmt.Sprint(i)))
	}
	want := dump(t, s)
	snap, _ := st.checkpoint(t, s, 1)
	rs, err := st.restore(t, snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "restored from the old format", dump(t, rs), want)
	if got := rs.db.FormatMajorVersion(); got != pebble.FormatNewest {
		t.Errorf("restored database has format %d, want %d", got, pebble.FormatNewest)
	}
	// And it checkpoints again.
	snap2, _ := st.checkpoint(t, rs, 2)
	if _, err := st.restore(t, snap2, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestValueSeparationCheckpoint: values of valueSeparation.MinimumSize bytes and more live in
// blob files, which checkpoints upload as shared files next to the tables (once, then by
// reference) and restores bring back; small values stay in the tables.
func TestValueSeparationCheckpoint(t *testing.T) {
	st := newStorage(t)
	s := openTest(t, Options{})
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		size := 200
		if i%2 == 1 {
			size = valueSeparation.MinimumSize / 2
		}
		if err := s.Set(key(i), value(r, size)); err != nil {
			t.Fatal(err)
		}
	}
	blobs := func(snap *Snapshot) (n int) {
		for _, f := range snap.Files {
			if strings.HasSuffix(f.LocalName, ".blob") {
				n++
			}
		}
		return n
	}
	snap1, _ := st.checkpoint(t, s, 1)
	if blobs(snap1) == 0 {
		t.Fatalf("checkpoint 1 holds no blob file: %+v", snap1.Files)
	}
	for i := 0; i < 2000; i += 100 {
		if err := s.Set(key(i), value(r, 200)); err != nil {
			t.Fatal(err)
		}
	}
	snap2, _ := st.checkpoint(t, s, 2)
	old := map[string]bool{}
	for _, f := range snap1.Files {
		old[f.Name] = true
	}
	for _, f := range snap2.Files {
		if f.New == old[f.Name] {
			t.Errorf("checkpoint 2: file %s New=%v, but it was in checkpoint 1: %v", f.Name, f.New, old[f.Name])
		}
	}
	if blobs(snap2) <= blobs(snap1) {
		t.Errorf("checkpoint 2 references %d blob files, checkpoint 1 %d: the updates' blob file is missing", blobs(snap2), blobs(snap1))
	}
	want := dump(t, s)
	rs, err := Restore(context.Background(), st.fsys, snap2, st.shared, st.private(2), Options{Dir: filepath.Join(t.TempDir(), "r")})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got := dump(t, rs)
	if len(got) != len(want) {
		t.Fatalf("restored %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("restored key %x differs", k)
		}
	}
}
