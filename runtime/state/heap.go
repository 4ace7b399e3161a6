// Package state holds keyed state: the heap backend (typed values in memory, keyed by the
// serialized key and namespace) and the timer service. Keys are kept as their serde encoding so
// that every backend shares one layout: a state entry is addressed by
//
//	key bytes (self-delimiting serde encoding of the key) ++ namespace bytes (e.g. a window)
//
// and belongs to the key group of the key bytes. Snapshots (checkpoint issue) iterate the tables
// per key group, so a savepoint can be restored at another parallelism.
//
// # Copy-on-write snapshots (heap mode)
//
// Like Flink's CopyOnWriteStateTable, every heap table and timer queue keeps one map per key
// group. SnapshotAsync (task goroutine) only copies the per-key-group map pointers and bumps
// a version: O(key groups). The returned HeapSnapshot serializes those maps on any goroutine
// while the task goes on. The task never writes a map that a running snapshot may still read:
// the first write to a key group after a snapshot copies that key group's map (maps.Clone),
// and values of types with references (slices, maps, pointers) are deep-copied through their
// codec when first read while a snapshot may still see them, since callers change them in place.
// See docs/heap-snapshots.md.
package state

import (
	"fmt"
	"maps"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
)

// KeyedBackend is the keyed state of one operator instance (one subtask). It is not safe for
// concurrent use: the task goroutine owns it. Snapshots taken with SnapshotAsync may be written
// and released from other goroutines.
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
	clk            *cowClock    // copy-on-write versions of the heap tables and timers

	// EventTimers and ProcTimers are the operator's timers (snapshotted with the state).
	EventTimers *TimerQueue
	ProcTimers  *TimerQueue
}

type tableMeta interface {
	name() string
	len() int
	// view captures the table's per-key-group maps for a snapshot (task goroutine).
	view() tableView
}

// NewKeyedBackend creates the backend of a subtask owning key groups kg.
func NewKeyedBackend(maxParallelism int, kg serde.KeyGroupRange) *KeyedBackend {
	clk := newCowClock()
	return &KeyedBackend{maxParallelism: maxParallelism, keyGroups: kg, tables: map[string]tableMeta{}, clk: clk,
		EventTimers: newTimerQueue(clk, maxParallelism, kg), ProcTimers: newTimerQueue(clk, maxParallelism, kg)}
}

// SetKeyLength tells the backend how long the serialized key at the start of a composite key is
// (the key codec's Decode length). Heap tables file every entry under the key group of the
// key current when it was written, so snapshots no longer need it; it is kept for callers
// that split composite keys (KeyLength).
func (b *KeyedBackend) SetKeyLength(fn func(composite []byte) int) { b.keyLen = fn }

// KeyLength returns the length of the serialized key at the start of composite, or -1 when
// unknown (no SetKeyLength, or composite is malformed).
func (b *KeyedBackend) KeyLength(composite []byte) int {
	if b.keyLen == nil {
		return -1
	}
	if n := b.keyLen(composite); n > 0 && n <= len(composite) {
		return n
	}
	return -1
}

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

// cowClock versions the copy-on-write data of one backend (its tables and timer queues).
// Data carries the version current when it was created or last copied; a snapshot takes the
// current version and the clock moves on, so everything with a version <= a running snapshot's
// version may be read by that snapshot and must be copied before it is changed.
//
// version and required belong to the task goroutine (read on every state access without
// synchronization); running is shared with the goroutines that release snapshots, which set
// changed so the task recomputes required on its next slow-path check.
type cowClock struct {
	version  uint64 // version of data written now (>= 1)
	required uint64 // highest version a running snapshot reads; 0: none (task goroutine)

	mu      sync.Mutex
	running map[uint64]int // snapshot version -> snapshots holding it (under mu)
	changed atomic.Bool    // running changed since required was computed

	copies int // key-group maps copied on write (task goroutine; tests and diagnostics)
}

func newCowClock() *cowClock { return &cowClock{version: 1, running: map[uint64]int{}} }

// refresh folds releases reported by other goroutines into required (task goroutine).
func (c *cowClock) refresh() {
	if !c.changed.Load() {
		return
	}
	c.mu.Lock()
	c.changed.Store(false)
	c.required = 0
	for v := range c.running {
		c.required = max(c.required, v)
	}
	c.mu.Unlock()
}

