package state

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/state/pebblestore"
)

// Backend types (the values of state.backend.type; "rocksdb" is an alias of pebble, resolved by
// the configuration).
const (
	// BackendHashMap keeps keyed state as typed values in Go maps.
	BackendHashMap = "hashmap"
	// BackendPebble keeps keyed state serialized in a Pebble database on local disk.
	BackendPebble = "pebble"
)

// Formats of keyed-state handles (checkpoint.KeyedState.Format).
const (
	// FormatHeap is the canonical single-file snapshot (FGKS v1, snapshot.go), written by the
	// heap backend for checkpoints and savepoints and by the Pebble backend for savepoints.
	FormatHeap = "heap-v1"
	// FormatPebble is an incremental Pebble checkpoint: shared SST files, the database's
	// private files, the pebblestore descriptor and a metadata file (docs/runtime.md section 6).
	FormatPebble = "pebble-v1"
)

// maxStates is the number of states one operator can register in Pebble mode (1-byte ids).
const maxStates = 256

// PebbleConfig configures the Pebble mode of a KeyedBackend.
type PebbleConfig struct {
	// Dir is the backend's local working directory, used by this backend alone (one per
	// operator subtask attempt). The database lives below it; Close removes it.
	Dir string
	// CacheSize (block cache), MemTableSize and ValueCacheSize (the write-back cache of
	// recent values in front of Pebble; negative: none) are passed to pebblestore (0: its
	// defaults).
	CacheSize      int64
	MemTableSize   int
	ValueCacheSize int64
	// Logger receives the store's log lines (nil: none).
	Logger *zerolog.Logger
	// FullCheckpoints uploads every SST file for every checkpoint (no file is referenced from
	// an earlier one): execution.checkpointing.incremental explicitly set to false.
	FullCheckpoints bool
}

// pebbleState is the Pebble side of a KeyedBackend. The store opens lazily (first table or
// restore), so operators that never touch keyed state cost nothing.
//
// Key layout (docs/runtime.md section 6): 2-byte big-endian key group ++ 1-byte state id ++
// serialized key ++ namespace. Values are the serde encodings of the table's codec, the same
// bytes the FGKS snapshot format stores.
type pebbleState struct {
	cfg   PebbleConfig
	store *pebblestore.Store
	ids   map[string]byte // state name -> id, stable across checkpoints and restores
	names []string        // id -> name
	key   []byte          // scratch: the current entry's key
	val   []byte          // scratch: the encoded value
	ckpt  checkpointTracker
}

// UsePebble switches the backend to Pebble mode. It must be called before any table is
// registered or state restored.
func (b *KeyedBackend) UsePebble(cfg PebbleConfig) error {
	if cfg.Dir == "" {
		return errors.New("state: pebble backend needs a local working directory (state.backend.pebble.localdir or io.tmp.dirs)")
	}
	if len(b.tables) > 0 || len(b.pending) > 0 {
		return errors.New("state: UsePebble called after state was registered or restored")
	}
	b.pb = &pebbleState{cfg: cfg, ids: map[string]byte{}}
	return nil
}

// Type returns BackendPebble or BackendHashMap.
func (b *KeyedBackend) Type() string {
	if b.pb != nil {
		return BackendPebble
	}
	return BackendHashMap
}

// WorkingDir returns the Pebble working directory ("" in heap mode): local scratch space of
// this backend, removed by Close.
func (b *KeyedBackend) WorkingDir() string {
	if b.pb == nil {
		return ""
	}
	return b.pb.cfg.Dir
}

// Used reports whether the backend holds or held any state: registered tables, restored
// entries, timers or an open store. Checkpoints skip unused backends.
func (b *KeyedBackend) Used() bool {
	return len(b.tables) > 0 || len(b.pending) > 0 || b.EventTimers.Len() > 0 || b.ProcTimers.Len() > 0 ||
		(b.pb != nil && b.pb.store != nil)
}

// Close releases the backend: in Pebble mode it closes the store and removes the working
// directory. The backend is unusable afterwards. Heap mode has nothing to release.
func (b *KeyedBackend) Close() error {
	if b.pb == nil {
		return nil
	}
	var err error
	if b.pb.store != nil {
		err = b.pb.store.Close()
		b.pb.store = nil
	}
	if rerr := os.RemoveAll(b.pb.cfg.Dir); rerr != nil && err == nil {
		err = fmt.Errorf("state: remove pebble working directory: %w", rerr)
	}
	return err
}

