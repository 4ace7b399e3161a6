package state

import (
	"container/heap"
	"sync"
	"unsafe"

	"github.com/flink-go/flink-go/runtime/serde"
)

// Timer is a registered timer: a timestamp for a (key, namespace).
type Timer struct {
	Timestamp int64
	Key       string // serialized key
	Namespace string // serialized namespace ("" when none)
}

type timerHeap []Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].Timestamp != h[j].Timestamp {
		return h[i].Timestamp < h[j].Timestamp
	}
	if h[i].Key != h[j].Key {
		return h[i].Key < h[j].Key
	}
	return h[i].Namespace < h[j].Namespace
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(Timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// TimerQueue holds timers of one time domain, deduplicated per (timestamp, key, namespace) as
// Flink does, in timestamp order (ties broken by key and namespace for determinism).
//
// The live timers are a set split by the key group of the timer's key, copied on write per key
// group while a snapshot of the backend may read it (see the package comment); the heap only
// orders them and may hold removed timers, which are skipped when they reach the head.
type TimerQueue struct {
	h      timerHeap
	set    cowGroups[Timer, struct{}]
	maxPar int // 0: a standalone queue, every timer in key group 0
}

// NewTimerQueue returns an empty queue, not attached to a backend.
func NewTimerQueue() *TimerQueue {
	return newTimerQueue(newCowClock(), 0, serde.KeyGroupRange{Start: 0, End: 0})
}

// newTimerQueue returns the queue of a backend whose versions clk keeps.
func newTimerQueue(clk *cowClock, maxPar int, kg serde.KeyGroupRange) *TimerQueue {
	return &TimerQueue{set: newCowGroups[Timer, struct{}](clk, kg), maxPar: maxPar}
}

// keyGroup returns the key group of a timer's key.
func (q *TimerQueue) keyGroup(key string) int {
	if q.maxPar <= 0 {
		return 0
	}
	return serde.KeyGroupOf(unsafe.Slice(unsafe.StringData(key), len(key)), q.maxPar)
}

// has reports whether t is registered.
func (q *TimerQueue) has(t Timer, kg int) bool {
	_, ok := q.set.read(kg).m[t]
	return ok
}

// Add registers t; a duplicate is ignored. It reports whether t is new.
func (q *TimerQueue) Add(t Timer) bool {
	kg := q.keyGroup(t.Key)
	if q.has(t, kg) {
		return false
	}
	q.set.write(kg).m[t] = struct{}{}
	q.set.n++
	heap.Push(&q.h, t)
	return true
}

// Remove deletes t if registered (lazily: it is skipped when it reaches the head).
func (q *TimerQueue) Remove(t Timer) {
	kg := q.keyGroup(t.Key)
	if q.has(t, kg) {
		delete(q.set.write(kg).m, t)
		q.set.n--
	}
}

// Peek returns the earliest live timer.
func (q *TimerQueue) Peek() (Timer, bool) {
	for len(q.h) > 0 {
		t := q.h[0]
		if q.has(t, q.keyGroup(t.Key)) {
			return t, true
		}
		heap.Pop(&q.h)
	}
	return Timer{}, false
}

// PopDue removes and returns the earliest live timer with Timestamp <= upTo.
func (q *TimerQueue) PopDue(upTo int64) (Timer, bool) {
	t, ok := q.Peek()
	if !ok || t.Timestamp > upTo {
		return Timer{}, false
	}
	heap.Pop(&q.h)
	delete(q.set.write(q.keyGroup(t.Key)).m, t)
	q.set.n--
	return t, true
}

// Len returns the number of live timers.
func (q *TimerQueue) Len() int { return q.set.n }

// All returns the live timers in order (snapshots, tests).
func (q *TimerQueue) All() []Timer {
	out := make([]Timer, 0, q.set.n)
	q.set.each(func(t Timer, _ struct{}) { out = append(out, t) })
	h := timerHeap(out)
	heap.Init(&h)
	sorted := make([]Timer, 0, len(out))
	for h.Len() > 0 {
		sorted = append(sorted, heap.Pop(&h).(Timer))
	}
	return sorted
}

// timerView is a snapshot's frozen copy of a queue's timers.
type timerView struct {
	kind   byte // kindEventTimer or kindProcTimer
	frozen cowView[Timer, struct{}]
	// regroup is set when the queue groups timers differently from the snapshot (a queue made
	// by NewTimerQueue assigned to a backend): byGroup is then built on first use.
	regroup bool
	maxPar  int
	once    sync.Once // builds byGroup (concurrent WriteTo calls)
	byGroup map[int][]Timer
}

// view captures the queue's timers for a snapshot of a backend with maxPar (after the clock's
// begin).
func (q *TimerQueue) view(kind byte, maxPar int) *timerView {
	return &timerView{kind: kind, frozen: q.set.capture(), regroup: q.maxPar != maxPar, maxPar: maxPar}
}

// regrouped returns the timers per key group of the snapshot's max parallelism.
func (v *timerView) regrouped() map[int][]Timer {
	v.once.Do(func() {
		v.byGroup = map[int][]Timer{}
		add := func(m map[Timer]struct{}) {
			for t := range m {
				kg := serde.KeyGroupOf(unsafeBytes(t.Key), v.maxPar)
				v.byGroup[kg] = append(v.byGroup[kg], t)
			}
		}
		for _, c := range v.frozen.groups {
			add(c)
		}
		for _, c := range v.frozen.other {
			add(c)
		}
	})
	return v.byGroup
}

// keyGroups lists key groups with timers outside the range [start, end].
func (v *timerView) outside(start, end int) []int {
	if !v.regroup {
		return v.frozen.outside()
	}
	var out []int
	for kg := range v.regrouped() {
		if kg < start || kg > end {
			out = append(out, kg)
		}
	}
	return out
}

// appendGroup appends the timers of key group kg to es.
func (v *timerView) appendGroup(es []snapEntry, kg int) []snapEntry {
	add := func(t Timer) {
		es = append(es, snapEntry{kind: v.kind, ts: t.Timestamp, key: unsafeBytes(t.Key), val: unsafeBytes(t.Namespace)})
	}
	if v.regroup {
		for _, t := range v.regrouped()[kg] {
			add(t)
		}
		return es
	}
	for t := range v.frozen.group(kg) {
		add(t)
	}
	return es
}

// unsafeBytes returns the bytes of s without copying; they must not be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