// begin starts a snapshot on the task goroutine: data of versions <= the returned version is
// frozen until end is called with it.
func (c *cowClock) begin() uint64 {
	c.refresh()
	v := c.version
	c.version++
	c.mu.Lock()
	c.running[v]++
	c.mu.Unlock()
	c.required = v
	return v
}

// end releases a snapshot's version (any goroutine).
func (c *cowClock) end(v uint64) {
	c.mu.Lock()
	if n := c.running[v]; n > 1 {
		c.running[v] = n - 1
	} else {
		delete(c.running, v)
	}
	c.changed.Store(true)
	c.mu.Unlock()
}

// RunningSnapshots returns how many heap snapshots (SnapshotAsync) of the backend are not yet
// released: while one is, the first write to each key group copies that key group's map.
func (b *KeyedBackend) RunningSnapshots() int { return b.clk.runningSnapshots() }

// runningSnapshots returns the number of snapshots not yet released.
func (c *cowClock) runningSnapshots() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.running {
		n += k
	}
	return n
}

// kgMap is the map of one key group with its copy-on-write bookkeeping.
type kgMap[K comparable, V any] struct {
	m   map[K]V // nil: empty
	ver uint64  // version m was created or copied at
	// valVer > 0: m was copied from a frozen map while snapshots up to version valVer ran, so
	// its values are shared with them except those whose keys are in fresh (written or
	// deep-copied since). Only tables of mutable value types use it.
	valVer uint64
	fresh  map[K]struct{}
}

// cowGroups is a map split by key group with copy-on-write per key group: the unit a snapshot
// freezes and a write after a snapshot copies.
type cowGroups[K comparable, V any] struct {
	clk *cowClock
	// required is the clock's required version as this table last saw it, never lower than
	// the clock's (raised by capture, lowered by sync): the fast paths read this field of
	// the table itself instead of the shared clock.
	required uint64
	start    int
	groups   []kgMap[K, V]        // owned key groups (index kg-start)
	other    map[int]*kgMap[K, V] // key groups outside the owned range (misrouted keys, tests)
	none     kgMap[K, V]          // read result for a missing key group outside the range
	n        int                  // entries in all key groups
}

func newCowGroups[K comparable, V any](clk *cowClock, kg serde.KeyGroupRange) cowGroups[K, V] {
	return cowGroups[K, V]{clk: clk, required: clk.required, start: kg.Start, groups: make([]kgMap[K, V], max(0, kg.End-kg.Start+1))}
}

// read returns key group kg's map for reading (never nil; its m is nil when empty).
func (g *cowGroups[K, V]) read(kg int) *kgMap[K, V] {
	if i := kg - g.start; uint(i) < uint(len(g.groups)) {
		return &g.groups[i]
	}
	if c := g.other[kg]; c != nil {
		return c
	}
	return &g.none
}

// sync folds snapshot releases into required (task goroutine).
func (g *cowGroups[K, V]) sync() {
	g.clk.refresh()
	g.required = g.clk.required
}

// write returns key group kg's map for writing: created when missing, copied when a running
// snapshot may read it.
func (g *cowGroups[K, V]) write(kg int) *kgMap[K, V] {
	c := g.read(kg)
	if c.ver > g.required && c.m != nil {
		return c
	}
	return g.writeSlow(kg, c)
}

func (g *cowGroups[K, V]) writeSlow(kg int, c *kgMap[K, V]) *kgMap[K, V] {
	g.sync()
	if c.m != nil && c.ver > g.required {
		return c
	}
	if c == &g.none {
		if g.other == nil {
			g.other = map[int]*kgMap[K, V]{}
		}
		c = &kgMap[K, V]{}
		g.other[kg] = c
	}
	if c.m == nil {
		*c = kgMap[K, V]{m: make(map[K]V), ver: g.clk.version}
		return c
	}
	// Frozen by a running snapshot: the snapshot keeps the old map, the task continues on a
	// copy whose values are shared until written (valVer, fresh).
	*c = kgMap[K, V]{m: maps.Clone(c.m), ver: g.clk.version, valVer: g.required}
	g.clk.copies++
	return c
}

