package state

import "container/heap"

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
type TimerQueue struct {
	h   timerHeap
	set map[Timer]struct{}
}

// NewTimerQueue returns an empty queue.
func NewTimerQueue() *TimerQueue { return &TimerQueue{set: map[Timer]struct{}{}} }

// Add registers t; a duplicate is ignored. It reports whether t is new.
func (q *TimerQueue) Add(t Timer) bool {
	if _, ok := q.set[t]; ok {
		return false
	}
	q.set[t] = struct{}{}
	heap.Push(&q.h, t)
	return true
}

// Remove deletes t if registered (lazily: it is skipped when it reaches the head).
func (q *TimerQueue) Remove(t Timer) { delete(q.set, t) }

// Peek returns the earliest live timer.
func (q *TimerQueue) Peek() (Timer, bool) {
	for len(q.h) > 0 {
		t := q.h[0]
		if _, ok := q.set[t]; ok {
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
	delete(q.set, t)
	return t, true
}

// Len returns the number of live timers.
func (q *TimerQueue) Len() int { return len(q.set) }

// All returns the live timers in order (snapshots, tests).
func (q *TimerQueue) All() []Timer {
	out := make([]Timer, 0, len(q.set))
	for t := range q.set {
		out = append(out, t)
	}
	h := timerHeap(out)
	heap.Init(&h)
	sorted := make([]Timer, 0, len(out))
	for h.Len() > 0 {
		sorted = append(sorted, heap.Pop(&h).(Timer))
	}
	return sorted
}
