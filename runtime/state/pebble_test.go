package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/serde"
)

func newPebbleBackend(t testing.TB, maxPar int, kg serde.KeyGroupRange) *KeyedBackend {
	return newPebbleBackendMem(t, maxPar, kg, 1<<20)
}

func newPebbleBackendMem(t testing.TB, maxPar int, kg serde.KeyGroupRange, memtable int) *KeyedBackend {
	t.Helper()
	b := NewKeyedBackend(maxPar, kg)
	b.SetKeyLength(keyLen)
	if err := b.UsePebble(PebbleConfig{Dir: filepath.Join(t.TempDir(), "pebble"), MemTableSize: memtable}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// dump returns every entry of the named int64 table as "key|ns=value" strings, sorted.
func dump(t *testing.T, b *KeyedBackend, name string) []string {
	t.Helper()
	tbl, err := GetTable(b, name, serde.MustFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	keys, vals := tbl.SortedEntries()
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%x=%d", k, vals[i])
	}
	return out
}

// TestPebbleTableMatchesHeap runs the same random operations (several states, namespaces,
// deletes) on a heap and a Pebble backend: every Get, Len and the final entries agree.
func TestPebbleTableMatchesHeap(t *testing.T) {
	heap := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	heap.SetKeyLength(keyLen)
	peb := newPebbleBackend(t, 128, serde.KeyGroupRangeFor(128, 1, 0))
	type pair struct{ h, p *Table[int64] }
	type lpair struct{ h, p *Table[[]string] }
	var tabs [3]pair
	for i := range tabs {
		var err error
		name := fmt.Sprintf("s%d", i)
		if tabs[i].h, err = GetTable(heap, name, serde.MustFor[int64]()); err != nil {
			t.Fatal(err)
		}
		if tabs[i].p, err = GetTable(peb, name, serde.MustFor[int64]()); err != nil {
			t.Fatal(err)
		}
	}
	var lists lpair
	lists.h, _ = GetTable(heap, "list", serde.MustFor[[]string]())
	lists.p, _ = GetTable(peb, "list", serde.MustFor[[]string]())
	if _, err := GetTable(peb, "s0", serde.MustFor[string]()); err == nil {
		t.Fatal("a second type for one state name must be refused")
	}
	kc := serde.MustFor[string]()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 20000; i++ {
		k := kc.Append(nil, fmt.Sprintf("key-%d", r.IntN(300)))
		heap.SetCurrentKey(k)
		peb.SetCurrentKey(k)
		var ns []byte
		if r.IntN(3) == 0 {
			ns = []byte{byte(r.IntN(4))}
		}
		tp := tabs[r.IntN(len(tabs))]
		switch op := r.IntN(10); {
		case op < 4:
			v := r.Int64()
			tp.h.Put(ns, v)
			tp.p.Put(ns, v)
		case op < 5:
			tp.h.Delete(ns)
			tp.p.Delete(ns)
		case op < 7:
			l, _ := lists.h.Get(ns)
			l = append(l, fmt.Sprint(i))
			lists.h.Put(ns, l)
			lp, _ := lists.p.Get(ns)
			lists.p.Put(ns, append(lp, fmt.Sprint(i)))
		default:
			hv, hok := tp.h.Get(ns)
			pv, pok := tp.p.Get(ns)
			if hv != pv || hok != pok {
				t.Fatalf("op %d: heap %d %v, pebble %d %v", i, hv, hok, pv, pok)
			}
			hl, _ := lists.h.Get(ns)
			pl, _ := lists.p.Get(ns)
			if !reflect.DeepEqual(hl, pl) {
				t.Fatalf("op %d: lists differ: %v vs %v", i, hl, pl)
			}
		}
	}
	for i, tp := range tabs {
		if tp.h.Len() != tp.p.Len() {
			t.Fatalf("s%d: heap has %d entries, pebble %d", i, tp.h.Len(), tp.p.Len())
		}
		hk, hv := tp.h.SortedEntries()
		pk, pv := tp.p.SortedEntries()
		if !reflect.DeepEqual(hk, pk) || !reflect.DeepEqual(hv, pv) {
			t.Fatalf("s%d: entries differ", i)
		}
	}
	// The canonical snapshots hold the same state: restoring either into the other backend
	// type gives the same tables.
	hs, err := heap.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := peb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fromPeb := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	fromPeb.SetKeyLength(keyLen)
	if err := fromPeb.Restore(ps); err != nil {
		t.Fatal(err)
	}
	fromHeap := newPebbleBackend(t, 128, serde.KeyGroupRangeFor(128, 1, 0))
	if err := fromHeap.Restore(hs); err != nil {
		t.Fatal(err)
	}
	for i := range tabs {
		name := fmt.Sprintf("s%d", i)
		want := dump(t, heap, name)
		if got := dump(t, fromPeb, name); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: heap restored from the pebble savepoint differs (%d vs %d entries)", name, len(got), len(want))
		}
		if got := dump(t, fromHeap, name); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: pebble restored from the heap savepoint differs (%d vs %d entries)", name, len(got), len(want))
		}
	}
}