// valueShared reports whether the value at key k of c (a map of a mutable-typed table) may
// be read by a running snapshot. Call it with g.required > 0 after sync.
func (g *cowGroups[K, V]) valueShared(c *kgMap[K, V], k K) bool {
	if c.ver <= g.required {
		return true // the map itself is frozen
	}
	if c.valVer == 0 {
		return false
	}
	_, own := c.fresh[k]
	return !own
}

// markFresh records that the value at k of c (after write) is no longer shared.
func (c *kgMap[K, V]) markFresh(k K) {
	if c.valVer == 0 {
		return
	}
	if c.fresh == nil {
		c.fresh = map[K]struct{}{}
	}
	c.fresh[k] = struct{}{}
}

// capture returns the current maps for a snapshot and raises required to the clock's (call
// it after cowClock.begin: the maps are then frozen).
func (g *cowGroups[K, V]) capture() cowView[K, V] {
	g.required = g.clk.required
	v := cowView[K, V]{start: g.start, groups: make([]map[K]V, len(g.groups))}
	for i := range g.groups {
		v.groups[i] = g.groups[i].m
	}
	if len(g.other) > 0 {
		v.other = make(map[int]map[K]V, len(g.other))
		for kg, c := range g.other {
			v.other[kg] = c.m
		}
	}
	return v
}

// each calls fn for every entry (task goroutine).
func (g *cowGroups[K, V]) each(fn func(k K, v V)) {
	for i := range g.groups {
		for k, v := range g.groups[i].m {
			fn(k, v)
		}
	}
	for _, c := range g.other {
		for k, v := range c.m {
			fn(k, v)
		}
	}
}

// cowView is a snapshot's frozen copy of a cowGroups' key-group maps. The maps are never
// written again (the task copies them first), so any goroutine may read them.
type cowView[K comparable, V any] struct {
	start  int
	groups []map[K]V
	other  map[int]map[K]V
}

// group returns key group kg's frozen map (nil when empty).
func (v *cowView[K, V]) group(kg int) map[K]V {
	if i := kg - v.start; uint(i) < uint(len(v.groups)) {
		return v.groups[i]
	}
	return v.other[kg]
}

// outside lists the non-empty key groups outside the owned range.
func (v *cowView[K, V]) outside() []int {
	var out []int
	for kg, m := range v.other {
		if len(m) > 0 {
			out = append(out, kg)
		}
	}
	return out
}

// Table is one named keyed state: values of type V addressed by (current key, namespace).
//
// In heap mode values live as typed values in per-key-group maps; in Pebble mode
// (KeyedBackend.UsePebble) they are serialized into the store on Put and decoded on Get, so a
// value obtained from Get and mutated in place must be written back with Put. In Pebble mode,
// store failures raise a task failure (op.Fail).
type Table[V any] struct {
	b     *KeyedBackend
	tname string
	codec serde.Codec[V]
	heap  cowGroups[string, V] // heap mode
	// mutable: V holds references (slices, maps, pointers, interfaces), so a value returned
	// by Get may be changed in place and is deep-copied while a snapshot may still read it.
	mutable bool
	scratch []byte       // deep copies: the encoded value
	ps      *pebbleState // nil: heap mode
	id      byte         // Pebble mode: the state id in the keys
}

func (t *Table[V]) name() string { return t.tname }
func (t *Table[V]) len() int     { return t.Len() }

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
	if codec == nil {
		return nil, fmt.Errorf("state %q: no value codec (serde.For failed for the value type?)", name)
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
	t.heap = newCowGroups[string, V](b.clk, b.keyGroups)
	t.mutable = hasReferences(reflect.TypeFor[V]())
	for _, e := range b.pending[name] {
		if err := t.restoreEntry(e.kg, e.key, e.val); err != nil {
			return nil, fmt.Errorf("restoring state %q: %w", name, err)
		}
	}
	delete(b.pending, name)
	b.tables[name] = t
	b.order = append(b.order, name)
	return t, nil
}

