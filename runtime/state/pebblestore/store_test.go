package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTest(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "store")
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dump returns every entry of the store, in key order.
func dump(t testing.TB, s *Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	var prev []byte
	err := s.Iter(nil, func(k, v []byte) bool {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("Iter out of order: %x then %x", prev, k)
		}
		prev = append(prev[:0], k...)
		m[string(k)] = string(v)
		return true
	})
	if err != nil {
		t.Fatalf("Iter: %v", err)
	}
	return m
}

func TestOptionsValidation(t *testing.T) {
	if _, err := Open(Options{}); err == nil || !strings.Contains(err.Error(), "Dir is empty") {
		t.Fatalf("Open without Dir: got %v, want an error about Dir", err)
	}
	if _, err := Open(Options{Dir: t.TempDir(), CacheSize: -1}); err == nil {
		t.Fatal("Open with negative cache size: no error")
	}
}

func TestBasicOps(t *testing.T) {
	s := openTest(t, Options{})
	if _, ok, err := s.Get([]byte("a")); ok || err != nil {
		t.Fatalf("Get on empty store: ok=%v err=%v", ok, err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Set([]byte{0, byte(i), 1}, []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	v, ok, err := s.Get([]byte{0, 3, 1})
	if err != nil || !ok || string(v) != "v3" {
		t.Fatalf("Get: %q %v %v", v, ok, err)
	}
	// The value stays valid until the next Get.
	v2, _, _ := s.Get([]byte{0, 4, 1})
	if string(v2) != "v4" {
		t.Fatalf("Get: %q", v2)
	}
	if err := s.Delete([]byte{0, 3, 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get([]byte{0, 3, 1}); ok {
		t.Fatal("deleted key still present")
	}
	if err := s.Delete([]byte("missing")); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	// Empty values and empty keys are legal.
	if err := s.Set(nil, nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(nil); !ok || err != nil || len(v) != 0 {
		t.Fatalf("Get(empty key): %q %v %v", v, ok, err)
	}
	if err := s.DeleteRange([]byte{0, 5}, []byte{0, 8}); err != nil {
		t.Fatal(err)
	}
	got := dump(t, s)
	for i := 0; i < 10; i++ {
		_, present := got[string([]byte{0, byte(i), 1})]
		want := i != 3 && (i < 5 || i >= 8)
		if present != want {
			t.Errorf("key %d present=%v, want %v", i, present, want)
		}
	}
	if err := s.DeleteRange([]byte{2}, []byte{1}); err == nil {
		t.Error("DeleteRange with start after end: no error")
	}
	if err := s.DeleteRange([]byte{1}, []byte{1}); err != nil {
		t.Errorf("empty DeleteRange: %v", err)
	}
	if err := s.DeleteRange([]byte{0, 9}, nil); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s); len(got) != 6 { // "", 0, 1, 2, 4 and 8
		t.Errorf("after open-ended DeleteRange: %d keys %q", len(got), got)
	}
}

func TestIterPrefix(t *testing.T) {
	s := openTest(t, Options{})
	keys := [][]byte{{0x00, 0x01, 0x00}, {0x00, 0x01, 0xff}, {0x00, 0x02}, {0xff, 0xff}, {0xff, 0xff, 0x01}, {0xff}}
	for _, k := range keys {
		if err := s.Set(k, k); err != nil {
			t.Fatal(err)
		}
	}
	count := func(prefix []byte) int {
		n := 0
		if err := s.Iter(prefix, func(k, v []byte) bool {
			if !bytes.HasPrefix(k, prefix) || !bytes.Equal(k, v) {
				t.Errorf("Iter(%x) visited %x=%x", prefix, k, v)
			}
			n++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		prefix []byte
		want   int
	}{{nil, 6}, {[]byte{0x00, 0x01}, 2}, {[]byte{0x00}, 3}, {[]byte{0xff}, 3}, {[]byte{0xff, 0xff}, 2}, {[]byte{0x01}, 0}} {
		if got := count(c.prefix); got != c.want {
			t.Errorf("Iter(%x): %d keys, want %d", c.prefix, got, c.want)
		}
	}
	n := 0
	_ = s.Iter(nil, func(k, v []byte) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("Iter did not stop when fn returned false: %d calls", n)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte{1}, []byte{2}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{1, 2, 0xff, 0xff}, []byte{1, 3}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	} {
		if got := PrefixEnd(c.in); !bytes.Equal(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

func TestExportImport(t *testing.T) {
	src := openTest(t, Options{})
	for kg := 0; kg < 8; kg++ {
		for i := 0; i < 100; i++ {
			k := []byte{0, byte(kg), 1, byte(i)}
			if err := src.Set(k, bytes.Repeat([]byte{byte(i)}, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Export key groups 2..5, as rescaling would for a new subtask's range.
	type kv struct{ k, v []byte }
	var out []kv
	if err := src.ExportRange([]byte{0, 2}, []byte{0, 6}, func(k, v []byte) error {
		out = append(out, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) != 400 {
		t.Fatalf("exported %d entries, want 400", len(out))
	}
	dst := openTest(t, Options{})
	if err := dst.Import(func(yield func(k, v []byte) bool) {
		for _, e := range out {
			if !yield(e.k, e.v) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	got := dump(t, dst)
	if len(got) != 400 {
		t.Fatalf("imported store has %d entries", len(got))
	}
	for _, e := range out {
		if got[string(e.k)] != string(e.v) {
			t.Fatalf("key %x: got %x want %x", e.k, got[string(e.k)], e.v)
		}
	}
	// An error from fn stops the export and is returned wrapped.
	sentinel := errors.New("sink full")
	n := 0
	err := src.ExportRange(nil, nil, func(k, v []byte) error { n++; return sentinel })
	if !errors.Is(err, sentinel) || n != 1 {
		t.Fatalf("ExportRange with failing fn: n=%d err=%v", n, err)
	}
	if err := src.ExportRange([]byte{2}, []byte{1}, func(k, v []byte) error { return nil }); err == nil {
		t.Fatal("ExportRange with start after end: no error")
	}
}

func TestImportLaterWins(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Import(func(yield func(k, v []byte) bool) {
		buf := []byte("k")
		// The iterator reuses its slices.
		_ = yield(buf, []byte("1")) && yield(buf, []byte("2"))
	}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Get([]byte("k")); string(v) != "2" {
		t.Fatalf("got %q, want the later value", v)
	}
	if err := s.Import(nil); err == nil {
		t.Fatal("Import(nil): no error")
	}
}

func TestClosedStore(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.Get([]byte("a")); !errors.Is(err, errClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if err := s.Set([]byte("a"), nil); !errors.Is(err, errClosed) {
		t.Errorf("Set after Close: %v", err)
	}
	if err := s.Iter(nil, func(k, v []byte) bool { return true }); !errors.Is(err, errClosed) {
		t.Errorf("Iter after Close: %v", err)
	}
	if _, err := s.PrepareCheckpoint(1); !errors.Is(err, errClosed) {
		t.Errorf("PrepareCheckpoint after Close: %v", err)
	}
}

// TestImportPaths checks both import paths against the same expectations: sorted input (SST
// ingestion, several tables, over existing data), unsorted input (batches), and a sorted
// input broken late (tables first, then batches).
func TestImportPaths(t *testing.T) {
	s := openTest(t, Options{})
	want := map[string]string{}
	set := func(k []byte, v string) {
		if err := s.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[string(k)] = v
	}
	for i := 0; i < 1000; i++ {
		set(key(i*3), "old")
	}
	imp := func(keys [][]byte, tag string) {
		t.Helper()
		if err := s.Import(func(yield func(k, v []byte) bool) {
			for _, k := range keys {
				if !yield(k, []byte(tag)) {
					return
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			want[string(k)] = tag
		}
	}
	var sorted [][]byte
	for i := 0; i < 300_000; i++ { // > importTableBytes in total: several tables
		sorted = append(sorted, binary.BigEndian.AppendUint64([]byte{0, 1}, uint64(i)))
	}
	for i := range sorted {
		sorted[i] = append(sorted[i], bytes.Repeat([]byte{'x'}, 200)...)
	}
	imp(sorted, "sorted")
	imp([][]byte{key(9), key(3), key(6), key(3)}, "unsorted")
	var late [][]byte
	for i := 0; i < 40_000; i++ {
		late = append(late, binary.BigEndian.AppendUint64([]byte{0, 2}, uint64(i)))
	}
	late = append(late, key(0), key(1))
	imp(late, "late")
	if _, err := os.Stat(s.opts.importDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Import left %s behind", s.opts.importDir())
	}
	equalMaps(t, "after imports", dump(t, s), want)
	if m := s.db.Metrics(); m.Ingest.Count == 0 {
		t.Errorf("sorted import did not ingest any table")
	}
}

func TestStats(t *testing.T) {
	s := openTest(t, Options{})
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 1000; i++ {
		_ = s.Set(key(i), value(r, 100)) // random: incompressible
	}
	before := s.Stats()
	if before.MemTableBytes == 0 || before.Tables != 0 {
		t.Fatalf("before a flush: %+v", before)
	}
	p, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Release()
	after := s.Stats()
	// The 100-byte values are separated into a blob file; the table holds keys and handles.
	if after.Tables == 0 || after.BlobFiles == 0 || after.TableBytes+after.BlobBytes < 1000*100 ||
		after.BlobBytes < 1000*100*9/10 || after.DiskBytes < uint64(after.TableBytes+after.BlobBytes) {
		t.Fatalf("after the checkpoint's flush: %+v", after)
	}
}

func TestImportRange(t *testing.T) {
	src := openTest(t, Options{})
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 60_000; i++ {
		if err := src.Set(key(i), value(r, 100)); err != nil {
			t.Fatal(err)
		}
	}
	dst := openTest(t, Options{})
	_ = dst.Set([]byte{0, 9, 1, 0xaa}, []byte("own")) // a key group the destination already has
	lo, hi := []byte{0, 10}, []byte{0, 20}            // key groups 10..19
	if err := dst.ImportRange(src, lo, hi); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{string([]byte{0, 9, 1, 0xaa}): "own"}
	if err := src.ExportRange(lo, hi, func(k, v []byte) error {
		want[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 4000 {
		t.Fatalf("only %d entries in range", len(want))
	}
	equalMaps(t, "imported range", dump(t, dst), want)
	if dst.ImportRange(dst, nil, nil) == nil || dst.ImportRange(nil, nil, nil) == nil {
		t.Error("ImportRange from itself or nil: no error")
	}
	_ = src.Close()
	if err := dst.ImportRange(src, nil, nil); !errors.Is(err, errClosed) {
		t.Errorf("ImportRange from a closed store: %v", err)
	}
}

func TestOpenCleansLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Set([]byte("k"), []byte("v"))
	if _, err := s.PrepareCheckpoint(1); err != nil { // never uploaded: the process "dies"
		t.Fatal(err)
	}
	// A second store on the same directory is refused (Pebble's lock) and must not touch the
	// first one's files.
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("second Open of a directory in use succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "chk-1")); err != nil {
		t.Fatalf("failed second Open removed the first store's prepared checkpoint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Stat(filepath.Join(dir, "checkpoints")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reopen left stale prepared checkpoints: %v", err)
	}
}