// checkpointDirs lays out checkpoint storage like the task does: <job>/shared and
// <job>/chk-<n>/<op>.
func checkpointDirs(root string, id int64) (shared, private string) {
	return filepath.Join(root, "shared"), filepath.Join(root, fmt.Sprintf("chk-%d", id), "op-0")
}

func checkpointPebble(t *testing.T, b *KeyedBackend, root string, id int64) *PebbleUpload {
	t.Helper()
	p, err := b.PreparePebbleCheckpoint(id)
	if err != nil {
		t.Fatal(err)
	}
	shared, private := checkpointDirs(root, id)
	up, err := p.Upload(context.Background(), fs.Local{}, shared, private)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

func restoreHandleOf(t *testing.T, root string, id int64, up *PebbleUpload, kg serde.KeyGroupRange, meta []byte) RestoreHandle {
	shared, private := checkpointDirs(root, id)
	return RestoreHandle{Format: FormatPebble, KeyGroups: kg, FS: fs.Local{}, SharedDir: shared, PrivateDir: private, Snapshot: up.Snapshot, Meta: meta}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := fs.ReadFile(context.Background(), fs.Local{}, p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPebbleIncrementalCheckpoint: after changing 1% of the keys, the second checkpoint
// uploads only the SST files the first did not have (marked New) and a small fraction of the
// state; both restore paths (direct, and import at another parallelism) and a heap backend
// read it back with timers.
func TestPebbleIncrementalCheckpoint(t *testing.T) {
	const maxPar = 128
	keys := 100_000
	if testing.Short() {
		keys = 20_000
	}
	own := serde.KeyGroupRangeFor(maxPar, 1, 0)
	// A memtable larger than the state: checkpoint 1 flushes it into one file and checkpoint 2
	// adds one small file, without compactions rewriting older files (those make the upload
	// larger in steady state; the benchmark measures that).
	b := newPebbleBackendMem(t, maxPar, own, 64<<20)
	tbl, err := GetTable(b, "v", serde.MustFor[[]byte]())
	if err != nil {
		t.Fatal(err)
	}
	kc := serde.MustFor[string]()
	r := rand.New(rand.NewPCG(1, 2))
	val := func() []byte {
		v := make([]byte, 100)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		return v
	}
	for i := 0; i < keys; i++ {
		b.SetCurrentKey(kc.Append(nil, fmt.Sprintf("key-%07d", i)))
		tbl.Put(nil, val())
	}
	b.SetCurrentKey(kc.Append(nil, "key-0000001"))
	b.EventTimers.Add(Timer{Timestamp: 42, Key: string(b.CurrentKey()), Namespace: "w"})
	root := t.TempDir()
	up1 := checkpointPebble(t, b, root, 1)
	for _, f := range up1.Snapshot.Files {
		if !f.New {
			t.Fatalf("first checkpoint reuses %s", f.Name)
		}
	}
	b.CheckpointComplete(1)
	for i := 0; i < keys/100; i++ {
		b.SetCurrentKey(kc.Append(nil, fmt.Sprintf("key-%07d", r.IntN(keys))))
		tbl.Put(nil, val())
	}
	up2 := checkpointPebble(t, b, root, 2)
	first := map[string]bool{}
	for _, n := range up1.Snapshot.SharedNames() {
		first[n] = true
	}
	var newBytes int64
	for _, f := range up2.Snapshot.Files {
		if f.New == first[f.Name] {
			t.Fatalf("file %s: New=%v, but in checkpoint 1: %v", f.Name, f.New, first[f.Name])
		}
		if f.New {
			newBytes += f.Size
		}
	}
	state := up2.Snapshot.StateSize()
	t.Logf("state %d bytes; checkpoint 2 uploaded %d bytes (%d in new SSTs) = %.2f%%", state, up2.UploadedBytes, newBytes, 100*float64(up2.UploadedBytes)/float64(state))
	if up2.UploadedBytes*10 > state {
		t.Fatalf("incremental checkpoint uploaded %d of %d bytes (>= 10%%)", up2.UploadedBytes, state)
	}
	b.CheckpointComplete(2)
	want := map[string]string{}
	keysOut, vals := tbl.SortedEntries()
	for i, k := range keysOut {
		want[k] = string(vals[i])
	}
	_, private := checkpointDirs(root, 2)
	meta := readFile(t, filepath.Join(private, MetaFileName))
	desc := readFile(t, filepath.Join(private, DescriptorFileName))
	if !strings.Contains(string(desc), `"files"`) {
		t.Fatalf("descriptor: %s", desc)
	}

	check := func(t *testing.T, b *KeyedBackend, r serde.KeyGroupRange) (int, int) {
		tbl, err := GetTable(b, "v", serde.MustFor[[]byte]())
		if err != nil {
			t.Fatal(err)
		}
		ks, vs := tbl.SortedEntries()
		for i, k := range ks {
			kg := serde.KeyGroupOf([]byte(k)[:keyLen([]byte(k))], maxPar)
			if kg < r.Start || kg > r.End {
				t.Fatalf("key group %d outside %v", kg, r)
			}
			if want[k] != string(vs[i]) {
				t.Fatalf("key %q: value differs", k)
			}
		}
		return len(ks), b.EventTimers.Len()
	}
	t.Run("direct", func(t *testing.T) {
		nb := newPebbleBackendMem(t, maxPar, own, 64<<20)
		hs := []RestoreHandle{restoreHandleOf(t, root, 2, up2, own, meta)}
		if PlanRestore(true, own, hs) != RestoreDirect {
			t.Fatal("same key groups should restore directly")
		}
		if err := nb.RestoreHandles(context.Background(), hs, ""); err != nil {
			t.Fatal(err)
		}
		if n, timers := check(t, nb, own); n != len(want) || timers != 1 {
			t.Fatalf("%d entries, %d timers; want %d, 1", n, timers, len(want))
		}
		// The restored store continues incrementally in the same shared directory: a file of
		// checkpoint 2 still live is referenced under its name, everything else is New. (Pebble
		// may compact the restored L0 files at once, so how much is reused varies.)
		up3 := checkpointPebble(t, nb, root, 3)
		second := map[string]bool{}
		for _, n := range up2.Snapshot.SharedNames() {
			second[n] = true
		}
		for _, f := range up3.Snapshot.Files {
			if f.New == second[f.Name] {
				t.Fatalf("after restore: file %s New=%v, in checkpoint 2: %v", f.Name, f.New, second[f.Name])
			}
		}
		// Elsewhere (a job that does not own the snapshot) everything is uploaded again.
		up4 := checkpointPebble(t, nb, t.TempDir(), 4)
		for _, f := range up4.Snapshot.Files {
			if !f.New {
				t.Fatalf("checkpoint into another shared directory reuses %s", f.Name)
			}
		}
	})
	for _, heapMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("rescale-heap=%v", heapMode), func(t *testing.T) {
			total, timers := 0, 0
			for sub := 0; sub < 3; sub++ {
				r := serde.KeyGroupRangeFor(maxPar, 3, sub)
				var nb *KeyedBackend
				if heapMode {
					nb = NewKeyedBackend(maxPar, r)
					nb.SetKeyLength(keyLen)
				} else {
					nb = newPebbleBackend(t, maxPar, r)
				}
				hs := []RestoreHandle{restoreHandleOf(t, root, 2, up2, own, meta)}
				if err := nb.RestoreHandles(context.Background(), hs, t.TempDir()); err != nil {
					t.Fatal(err)
				}
				n, tm := check(t, nb, r)
				total, timers = total+n, timers+tm
			}
			if total != len(want) || timers != 1 {
				t.Fatalf("%d entries, %d timers over 3 subtasks; want %d, 1", total, timers, len(want))
			}
		})
	}
}

// TestPebbleAbortedCheckpointNotReused: files of a checkpoint that never completed are
// uploaded again (New) by the next one; an unknown format is refused with a clear error.
func TestPebbleAbortedCheckpointNotReused(t *testing.T) {
	own := serde.KeyGroupRangeFor(128, 1, 0)
	b := newPebbleBackend(t, 128, own)
	fill(t, b, 500)
	root := t.TempDir()
	up1 := checkpointPebble(t, b, root, 1)
	b.CheckpointAborted(1)
	up2 := checkpointPebble(t, b, root, 2)
	if len(up1.Snapshot.Files) == 0 {
		t.Fatal("no SST files")
	}
	for _, f := range up2.Snapshot.Files {
		if !f.New {
			t.Fatalf("checkpoint 2 reuses %s of the aborted checkpoint 1", f.Name)
		}
	}
	b.CheckpointComplete(2)
	up3 := checkpointPebble(t, b, root, 3)
	for _, f := range up3.Snapshot.Files {
		if f.New {
			t.Fatalf("checkpoint 3 uploads %s again although checkpoint 2 completed", f.Name)
		}
	}
	err := NewKeyedBackend(128, own).RestoreHandles(context.Background(), []RestoreHandle{{Format: "rocks-v9", KeyGroups: own}}, "")
	if err == nil || !strings.Contains(err.Error(), "rocks-v9") {
		t.Fatalf("unknown format: %v", err)
	}
}

// TestPebbleStateIDsStable: state ids come from the snapshot on restore, so a state registered
// in another order after the restore still finds its entries, and a new state gets a new id.
func TestPebbleStateIDsStable(t *testing.T) {
	own := serde.KeyGroupRangeFor(128, 1, 0)
	b := newPebbleBackend(t, 128, own)
	kc := serde.MustFor[string]()
	a, _ := GetTable(b, "a", serde.MustFor[int64]())
	c, _ := GetTable(b, "c", serde.MustFor[int64]())
	b.SetCurrentKey(kc.Append(nil, "k"))
	a.Put(nil, 1)
	c.Put(nil, 3)
	root := t.TempDir()
	up := checkpointPebble(t, b, root, 1)
	_, private := checkpointDirs(root, 1)
	meta := readFile(t, filepath.Join(private, MetaFileName))
	nb := newPebbleBackend(t, 128, own)
	if err := nb.RestoreHandles(context.Background(), []RestoreHandle{restoreHandleOf(t, root, 1, up, own, meta)}, ""); err != nil {
		t.Fatal(err)
	}
	nb.SetCurrentKey(kc.Append(nil, "k"))
	x, _ := GetTable(nb, "x", serde.MustFor[int64]())
	c2, _ := GetTable(nb, "c", serde.MustFor[int64]())
	a2, _ := GetTable(nb, "a", serde.MustFor[int64]())
	if v, ok := c2.Get(nil); !ok || v != 3 {
		t.Fatalf("c = %d %v", v, ok)
	}
	if v, ok := a2.Get(nil); !ok || v != 1 {
		t.Fatalf("a = %d %v", v, ok)
	}
	if _, ok := x.Get(nil); ok || x.id != 2 {
		t.Fatalf("new state x: id %d", x.id)
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, fmt.Errorf("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

// TestPebbleSnapshotTo: the streamed savepoint restores like the in-memory one, and a failing
// writer gives an error.
func TestPebbleSnapshotTo(t *testing.T) {
	own := serde.KeyGroupRangeFor(128, 1, 0)
	b := newPebbleBackend(t, 128, own)
	fill(t, b, 3000)
	var buf strings.Builder
	n, err := b.SnapshotTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("SnapshotTo: %d bytes reported, %d written, %v", n, buf.Len(), err)
	}
	mem, err := b.Snapshot()
	if err != nil || string(mem) != buf.String() {
		t.Fatalf("Snapshot and SnapshotTo differ (%v)", err)
	}
	h := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 2, 1))
	h.SetKeyLength(keyLen)
	if err := h.Restore([]byte(buf.String())); err != nil {
		t.Fatal(err)
	}
	if h.EventTimers.Len() == 0 || len(dump(t, h, "count")) == 0 {
		t.Fatal("nothing restored")
	}
	if _, err := b.SnapshotTo(&failingWriter{left: 100}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failing writer: %v", err)
	}
}

// TestPebbleFullCheckpoints: with FullCheckpoints every checkpoint uploads every SST file.
func TestPebbleFullCheckpoints(t *testing.T) {
	own := serde.KeyGroupRangeFor(128, 1, 0)
	b := NewKeyedBackend(128, own)
	b.SetKeyLength(keyLen)
	if err := b.UsePebble(PebbleConfig{Dir: filepath.Join(t.TempDir(), "p"), FullCheckpoints: true}); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fill(t, b, 500)
	root := t.TempDir()
	checkpointPebble(t, b, root, 1)
	b.CheckpointComplete(1)
	up := checkpointPebble(t, b, root, 2)
	if len(up.Snapshot.Files) == 0 {
		t.Fatal("no SST files")
	}
	for _, f := range up.Snapshot.Files {
		if !f.New {
			t.Fatalf("full checkpoint references %s", f.Name)
		}
	}
}

// TestRestoreStreamedFGKS: an FGKS file restored through RestoreHandle.Open (streamed) gives the
// same state as the in-memory restore, on both backends; a corrupted file fails naming it.
func TestRestoreStreamedFGKS(t *testing.T) {
	own := serde.KeyGroupRangeFor(128, 1, 0)
	src := NewKeyedBackend(128, own)
	src.SetKeyLength(keyLen)
	fill(t, src, 1000)
	data, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "op-0.keyed")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(name string) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) { return os.Open(name) }
	}
	want := dump(t, src, "count")
	for _, pebble := range []bool{false, true} {
		sub := serde.KeyGroupRangeFor(128, 2, 0)
		var b *KeyedBackend
		if pebble {
			b = newPebbleBackend(t, 128, sub)
		} else {
			b = NewKeyedBackend(128, sub)
			b.SetKeyLength(keyLen)
		}
		h := RestoreHandle{Format: FormatHeap, KeyGroups: own, Name: file, Open: open(file), Size: int64(len(data))}
		if err := b.RestoreHandles(context.Background(), []RestoreHandle{h}, ""); err != nil {
			t.Fatal(err)
		}
		got := dump(t, b, "count")
		if len(got) == 0 || len(got) >= len(want) {
			t.Fatalf("pebble=%v: %d of %d entries in half the key groups", pebble, len(got), len(want))
		}
		for _, e := range got {
			if !slices.Contains(want, e) {
				t.Fatalf("pebble=%v: unexpected entry %s", pebble, e)
			}
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.keyed")
	if err := os.WriteFile(bad, append(append([]byte(nil), data[:len(data)-1]...), data[len(data)-1]^1), 0o644); err != nil {
		t.Fatal(err)
	}
	err = newPebbleBackend(t, 128, own).RestoreHandles(context.Background(),
		[]RestoreHandle{{Format: FormatHeap, KeyGroups: own, Name: bad, Open: open(bad), Size: int64(len(data))}}, "")
	if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupted file: %v", err)
	}
}
