package network

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// builder is a pooled segment that the writer fills while consumers take the committed part in
// slices (views), as Flink's BufferBuilder/BufferConsumer pair: the writer publishes its write
// position with one atomic store per record and never takes a lock per record; the output
// flusher only marks the subpartition as "flush requested".
//
// The segment returns to its pool when the writer finished it, the queue dropped it and every
// view was recycled (refs reaches zero).
type builder struct {
	buf       *Buffer      // the pooled segment; buf.seg[:cap] is the memory
	mem       []byte       // buf.seg[:cap(buf.seg)]
	wpos      int          // writer only: bytes written
	committed atomic.Int64 // bytes published to consumers
	refs      atomic.Int32 // writer + queue + outstanding views

	read     int  // guarded by the subpartition's mu: bytes handed out as views
	finished bool // guarded by the subpartition's mu: the writer is done with it
}

var builderPool = sync.Pool{New: func() any { return new(builder) }}
var viewPool = sync.Pool{New: func() any { return new(Buffer) }}

func newBuilder(b *Buffer) *builder {
	bb := builderPool.Get().(*builder)
	bb.buf = b
	bb.mem = b.seg[:cap(b.seg)]
	bb.wpos = 0
	bb.committed.Store(0)
	bb.refs.Store(2) // writer and queue
	bb.read = 0
	bb.finished = false
	return bb
}

// view returns a buffer for mem[from:to] holding a reference on bb.
func (bb *builder) view(from, to int) *Buffer {
	bb.refs.Add(1)
	v := viewPool.Get().(*Buffer)
	v.seg = bb.mem[from:to:to]
	v.kind = kindData
	v.owner = bb
	return v
}

// recycle takes back a view.
func (bb *builder) recycle(v *Buffer) {
	v.seg = nil
	viewPool.Put(v)
	bb.unref()
}

func (bb *builder) unref() {
	if bb.refs.Add(-1) == 0 {
		b := bb.buf
		bb.buf, bb.mem = nil, nil
		builderPool.Put(bb)
		b.Recycle()
	}
}

// qentry is one element of a subpartition queue: a data builder or an event buffer.
type qentry struct {
	bld *builder
	ev  *Buffer // kindEvent or kindEOP, unpooled
}

// subpartition is the queue of data and events for one consumer subtask.
type subpartition struct {
	p     *ResultPartition
	index int

	mu             sync.Mutex
	q              []qentry
	head           int
	flushRequested bool // hand out the unfinished last builder's committed data
	view           subpartitionView
	err            error
	consumed       bool // EndOfPartition handed to the view
}

func (s *subpartition) notify(v subpartitionView) {
	if v != nil {
		v.notifyDataAvailable()
	}
}

// addBuilder appends a new (empty) builder; nothing becomes available.
func (s *subpartition) addBuilder(bb *builder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.q = append(s.q, qentry{bld: bb})
	return nil
}

// finishBuilder marks bb complete (its data becomes available) and drops the writer's reference.
// The caller committed everything written.
func (s *subpartition) finishBuilder(bb *builder) {
	s.mu.Lock()
	bb.finished = true
	v := s.view
	if s.err != nil {
		v = nil
	}
	s.mu.Unlock()
	s.notify(v)
	bb.unref()
}

// addEvent appends an event buffer (the current builder must be finished first).
func (s *subpartition) addEvent(b *Buffer) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.q = append(s.q, qentry{ev: b})
	v := s.view
	s.mu.Unlock()
	s.notify(v)
	return nil
}

// requestFlush makes the committed data of the unfinished builder available.
func (s *subpartition) requestFlush() {
	s.mu.Lock()
	if s.err != nil || s.head == len(s.q) || s.flushRequested {
		s.mu.Unlock()
		return
	}
	last := s.q[len(s.q)-1].bld
	if last == nil || last.finished || last.committed.Load() <= int64(last.read) {
		s.mu.Unlock()
		return // nothing pending, or already available
	}
	s.flushRequested = true
	v := s.view
	s.mu.Unlock()
	s.notify(v)
}

// pop removes the head entry. Caller holds mu.
func (s *subpartition) popLocked() {
	s.q[s.head] = qentry{}
	s.head++
	if s.head == len(s.q) {
		s.q = s.q[:0]
		s.head = 0
	}
}

// availableLocked counts the entries a consumer could take now (an entry with no data left may
// be counted). Caller holds mu.
func (s *subpartition) availableLocked() int {
	n := len(s.q) - s.head
	if n > 0 {
		if last := s.q[len(s.q)-1].bld; last != nil && !last.finished &&
			!(s.flushRequested && last.committed.Load() > int64(last.read)) {
			n--
		}
	}
	return n
}

// backlog returns the number of entries available now.
func (s *subpartition) backlog() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0
	}
	return s.availableLocked()
}

// poll takes the next available buffer: a view of committed builder data, or an event. With
// dataOnly it takes only data of at most max bytes. backlog is the number of entries still
// available after it.
func (s *subpartition) poll(dataOnly bool, max int) (b *Buffer, backlog int, err error) {
	last := false
	s.mu.Lock()
	if s.err != nil {
		err = s.err
		s.mu.Unlock()
		return nil, 0, err
	}
	for s.head < len(s.q) {
		e := s.q[s.head]
		if e.ev != nil {
			if dataOnly {
				break
			}
			b = e.ev
			s.popLocked()
			if b.kind == kindEOP {
				s.consumed = true
				last = true
			}
			break
		}
		bb := e.bld
		if !bb.finished && !s.flushRequested {
			break // the writer is still filling it and nobody asked for a flush
		}
		c := int(bb.committed.Load()) // final once finished: set under mu after the last commit
		if c-bb.read > max {
			break
		}
		if c > bb.read {
			b = bb.view(bb.read, c)
			bb.read = c
		}
		if !bb.finished {
			s.flushRequested = false
			break
		}
		s.popLocked()
		// Drop the queue's reference; views keep the segment alive. The final release only
		// takes the pool's lock, never a subpartition's.
		bb.unref()
		if b != nil {
			break
		}
	}
	backlog = s.availableLocked()
	s.mu.Unlock()
	if b != nil && b.kind == kindData {
		s.p.outBuffers.Add(1)
		s.p.outBytes.Add(int64(len(b.seg)))
	}
	if last {
		s.p.subpartitionConsumed()
	}
	return b, backlog, nil
}

// attach connects the consumer. A subpartition has at most one consumer.
func (s *subpartition) attach(v subpartitionView) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.view != nil {
		s.mu.Unlock()
		return fmt.Errorf("network: subpartition %d of %s already has a consumer (duplicate ChannelSpec or stale attempt?)", s.index, s.p.id)
	}
	s.view = v
	has := s.availableLocked() > 0
	s.mu.Unlock()
	if has {
		v.notifyDataAvailable()
	}
	return nil
}

// fail drops queued data and tells the consumer, unless it already saw EndOfPartition.
func (s *subpartition) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	drop := s.q[s.head:]
	s.q, s.head = nil, 0
	v := s.view
	notify := v != nil && !s.consumed
	s.mu.Unlock()
	for _, e := range drop {
		if e.bld != nil {
			e.bld.unref()
		}
	}
	if notify {
		v.notifyError(err)
	}
}
