package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleGet reads key from the database itself, past the value cache.
func pebbleGet(t *testing.T, s *Store, key string) (string, bool) {
	t.Helper()
	v, closer, err := s.db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("pebble Get %q: %v", key, err)
	}
	defer closer.Close()
	return string(v), true
}

// TestValueCacheWriteBack checks when cached writes reach Pebble: not at Set, but when the
// cache outgrows its limit, before iteration, range deletion, import and checkpoints.
func TestValueCacheWriteBack(t *testing.T) {
	s := openTest(t, Options{ValueCacheSize: 1 << 20})
	// A blind write of a key the cache does not hold goes straight to Pebble.
	if err := s.Set([]byte("k0"), []byte("v0")); err != nil {
		t.Fatal(err)
	}
	if v, ok := pebbleGet(t, s, "k0"); !ok || v != "v0" {
		t.Fatalf("blind Set of an uncached key: Pebble has %q %v, want v0", v, ok)
	}
	if _, _, found := s.cache.get([]byte("k0")); found {
		t.Fatal("a blind Set brought its key into the cache")
	}
	// A Get brings a key in (here: as absent); its writes then stay in the cache.
	if _, ok, err := s.Get([]byte("k1")); ok || err != nil {
		t.Fatalf("Get k1 before any write: ok=%v err=%v", ok, err)
	}
	if err := s.Set([]byte("k1"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := pebbleGet(t, s, "k1"); ok {
		t.Fatal("Set of a cached key wrote through to Pebble; want it held in the value cache")
	}
	if v, ok, err := s.Get([]byte("k1")); err != nil || !ok || string(v) != "v1" {
		t.Fatalf("Get k1 from the cache: %q %v %v", v, ok, err)
	}
	// Repeated writes of one key stay one cache entry.
	for i := 0; i < 1000; i++ {
		if err := s.Set([]byte("k1"), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.cache.dirty); n != 1 {
		t.Fatalf("dirty entries after 1000 writes of one key: %d, want 1", n)
	}
	// Iteration sees the cached write (it flushes first).
	if got := dump(t, s); got["k1"] != "v999" || len(got) != 2 {
		t.Fatalf("Iter after cached writes: %v", got)
	}
	if v, ok := pebbleGet(t, s, "k1"); !ok || v != "v999" {
		t.Fatalf("Pebble after Iter: %q %v, want v999", v, ok)
	}
	// A cached delete hides the Pebble value, and reaches Pebble at the checkpoint.
	if err := s.Delete([]byte("k1")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get([]byte("k1")); ok || err != nil {
		t.Fatalf("Get after Delete: ok=%v err=%v", ok, err)
	}
	if _, ok := pebbleGet(t, s, "k1"); !ok {
		t.Fatal("Delete wrote through to Pebble; want it held in the cache")
	}
	p, err := s.PrepareCheckpoint(1)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Release()
	if _, ok := pebbleGet(t, s, "k1"); ok {
		t.Fatal("the checkpoint did not write the cached delete to Pebble")
	}
}

// TestValueCacheEviction fills a small cache with more keys than it holds: every value stays
// readable (from the cache or from Pebble), and the cache stays near its limit.
func TestValueCacheEviction(t *testing.T) {
	const limit = 4 << 10
	s := openTest(t, Options{ValueCacheSize: limit})
	val := func(i, gen int) []byte { return []byte(fmt.Sprintf("value-%d-%d", i, gen)) }
	for gen := 0; gen < 3; gen++ {
		for i := 0; i < 500; i++ {
			// Read-modify-write, as a keyed operator does: the Get brings the key in.
			if _, _, err := s.Get([]byte(fmt.Sprint("key", i))); err != nil {
				t.Fatal(err)
			}
			if err := s.Set([]byte(fmt.Sprint("key", i)), val(i, gen)); err != nil {
				t.Fatal(err)
			}
			if s.cache.bytes > limit+256 {
				t.Fatalf("cache holds %d bytes, limit %d", s.cache.bytes, limit)
			}
		}
	}
	for i := 0; i < 500; i++ {
		v, ok, err := s.Get([]byte(fmt.Sprint("key", i)))
		if err != nil || !ok || !bytes.Equal(v, val(i, 2)) {
			t.Fatalf("key%d: %q %v %v, want %q", i, v, ok, err, val(i, 2))
		}
	}
	// Absent keys are cached as absent and stay absent after a write elsewhere.
	if _, ok, err := s.Get([]byte("missing")); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	if _, _, found := s.cache.get([]byte("missing")); !found {
		t.Fatal("a missed Get was not remembered")
	}
	if err := s.Set([]byte("missing"), []byte("now")); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get([]byte("missing")); !ok || string(v) != "now" {
		t.Fatalf("Get after Set of a key cached as absent: %q %v", v, ok)
	}
}

// TestValueCacheInvalidation checks that DeleteRange and Import replace cached values.
func TestValueCacheInvalidation(t *testing.T) {
	s := openTest(t, Options{})
	for _, k := range []string{"a1", "b1", "b2", "c1"} {
		if err := s.Set([]byte(k), []byte("old-"+k)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Get([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange([]byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"a1": true, "b1": false, "b2": false, "c1": true} {
		if _, ok, err := s.Get([]byte(k)); ok != want || err != nil {
			t.Fatalf("after DeleteRange [b, c): Get %s: ok=%v err=%v, want ok=%v", k, ok, err, want)
		}
	}
	err := s.Import(func(yield func(k, v []byte) bool) {
		_ = yield([]byte("a1"), []byte("imported")) && yield([]byte("b1"), []byte("imported"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a1": "imported", "b1": "imported", "c1": "old-c1"} {
		if v, ok, err := s.Get([]byte(k)); !ok || err != nil || string(v) != want {
			t.Fatalf("after Import: Get %s: %q %v %v, want %q", k, v, ok, err, want)
		}
	}
	// The value Get returns is the caller's until the next Get: changing it leaves the
	// cache alone.
	v, _, _ := s.Get([]byte("c1"))
	copy(v, "XXXXXX")
	if v, _, _ := s.Get([]byte("c1")); string(v) != "old-c1" {
		t.Fatalf("cache changed through a returned value: %q", v)
	}
}

// TestCloseFlushesCache: cached writes reach Pebble's memtable when the store closes, as they
// would have without the cache.
func TestCloseFlushesCache(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if len(s.cache.dirty) != 1 {
		t.Fatalf("Set of a cached key: %d pending writes, want 1", len(s.cache.dirty))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.cache.dirty) != 0 {
		t.Fatalf("Close left %d cached writes unflushed", len(s.cache.dirty))
	}
}
