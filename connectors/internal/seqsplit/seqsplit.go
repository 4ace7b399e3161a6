// Package seqsplit splits a sequence of indexes 0, 1, 2, ... (bounded or not) across the
// parallel subtasks of a source and tracks which indexes were emitted, so a snapshot restores
// exactly (no index lost, none repeated) even at another parallelism.
//
// Subtask k of p emits the indexes i with i % p == k in increasing order ("interleaved"). A
// snapshot is the subtask's next index plus the history needed after rescaling: when restoring
// at a new parallelism, the union of all old snapshots defines the done set
//
//	done(i) = i < floor || some layer L has i < L.next[i % L.p]
//
// where each layer records one earlier run's (parallelism, next index per subtask). Layers are
// dropped once every index they could mark done lies below the floor or behind the cursor, so
// in steady state a cursor is just (p, k, next) and Next costs one addition.
package seqsplit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Unbounded is the limit of an endless sequence.
const Unbounded int64 = math.MaxInt64

const version = 1

// layer is the progress of one earlier run: next[j] is the next index subtask j would have
// emitted, so i (with i % p == j) was emitted iff i < next[j] (and i was not done before).
type layer struct {
	gen  int64 // generation number, unique per run (used to de-duplicate in union restore)
	p    int64
	next []int64
	max  int64 // max(next): indexes >= max are not done by this layer
}

func (l *layer) done(i int64) bool { return i < l.next[i%l.p] }

// Cursor yields the indexes one subtask owns, in increasing order.
type Cursor struct {
	p, k   int64
	next   int64 // next candidate, next % p == k
	limit  int64 // exclusive upper bound of the sequence
	floor  int64
	gen    int64 // this run's generation
	layers []layer
}

// New returns the cursor of subtask k of p over [0, limit) on a fresh start.
func New(k, p int, limit int64) (*Cursor, error) {
	if p <= 0 || k < 0 || k >= p {
		return nil, fmt.Errorf("seqsplit: subtask %d out of range for parallelism %d", k, p)
	}
	if limit < 0 {
		return nil, fmt.Errorf("seqsplit: negative limit %d", limit)
	}
	return &Cursor{p: int64(p), k: int64(k), next: int64(k), limit: limit}, nil
}

// Restore builds the cursor of subtask k of p from the union of every old subtask's snapshot
// (as returned by Snapshot). With no states it behaves like New.
func Restore(k, p int, limit int64, states [][]byte) (*Cursor, error) {
	c, err := New(k, p, limit)
	if err != nil || len(states) == 0 {
		return c, err
	}
	var oldP int64 = -1
	var gen int64
	nexts := map[int64]int64{}
	layers := map[int64]layer{}
	for idx, st := range states {
		s, err := decode(st)
		if err != nil {
			return nil, fmt.Errorf("seqsplit: restored state %d of %d: %w", idx, len(states), err)
		}
		if oldP == -1 {
			oldP, gen = s.p, s.gen
		} else if s.p != oldP || s.gen != gen {
			return nil, fmt.Errorf("seqsplit: restored states disagree (parallelism %d vs %d, generation %d vs %d): snapshots from different runs were mixed", oldP, s.p, gen, s.gen)
		}
		if _, dup := nexts[s.k]; dup {
			return nil, fmt.Errorf("seqsplit: two restored states for old subtask %d", s.k)
		}
		nexts[s.k] = s.next
		for _, l := range s.layers {
			layers[l.gen] = l
		}
	}
	if int64(len(nexts)) != oldP {
		return nil, fmt.Errorf("seqsplit: got states of %d subtasks, the previous run had parallelism %d: some subtask's state is missing", len(nexts), oldP)
	}
	cur := layer{gen: gen, p: oldP, next: make([]int64, oldP)}
	floor := int64(math.MaxInt64)
	for j := int64(0); j < oldP; j++ {
		n := nexts[j]
		cur.next[j] = n
		cur.max = max(cur.max, n)
		floor = min(floor, n)
	}
	c.gen = gen + 1
	c.floor = floor
	all := []layer{cur}
	for _, l := range layers {
		all = append(all, l)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].gen < all[b].gen })
	for _, l := range all {
		if l.max > floor {
			c.layers = append(c.layers, l)
		}
	}
	// First owned index >= floor.
	start := floor - floor%c.p + c.k
	if start < floor {
		start += c.p
	}
	c.next = start
	c.trim()
	return c, nil
}

