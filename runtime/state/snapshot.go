package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"sort"
	"sync"

	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state/pebblestore"
)

// Keyed state snapshot format, version 1 (one file or blob per operator subtask):
//
//	+---------+---------+------------------------------------------------------------+
//	| "FGKS"  | u16 ver | uvarint nStates, nStates x (uvarint len, name)             |
//	+---------+---------+------------------------------------------------------------+
//	| key-group sections, ascending, non-empty only:                                  |
//	|   u16 key group | uvarint nEntries | entries                                    |
//	|   entry: u8 kind (0 value, 1 event-time timer, 2 processing-time timer)         |
//	|          kind 0: uvarint state index, uvarint len, key++namespace, uvarint len, value|
//	|          kind 1/2: varint timestamp, uvarint len, key, uvarint len, namespace      |
//	+----------------------------------------------------------------------------------+
//	| u32 CRC32-C of everything before (big-endian)                                    |
//	+----------------------------------------------------------------------------------+
//
// Values are the serde encodings of the state's value type; keys are serialized keys followed by
// the namespace bytes (see heap.go). A restore at another parallelism reads the snapshots of
// every old subtask whose range overlaps its own and keeps the key groups it owns.
const (
	snapshotMagic   = "FGKS"
	snapshotVersion = 1
	kindValue       = 0
	kindEventTimer  = 1
	kindProcTimer   = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is wrapped by every error about an unreadable keyed-state snapshot.
var ErrCorruptSnapshot = errors.New("corrupt keyed state snapshot")

type snapEntry struct {
	kind  byte
	state int
	ts    int64
	key   []byte
	val   []byte
}

// Snapshot serializes all keyed state and timers of the backend in the canonical FGKS format:
// what both backends write for savepoints (self-contained, portable across backends and
// parallelism). In heap mode it is SnapshotAsync + Bytes + Release on the calling goroutine;
// checkpoints use SnapshotAsync to serialize off the task goroutine. In Pebble mode the whole
// state is exported into memory: savepoints use SnapshotTo.
func (b *KeyedBackend) Snapshot() ([]byte, error) {
	if b.pb != nil {
		var buf bytes.Buffer
		if _, err := b.SnapshotTo(&buf); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	s, err := b.SnapshotAsync()
	if err != nil {
		return nil, err
	}
	defer s.Release()
	return s.Bytes()
}

// metaSnapshot is the FGKS file of a Pebble checkpoint: the state names (index = state id in
// the store's keys) and the timers, no values (those are in the SST files).
func (b *KeyedBackend) metaSnapshot() []byte {
	groups := map[int][]snapEntry{}
	b.appendTimers(groups)
	var names []string
	if b.pb != nil {
		names = b.pb.names
	}
	return encodeSnapshot(names, groups)
}

func (b *KeyedBackend) appendTimers(groups map[int][]snapEntry) {
	for _, kind := range []byte{kindEventTimer, kindProcTimer} {
		q := b.EventTimers
		if kind == kindProcTimer {
			q = b.ProcTimers
		}
		for _, t := range q.All() {
			kg := serde.KeyGroupOf([]byte(t.Key), b.maxParallelism)
			groups[kg] = append(groups[kg], snapEntry{kind: kind, ts: t.Timestamp, key: []byte(t.Key), val: []byte(t.Namespace)})
		}
	}
}

// encodeSnapshot writes the FGKS v1 bytes of names and the entries per key group.
func encodeSnapshot(names []string, groups map[int][]snapEntry) []byte {
	out := appendHeader(nil, names)
	kgs := make([]int, 0, len(groups))
	for kg := range groups {
		kgs = append(kgs, kg)
	}
	sort.Ints(kgs)
	for _, kg := range kgs {
		out = appendGroup(out, kg, groups[kg])
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// appendHeader appends the magic, the version and the state names.
func appendHeader(out []byte, names []string) []byte {
	out = append(append(out, snapshotMagic...), 0, snapshotVersion)
	out = binary.AppendUvarint(out, uint64(len(names)))
	for _, n := range names {
		out = binary.AppendUvarint(out, uint64(len(n)))
		out = append(out, n...)
	}
	return out
}

// appendGroup appends one key group's section, entries in canonical order (sorts es).
func appendGroup(out []byte, kg int, es []snapEntry) []byte {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].kind != es[j].kind {
			return es[i].kind < es[j].kind
		}
		if es[i].state != es[j].state {
			return es[i].state < es[j].state
		}
		if c := string(es[i].key); c != string(es[j].key) {
			return c < string(es[j].key)
		}
		if es[i].ts != es[j].ts {
			return es[i].ts < es[j].ts
		}
		return string(es[i].val) < string(es[j].val)
	})
	out = binary.BigEndian.AppendUint16(out, uint16(kg))
	out = binary.AppendUvarint(out, uint64(len(es)))
	for _, e := range es {
		out = append(out, e.kind)
		if e.kind == kindValue {
			out = binary.AppendUvarint(out, uint64(e.state))
		} else {
			out = binary.AppendVarint(out, e.ts)
		}
		out = binary.AppendUvarint(out, uint64(len(e.key)))
		out = append(out, e.key...)
		out = binary.AppendUvarint(out, uint64(len(e.val)))
		out = append(out, e.val...)
	}
	return out
}

// SnapshotTo writes the same canonical FGKS snapshot as Snapshot to w and returns its size.
// In Pebble mode it streams key group by key group, holding one key group's entries in memory,
// so savepoints of state larger than the heap work; in heap mode it writes Snapshot's bytes.
func (b *KeyedBackend) SnapshotTo(w io.Writer) (int64, error) {
	if b.pb == nil {
		s, err := b.SnapshotAsync()
		if err != nil {
			return 0, err
		}
		defer s.Release()
		return s.WriteTo(w)
	}
	timers := map[int][]snapEntry{}
	b.appendTimers(timers)
	sum := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	buf := appendHeader(nil, b.pb.names)
	var es []snapEntry
	for kg := b.keyGroups.Start; kg <= b.keyGroups.End; kg++ {
		es = append(es[:0], timers[kg]...)
		if b.pb.store != nil {
			start := []byte{byte(kg >> 8), byte(kg)}
			err := b.pb.store.ExportRange(start, pebblestore.PrefixEnd(start), func(k, v []byte) error {
				if len(k) < 3 {
					return fmt.Errorf("%w: pebble key %x is shorter than its 3-byte prefix", ErrCorruptSnapshot, k)
				}
				es = append(es, snapEntry{kind: kindValue, state: int(k[2]), key: clone(k[3:]), val: clone(v)})
				return nil
			})
			if err != nil {
				return cw.n, fmt.Errorf("state: export key group %d: %w", kg, err)
			}
		}
		if len(es) > 0 {
			buf = appendGroup(buf, kg, es)
		}
		if len(buf) >= 1<<20 || kg == b.keyGroups.End {
			if _, err := cw.Write(buf); err != nil {
				return cw.n, fmt.Errorf("state: write snapshot: %w", err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 { // empty key-group range: the header only
		if _, err := cw.Write(buf); err != nil {
			return cw.n, fmt.Errorf("state: write snapshot: %w", err)
		}
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, sum.Sum32())); err != nil {
		return cw.n, fmt.Errorf("state: write snapshot: %w", err)
	}
	return cw.n + 4, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type pendingEntry struct {
	kg  int
	key []byte
	val []byte
}

// snapVisitor receives the contents of an FGKS snapshot (walkSnapshot): the state names first,
// then every entry in file order. An error stops the walk and is returned as is.
type snapVisitor struct {
	names func(names []string) error
	value func(kg, state int, key, val []byte) error
	timer func(kg int, kind byte, ts int64, key, ns []byte) error
}

var errStopWalk = errors.New("walk stopped")

// walkSnapshot checks an FGKS snapshot held in memory (magic, version, checksum: before any
// entry is visited) and visits its contents.
func walkSnapshot(data []byte, v snapVisitor) error {
	if len(data) < 4+2+4 || string(data[:4]) != snapshotMagic {
		return fmt.Errorf("%w: bad magic or too short (%d bytes)", ErrCorruptSnapshot, len(data))
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	return walkSnapshotStream(bytes.NewReader(data), int64(len(data)), v)
}

// walkSnapshotStream visits an FGKS snapshot of size bytes read from r, holding one entry at a
// time in memory (restores of savepoints larger than the heap into the Pebble backend). The
// checksum is verified at the end, after the entries were visited: a caller must discard what
// it restored when an error is returned. Slices passed to the visitor are valid during the call.
func walkSnapshotStream(r io.Reader, size int64, v snapVisitor) error {
	if size < 4+2+4 {
		return fmt.Errorf("%w: too short (%d bytes)", ErrCorruptSnapshot, size)
	}
	sr := &streamReader{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(castagnoli), remain: size - 4}
	var head [6]byte
	sr.read(head[:])
	if sr.err != nil || string(head[:4]) != snapshotMagic {
		return fmt.Errorf("%w: bad magic", ErrCorruptSnapshot)
	}
	if ver := binary.BigEndian.Uint16(head[4:6]); ver != snapshotVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrCorruptSnapshot, ver, snapshotVersion)
	}
	n := sr.uvarint()
	if sr.err == nil && n > uint64(sr.remain) {
		return fmt.Errorf("%w: %d state names in %d bytes", ErrCorruptSnapshot, n, sr.remain)
	}
	var names []string
	for i := uint64(0); i < n && sr.err == nil; i++ {
		names = append(names, string(sr.bytes(0)))
	}
	if sr.err == nil && v.names != nil {
		if err := v.names(names); err != nil {
			return err
		}
	}
	var kgb [2]byte
	for sr.err == nil && sr.remain > 0 {
		sr.read(kgb[:])
		kg := int(binary.BigEndian.Uint16(kgb[:]))
		count := sr.uvarint()
		for i := uint64(0); i < count && sr.err == nil; i++ {
			switch kind := sr.byte(); kind {
			case kindValue:
				si := sr.uvarint()
				key := sr.bytes(0)
				val := sr.bytes(1)
				if sr.err != nil {
					break
				}
				if si >= uint64(len(names)) {
					sr.err = fmt.Errorf("state index %d out of range", si)
					break
				}
				if v.value != nil {
					if err := v.value(kg, int(si), key, val); err != nil {
						return err
					}
				}
			case kindEventTimer, kindProcTimer:
				ts := sr.varint()
				key := sr.bytes(0)
				ns := sr.bytes(1)
				if sr.err == nil && v.timer != nil {
					if err := v.timer(kg, kind, ts, key, ns); err != nil {
						return err
					}
				}
			default:
				if sr.err == nil {
					sr.err = fmt.Errorf("unknown entry kind %d", kind)
				}
			}
		}
	}
	if sr.err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSnapshot, sr.err)
	}
	var trailer [4]byte
	if _, err := io.ReadFull(sr.r, trailer[:]); err != nil {
		return fmt.Errorf("%w: checksum missing: %v", ErrCorruptSnapshot, err)
	}
	if binary.BigEndian.Uint32(trailer[:]) != sr.crc.Sum32() {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	if n, _ := sr.r.Read(trailer[:1]); n > 0 {
		return fmt.Errorf("%w: data after the checksum (the file is longer than its recorded size)", ErrCorruptSnapshot)
	}
	return nil
}

// streamReader reads the body of a snapshot (remain bytes before the checksum), hashing what
// it consumes. The first error sticks.
type streamReader struct {
	r      *bufio.Reader
	crc    hash.Hash32
	remain int64
	err    error
	bufs   [2][]byte
}

func (s *streamReader) read(p []byte) {
	if s.err != nil {
		return
	}
	if int64(len(p)) > s.remain {
		s.err = fmt.Errorf("truncated: %d bytes needed, %d left before the checksum", len(p), s.remain)
		return
	}
	if _, err := io.ReadFull(s.r, p); err != nil {
		s.err = fmt.Errorf("truncated: %w", err)
		return
	}
	s.crc.Write(p)
	s.remain -= int64(len(p))
}

func (s *streamReader) byte() byte {
	var b [1]byte
	s.read(b[:])
	return b[0]
}

// ReadByte makes streamReader an io.ByteReader for the varint decoders.
func (s *streamReader) ReadByte() (byte, error) {
	c := s.byte()
	return c, s.err
}

func (s *streamReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(s)
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("bad varint: %w", err)
	}
	return v
}

func (s *streamReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(s)
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("bad varint: %w", err)
	}
	return v
}

// bytes reads a length-prefixed byte string into reusable buffer i (0 or 1).
func (s *streamReader) bytes(i int) []byte {
	n := s.uvarint()
	if s.err != nil {
		return nil
	}
	if n > uint64(s.remain) {
		s.err = fmt.Errorf("length %d exceeds the %d remaining bytes", n, s.remain)
		return nil
	}
	if uint64(cap(s.bufs[i])) < n {
		s.bufs[i] = make([]byte, n)
	}
	b := s.bufs[i][:n]
	s.read(b)
	return b
}

// owns reports whether key group kg belongs to this backend.
func (b *KeyedBackend) owns(kg int) bool { return kg >= b.keyGroups.Start && kg <= b.keyGroups.End }

func (b *KeyedBackend) addTimer(kind byte, ts int64, key, ns []byte) {
	q := b.EventTimers
	if kind == kindProcTimer {
		q = b.ProcTimers
	}
	q.Add(Timer{Timestamp: ts, Key: string(key), Namespace: string(ns)})
}

// Restore adds the entries of an FGKS snapshot that fall into this backend's key groups. In
// heap mode values stay serialized until their state is registered again (GetTable), since
// only the user's code knows their types; in Pebble mode they are imported into the store
// under this backend's state ids. Timers are restored directly.
func (b *KeyedBackend) Restore(data []byte) error {
	return b.restoreFGKS(func(v snapVisitor) error { return walkSnapshot(data, v) })
}

// restoreFGKS restores what walk visits (walkSnapshot or walkSnapshotStream).
func (b *KeyedBackend) restoreFGKS(walk func(snapVisitor) error) error {
	if b.pb != nil {
		return b.pebbleRestoreFGKS(walk)
	}
	var names []string
	return walk(snapVisitor{
		names: func(n []string) error { names = n; return nil },
		value: func(kg, si int, key, val []byte) error {
			if !b.owns(kg) {
				return nil
			}
			return b.heapRestoreValue(names[si], kg, key, val)
		},
		timer: func(kg int, kind byte, ts int64, key, ns []byte) error {
			if b.owns(kg) {
				b.addTimer(kind, ts, key, ns)
			}
			return nil
		},
	})
}

// heapRestoreValue adds one serialized entry to a registered table or to the pending entries.
func (b *KeyedBackend) heapRestoreValue(name string, kg int, key, val []byte) error {
	if t, ok := b.tables[name]; ok {
		if err := t.(restorable).restoreEntry(kg, key, val); err != nil {
			return fmt.Errorf("restoring state %q: %w", name, err)
		}
		return nil
	}
	if b.pending == nil {
		b.pending = map[string][]pendingEntry{}
	}
	b.pending[name] = append(b.pending[name], pendingEntry{kg: kg, key: clone(key), val: clone(val)})
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

type restorable interface {
	restoreEntry(kg int, key, val []byte) error
}

// HeapSnapshot is a point-in-time view of a heap backend's keyed state and timers, taken by
// SnapshotAsync on the task goroutine in O(tables x key groups) without serializing anything.
// WriteTo and Bytes serialize it (FGKS, byte for byte what Snapshot returned before) on any
// goroutine while the task keeps changing the backend: changes copy what the snapshot still
// reads (see the package comment). Release it when done, written or not: until then the task
// keeps copying on write. Release waits for a WriteTo in progress; WriteTo after Release fails.
type HeapSnapshot struct {
	mu       sync.RWMutex // WriteTo holds it shared, Release exclusively
	released bool
	names    []string
	maxPar   int
	kgs      serde.KeyGroupRange
	tables   []tableView      // per state index; nil: a restored state not registered again
	pending  [][]pendingEntry // per state index, for the nil tables
	timers   []*timerView
	clocks   []clockVersion // versions to end on Release
}

type clockVersion struct {
	clk *cowClock
	ver uint64
}

// ErrSnapshotReleased is returned by WriteTo and Bytes of a released HeapSnapshot.
var ErrSnapshotReleased = errors.New("state: heap snapshot already released")

// tableView is a table's frozen key-group maps (Table.view).
type tableView interface {
	// appendGroup appends the entries of key group kg to es, their values encoded into arena.
	appendGroup(es []snapEntry, arena *[]byte, state, kg int) []snapEntry
	// outside lists non-empty key groups outside the backend's range.
	outside() []int
}

type tableSnap[V any] struct {
	codec  serde.Codec[V]
	frozen cowView[string, V]
}

func (t *Table[V]) view() tableView {
	return &tableSnap[V]{codec: t.codec, frozen: t.heap.capture()}
}

func (s *tableSnap[V]) outside() []int { return s.frozen.outside() }

func (s *tableSnap[V]) appendGroup(es []snapEntry, arena *[]byte, state, kg int) []snapEntry {
	for k, v := range s.frozen.group(kg) {
		start := len(*arena)
		*arena = s.codec.Append(*arena, v)
		// Slices of earlier arenas stay valid when append moves the arena: their bytes are kept.
		val := (*arena)[start:len(*arena):len(*arena)]
		es = append(es, snapEntry{kind: kindValue, state: state, key: unsafeBytes(k), val: val})
	}
	return es
}

// SnapshotAsync captures the heap backend's state and timers for a checkpoint or savepoint.
// It runs on the task goroutine and costs O(tables x key groups): no entry is copied or
// serialized here. Serialize the result with WriteTo or Bytes (any goroutine) and Release it.
func (b *KeyedBackend) SnapshotAsync() (*HeapSnapshot, error) {
	if b.pb != nil {
		return nil, errors.New("state: SnapshotAsync needs the heap backend (Pebble mode checkpoints with PreparePebbleCheckpoint, savepoints with SnapshotTo)")
	}
	if b.EventTimers == nil || b.ProcTimers == nil {
		return nil, errors.New("state: backend without timer queues (EventTimers/ProcTimers set to nil?)")
	}
	s := &HeapSnapshot{maxPar: b.maxParallelism, kgs: b.keyGroups}
	for _, c := range []*cowClock{b.clk, b.EventTimers.set.clk, b.ProcTimers.set.clk} {
		seen := false
		for _, cv := range s.clocks {
			seen = seen || cv.clk == c
		}
		if !seen {
			s.clocks = append(s.clocks, clockVersion{clk: c, ver: c.begin()})
		}
	}
	s.names = append([]string(nil), b.order...)
	for name := range b.pending {
		if _, ok := b.tables[name]; !ok {
			s.names = append(s.names, name)
		}
	}
	sort.Strings(s.names[len(b.order):])
	s.tables = make([]tableView, len(s.names))
	s.pending = make([][]pendingEntry, len(s.names))
	for i, name := range s.names {
		if t, ok := b.tables[name]; ok {
			s.tables[i] = t.view()
			continue
		}
		// Restored but not yet accessed: kept as is. Restores only append to these slices.
		s.pending[i] = b.pending[name]
	}
	s.timers = []*timerView{b.EventTimers.view(kindEventTimer, b.maxParallelism), b.ProcTimers.view(kindProcTimer, b.maxParallelism)}
	return s, nil
}

// Release ends the snapshot: the backend stops copying on its behalf. Idempotent; safe from
// any goroutine; waits for a WriteTo in progress.
func (s *HeapSnapshot) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	for _, cv := range s.clocks {
		cv.clk.end(cv.ver)
	}
	s.tables, s.pending, s.timers = nil, nil, nil
}

// Bytes returns the snapshot's FGKS bytes.
func (s *HeapSnapshot) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTo writes the snapshot in the FGKS format to w, one key group at a time (only that key
// group's encoded entries are held in memory besides a 1 MiB write buffer), and returns the
// bytes written. It may run concurrently with the task and with other WriteTo calls.
func (s *HeapSnapshot) WriteTo(w io.Writer) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.released {
		return 0, ErrSnapshotReleased
	}
	pending := map[int][]snapEntry{}
	extra := map[int]bool{}
	for i, es := range s.pending {
		for _, e := range es {
			pending[e.kg] = append(pending[e.kg], snapEntry{kind: kindValue, state: i, key: e.key, val: e.val})
			extra[e.kg] = true
		}
	}
	for _, t := range s.tables {
		if t != nil {
			for _, kg := range t.outside() {
				extra[kg] = true
			}
		}
	}
	for _, tv := range s.timers {
		for _, kg := range tv.outside(s.kgs.Start, s.kgs.End) {
			extra[kg] = true
		}
	}
	var kgs []int
	for kg := s.kgs.Start; kg <= s.kgs.End; kg++ {
		kgs = append(kgs, kg)
	}
	for kg := range extra {
		if kg < s.kgs.Start || kg > s.kgs.End {
			kgs = append(kgs, kg)
		}
	}
	sort.Ints(kgs)

	sum := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	buf := appendHeader(nil, s.names)
	var es []snapEntry
	var arena []byte
	for _, kg := range kgs {
		if kg < 0 || kg > math.MaxUint16 {
			return cw.n, fmt.Errorf("state: snapshot: key group %d does not fit the format (max parallelism %d)", kg, s.maxPar)
		}
		es, arena = append(es[:0], pending[kg]...), arena[:0]
		for i, t := range s.tables {
			if t != nil {
				es = t.appendGroup(es, &arena, i, kg)
			}
		}
		for _, tv := range s.timers {
			es = tv.appendGroup(es, kg)
		}
		if len(es) > 0 {
			buf = appendGroup(buf, kg, es)
		}
		if len(buf) >= 1<<20 {
			if _, err := cw.Write(buf); err != nil {
				return cw.n, fmt.Errorf("state: write snapshot: %w", err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := cw.Write(buf); err != nil {
			return cw.n, fmt.Errorf("state: write snapshot: %w", err)
		}
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, sum.Sum32())); err != nil {
		return cw.n, fmt.Errorf("state: write snapshot: %w", err)
	}
	return cw.n + 4, nil
}