// hasReferences reports whether values of type t can share memory with copies of themselves
// (and so be changed in place through a copy).
func hasReferences(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasReferences(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasReferences(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// Get returns the value for the current key and namespace ns.
func (t *Table[V]) Get(ns []byte) (V, bool) {
	if t.ps != nil {
		return t.pGet(ns)
	}
	c := t.heap.read(t.b.curKeyGroup)
	key := t.b.compositeKey(ns)
	v, ok := c.m[string(key)]
	if ok && t.mutable && t.heap.required != 0 {
		return t.getShared(key, v), true
	}
	return v, ok
}

// getShared returns a value of a mutable type that a running snapshot may still read as a
// deep copy, stored in its place, so that changes the caller makes in place stay out of the
// snapshot (Flink's CopyOnWriteStateMap copies such state on access the same way).
func (t *Table[V]) getShared(key []byte, v V) V {
	g := &t.heap
	g.sync()
	kg := t.b.curKeyGroup
	if g.required == 0 || !g.valueShared(g.read(kg), string(key)) {
		return v
	}
	cp := t.deepCopy(v)
	c := g.write(kg)
	c.m[string(key)] = cp
	c.markFresh(string(key))
	return cp
}

// deepCopy copies v through its codec.
func (t *Table[V]) deepCopy(v V) V {
	t.scratch = t.codec.Append(t.scratch[:0], v)
	cp, n, err := t.codec.Decode(t.scratch)
	if err == nil && n != len(t.scratch) {
		err = fmt.Errorf("the codec decoded %d of the %d bytes it encoded", n, len(t.scratch))
	}
	if err != nil {
		op.Fail(fmt.Errorf("state %q: copying a value for a running snapshot (the value codec does not round-trip): %w", t.tname, err))
	}
	return cp
}

// Put stores v for the current key and namespace ns.
func (t *Table[V]) Put(ns []byte, v V) {
	if t.ps != nil {
		t.pPut(ns, v)
		return
	}
	c := t.heap.write(t.b.curKeyGroup)
	n := len(c.m)
	key := t.b.compositeKey(ns)
	// For an existing key the map reuses the stored key string.
	c.m[string(key)] = v
	t.heap.n += len(c.m) - n
	if t.mutable && c.valVer != 0 {
		t.wrote(c, key)
	}
}

// wrote records that the value at key of c was replaced (mutable value types, c copied from
// a frozen map): it is no longer shared. Once no snapshot runs, the bookkeeping is dropped.
func (t *Table[V]) wrote(c *kgMap[string, V], key []byte) {
	if t.heap.required == 0 {
		c.valVer, c.fresh = 0, nil
		return
	}
	c.markFresh(string(key))
}

// Delete removes the entry of the current key and namespace ns.
func (t *Table[V]) Delete(ns []byte) {
	if t.ps != nil {
		t.pDelete(ns)
		return
	}
	kg := t.b.curKeyGroup
	c := t.heap.read(kg)
	key := t.b.compositeKey(ns)
	if c.ver <= t.heap.required { // maybe frozen: copy only when there is something to delete
		if _, ok := c.m[string(key)]; !ok {
			return
		}
		c = t.heap.write(kg)
	}
	n := len(c.m)
	delete(c.m, string(key))
	t.heap.n -= n - len(c.m)
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
	return t.heap.n
}

// Codec returns the value codec (snapshots).
func (t *Table[V]) Codec() serde.Codec[V] { return t.codec }

// SortedEntries returns all entries ordered by their composite key: a deterministic order for
// snapshots and tests.
func (t *Table[V]) SortedEntries() (keys []string, vals []V) {
	if t.ps != nil {
		return t.pSortedEntries()
	}
	all := make(map[string]V, t.heap.n)
	t.heap.each(func(k string, v V) { all[k] = v })
	keys = make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals = make([]V, len(keys))
	for i, k := range keys {
		vals[i] = all[k]
	}
	return keys, vals
}

// restoreEntry adds one serialized entry of key group kg (restores).
func (t *Table[V]) restoreEntry(kg int, key, val []byte) error {
	v, n, err := t.codec.Decode(val)
	if err != nil {
		return err
	}
	if n != len(val) {
		return fmt.Errorf("value has %d trailing bytes: was the state's type changed?", len(val)-n)
	}
	if t.ps != nil {
		return fmt.Errorf("internal error: heap restore into a pebble table")
	}
	c := t.heap.write(kg)
	before := len(c.m)
	c.m[string(key)] = v
	t.heap.n += len(c.m) - before
	if t.mutable && c.valVer != 0 {
		t.wrote(c, key)
	}
	return nil
}