// trim drops layers that can no longer mark an index at or after the cursor as done.
func (c *Cursor) trim() {
	keep := c.layers[:0]
	for _, l := range c.layers {
		if l.max > c.next {
			keep = append(keep, l)
		}
	}
	c.layers = keep
}

// Next returns the next index this subtask owns and true, or false when the sequence ended.
func (c *Cursor) Next() (int64, bool) {
	for {
		i := c.next
		if i >= c.limit || i < 0 { // i < 0: overflow of an unbounded sequence
			return 0, false
		}
		if len(c.layers) > 0 {
			if j, done := c.skip(i); done {
				c.next = j
				continue
			}
		}
		c.next += c.p
		return i, true
	}
}

// Peek returns the index Next would return without consuming it.
func (c *Cursor) Peek() (int64, bool) {
	i, ok := c.Next()
	if ok {
		c.next = i
	}
	return i, ok
}

// skip reports whether candidate i (== c.next) was already emitted and, if so, the next
// candidate worth checking: the first one a done-marking layer does not mark done, so a long
// run of emitted indexes (an old subtask far ahead of the others) is jumped at once.
func (c *Cursor) skip(i int64) (int64, bool) {
	drop := false
	next, done := i, false
	for idx := range c.layers {
		l := &c.layers[idx]
		if l.max <= i {
			drop = true
			continue
		}
		if !l.done(i) {
			continue
		}
		done = true
		next = max(next, c.firstNotDone(l, i))
	}
	if drop {
		c.trim()
	}
	return next, done
}

// firstNotDone returns the first candidate >= i (i ≡ k mod p) that layer l does not mark
// done. The candidates visit the layer's residues with period cnt = l.p/gcd(p, l.p); within
// one residue they form a progression with step p*cnt, whose first element at or above the
// layer's next for that residue is computed directly.
func (c *Cursor) firstNotDone(l *layer, i int64) int64 {
	cnt := l.p / gcd(c.p, l.p)
	step := c.p * cnt
	best := int64(math.MaxInt64)
	for m := int64(0); m < cnt; m++ {
		i0 := i + m*c.p
		t := l.next[i0%l.p]
		cand := i0
		if i0 < t {
			cand = i0 + (t-i0+step-1)/step*step
		}
		best = min(best, cand)
	}
	return best
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Remaining reports whether the cursor may still yield indexes.
func (c *Cursor) Remaining() bool {
	_, ok := c.Peek()
	return ok
}

// Position returns the next candidate index (for logging and metrics).
func (c *Cursor) Position() int64 { return c.next }

// Snapshot encodes the cursor's progress for Restore.
func (c *Cursor) Snapshot() []byte {
	b := make([]byte, 0, 64)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendVarint(b, c.gen)
	b = binary.AppendVarint(b, c.p)
	b = binary.AppendVarint(b, c.k)
	b = binary.AppendVarint(b, c.next)
	b = binary.AppendUvarint(b, uint64(len(c.layers)))
	for _, l := range c.layers {
		b = binary.AppendVarint(b, l.gen)
		b = binary.AppendVarint(b, l.p)
		for _, n := range l.next {
			b = binary.AppendVarint(b, n)
		}
	}
	return b
}

type state struct {
	gen, p, k, next int64
	layers          []layer
}

var errCorrupt = errors.New("corrupt or foreign sequence state (not written by this source?)")

func decode(b []byte) (state, error) {
	var s state
	rd := reader{b: b}
	if v := rd.uvarint(); v != version {
		return s, fmt.Errorf("unsupported state version %d: %w", v, errCorrupt)
	}
	s.gen, s.p, s.k, s.next = rd.varint(), rd.varint(), rd.varint(), rd.varint()
	nl := rd.uvarint()
	if rd.err != nil || s.p <= 0 || s.k < 0 || s.k >= s.p || nl > 1<<16 {
		return s, errCorrupt
	}
	for range nl {
		l := layer{gen: rd.varint(), p: rd.varint()}
		if rd.err != nil || l.p <= 0 || l.p > 1<<20 {
			return s, errCorrupt
		}
		l.next = make([]int64, l.p)
		for j := range l.next {
			l.next[j] = rd.varint()
			l.max = max(l.max, l.next[j])
		}
		s.layers = append(s.layers, l)
	}
	if rd.err != nil || rd.off != len(b) {
		return s, errCorrupt
	}
	return s, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.off += n
	return v
}
