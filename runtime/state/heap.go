// Package state holds keyed state: the heap backend (typed values in memory, keyed by the
// serialized key and namespace) and the timer service. Keys are kept as their serde encoding so
// that every backend shares one layout: a state entry is addressed by
//
//	key bytes (self-delimiting serde encoding of the key) ++ namespace bytes (e.g. a window)
//
// and belongs to the key group of the key bytes. Snapshots (checkpoint issue) iterate the tables
// per key group, so a savepoint can be restored at another parallelism.
package state

import (
	"fmt"
	"sort"

	"github.com/flink-go/flink-go/runtime/serde"
)

// KeyedBackend is the keyed state of one operator instance (one subtask). It is not safe for
// concurrent use: the task goroutine owns it.
type KeyedBackend struct {
	maxParallelism int
	keyGroups      serde.KeyGroupRange
	curKey         []byte // serialized current key
	curKeyGroup    int
	composite      []byte // scratch: curKey ++ namespace
	tables         map[string]tableMeta
	order          []string
	pending        map[string][]pendingEntry // restored, not yet registered
	keyLen         func(composite []byte) int
	pb             *pebbleState // nil: heap mode

	// EventTimers and ProcTimers are the operator's timers (snapshotted with the state).
	EventTimers *TimerQueue
	ProcTimers  *TimerQueue
}

type tableMeta interface {
	name() string
	len() int
	clearAll()
	appendEntries(idx, maxPar int, groups map[int][]snapEntry) error
}

// NewKeyedBackend creates the backend of a subtask owning key groups kg.
func NewKeyedBackend(maxParallelism int, kg serde.KeyGroupRange) *KeyedBackend {
	return &KeyedBackend{maxParallelism: maxParallelism, keyGroups: kg, tables: map[string]tableMeta{},
		EventTimers: NewTimerQueue(), ProcTimers: NewTimerQueue()}
}

// SetKeyLength tells the backend how long the serialized key at the start of a composite key is
// (the key codec's Decode length), so snapshots assign namespaced entries to their key's group.
func (b *KeyedBackend) SetKeyLength(fn func(composite []byte) int) { b.keyLen = fn }

// KeyGroups returns the key-group range this backend owns.
func (b *KeyedBackend) KeyGroups() serde.KeyGroupRange { return b.keyGroups }

// SetCurrentKey makes keyBytes (a serde encoding) the key that state accesses refer to. The
// slice is copied.
func (b *KeyedBackend) SetCurrentKey(keyBytes []byte) {
	b.curKey = append(b.curKey[:0], keyBytes...)
	b.curKeyGroup = serde.KeyGroupOf(b.curKey, b.maxParallelism)
}

// CurrentKey returns the serialized current key (valid until the next SetCurrentKey).
func (b *KeyedBackend) CurrentKey() []byte { return b.curKey }

// CurrentKeyGroup returns the key group of the current key.
func (b *KeyedBackend) CurrentKeyGroup() int { return b.curKeyGroup }

// compositeKey returns curKey ++ ns in a scratch buffer (valid until the next call).
func (b *KeyedBackend) compositeKey(ns []byte) []byte {
	if len(ns) == 0 {
		return b.curKey
	}
	b.composite = append(append(b.composite[:0], b.curKey...), ns...)
	return b.composite
}

// StateNames lists the registered state names in registration order.
func (b *KeyedBackend) StateNames() []string { return append([]string(nil), b.order...) }

// Table is one named keyed state: values of type V addressed by (current key, namespace).
//
// In heap mode values live as typed values in a map; in Pebble mode (KeyedBackend.UsePebble)
// they are serialized into the store on Put and decoded on Get, so a value obtained from Get
// and mutated in place must be written back with Put. In Pebble mode, store failures raise a
// task failure (op.Fail).
type Table[V any] struct {
	b     *KeyedBackend
	tname string
	codec serde.Codec[V]
	m     map[string]V
	ps    *pebbleState // nil: heap mode
	id    byte         // Pebble mode: the state id in the keys
}

func (t *Table[V]) name() string { return t.tname }
func (t *Table[V]) len() int     { return t.Len() }
func (t *Table[V]) clearAll()    { clear(t.m) }

// GetTable returns the table called name, creating it on first use. Asking for an existing name
// with another value type is an error (two state descriptors with one name).
func GetTable[V any](b *KeyedBackend, name string, codec serde.Codec[V]) (*Table[V], error) {
	if t, ok := b.tables[name]; ok {
		tv, ok := t.(*Table[V])
		if !ok {
			return nil, fmt.Errorf("state %q is already registered with another value type (%T)", name, t)
		}
		return tv, nil
	}
	t := &Table[V]{b: b, tname: name, codec: codec}
	if b.pb != nil {
		if err := b.pb.open(); err != nil {
			return nil, err
		}
		id, err := b.pb.idFor(name)
		if err != nil {
			return nil, err
		}
		t.ps, t.id = b.pb, id
		b.tables[name] = t
		b.order = append(b.order, name)
		return t, nil
	}
	t.m = make(map[string]V)
	for _, e := range b.pending[name] {
		if err := t.restoreEntry(e.key, e.val); err != nil {
			return nil, fmt.Errorf("restoring state %q: %w", name, err)
		}
	}
	delete(b.pending, name)
	b.tables[name] = t
	b.order = append(b.order, name)
	return t, nil
}

// Get returns the value for the current key and namespace ns.
func (t *Table[V]) Get(ns []byte) (V, bool) {
	if t.ps != nil {
		return t.pGet(ns)
	}
	v, ok := t.m[string(t.b.compositeKey(ns))]
	return v, ok
}

// Put stores v for the current key and namespace ns.
func (t *Table[V]) Put(ns []byte, v V) {
	if t.ps != nil {
		t.pPut(ns, v)
		return
	}
	// For an existing key the map reuses the stored key string: no allocation.
	t.m[string(t.b.compositeKey(ns))] = v
}

// Delete removes the entry of the current key and namespace ns.
func (t *Table[V]) Delete(ns []byte) {
	if t.ps != nil {
		t.pDelete(ns)
		return
	}
	delete(t.m, string(t.b.compositeKey(ns)))
}

// Serialized reports whether the table stores serialized values (Pebble mode): a value from
// Get is then a copy, and changing it in place needs a Put to persist.
func (t *Table[V]) Serialized() bool { return t.ps != nil }

// Len returns the number of entries (all keys and namespaces). In Pebble mode it scans the
// table (tests and diagnostics only).
func (t *Table[V]) Len() int {
	if t.ps != nil {
		return t.pLen()
	}
	return len(t.m)
}

// Codec returns the value codec (snapshots).
func (t *Table[V]) Codec() serde.Codec[V] { return t.codec }

// SortedEntries returns all entries ordered by their composite key: a deterministic order for
// snapshots and tests.
func (t *Table[V]) SortedEntries() (keys []string, vals []V) {
	if t.ps != nil {
		return t.pSortedEntries()
	}
	keys = make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals = make([]V, len(keys))
	for i, k := range keys {
		vals[i] = t.m[k]
	}
	return keys, vals
}