func (p *pebbleState) options() pebblestore.Options {
	return pebblestore.Options{Dir: p.cfg.Dir, CacheSize: p.cfg.CacheSize, MemTableSize: p.cfg.MemTableSize,
		ValueCacheSize: p.cfg.ValueCacheSize, Logger: p.cfg.Logger}
}

// open opens an empty store unless one is open.
func (p *pebbleState) open() error {
	if p.store != nil {
		return nil
	}
	s, err := pebblestore.Open(p.options())
	if err != nil {
		return fmt.Errorf("state: open pebble backend in %s: %w", p.cfg.Dir, err)
	}
	p.store = s
	return nil
}

// idFor returns the id of state name, assigning the next free one on first use.
func (p *pebbleState) idFor(name string) (byte, error) {
	if id, ok := p.ids[name]; ok {
		return id, nil
	}
	if len(p.names) >= maxStates {
		return 0, fmt.Errorf("state %q: an operator can have at most %d keyed states with the pebble backend", name, maxStates)
	}
	id := byte(len(p.names))
	p.ids[name] = id
	p.names = append(p.names, name)
	return id, nil
}

// entryKey builds kg ++ id ++ composite in the scratch buffer (valid until the next call).
func (p *pebbleState) entryKey(kg int, id byte, key, ns []byte) []byte {
	k := append(p.key[:0], byte(kg>>8), byte(kg), id)
	k = append(append(k, key...), ns...)
	p.key = k
	return k
}

func groupPrefix(kg int, id byte) []byte { return []byte{byte(kg >> 8), byte(kg), id} }

func (t *Table[V]) fail(what string, err error) {
	op.Fail(fmt.Errorf("state %q (pebble backend): %s: %w", t.tname, what, err))
}

func (t *Table[V]) pGet(ns []byte) (V, bool) {
	var zero V
	b := t.b
	raw, ok, err := t.ps.store.Get(t.ps.entryKey(b.curKeyGroup, t.id, b.curKey, ns))
	if err != nil {
		t.fail("get", err)
	}
	if !ok {
		return zero, false
	}
	v, n, err := t.codec.Decode(raw)
	if err == nil && n != len(raw) {
		err = fmt.Errorf("value has %d trailing bytes: was the state's type changed?", len(raw)-n)
	}
	if err != nil {
		t.fail("decode value", err)
	}
	return v, true
}

func (t *Table[V]) pPut(ns []byte, v V) {
	b := t.b
	t.ps.val = t.codec.Append(t.ps.val[:0], v)
	if err := t.ps.store.Set(t.ps.entryKey(b.curKeyGroup, t.id, b.curKey, ns), t.ps.val); err != nil {
		t.fail("put", err)
	}
}

func (t *Table[V]) pDelete(ns []byte) {
	b := t.b
	if err := t.ps.store.Delete(t.ps.entryKey(b.curKeyGroup, t.id, b.curKey, ns)); err != nil {
		t.fail("delete", err)
	}
}

// pEach calls fn for every entry of the table (all key groups of the backend) in key order.
func (t *Table[V]) pEach(fn func(composite, raw []byte) error) error {
	for kg := t.b.keyGroups.Start; kg <= t.b.keyGroups.End; kg++ {
		var ferr error
		err := t.ps.store.Iter(groupPrefix(kg, t.id), func(k, v []byte) bool {
			ferr = fn(k[3:], v)
			return ferr == nil
		})
		if err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *Table[V]) pLen() int {
	n := 0
	if err := t.pEach(func(_, _ []byte) error { n++; return nil }); err != nil {
		t.fail("count entries", err)
	}
	return n
}

func (t *Table[V]) pSortedEntries() (keys []string, vals []V) {
	type kv struct {
		k string
		v V
	}
	var all []kv
	err := t.pEach(func(c, raw []byte) error {
		v, _, err := t.codec.Decode(raw)
		if err != nil {
			return err
		}
		all = append(all, kv{string(c), v})
		return nil
	})
	if err != nil {
		t.fail("list entries", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].k < all[j].k })
	keys, vals = make([]string, len(all)), make([]V, len(all))
	for i, e := range all {
		keys[i], vals[i] = e.k, e.v
	}
	return keys, vals
}
