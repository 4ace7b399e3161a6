package network

import (
	"errors"
	"fmt"
	"sync"
)

// bufKind tells what a buffer carries.
type bufKind uint8

const (
	kindData  bufKind = iota // length-prefixed records, possibly partial at either end
	kindEvent                // one opaque event (watermark, barrier, ...)
	kindEOP                  // end of partition: the producer has finished this subpartition
)

// Buffer is one network buffer: a pooled memory segment holding data, or a small unpooled
// event. A Buffer has exactly one owner at a time; Recycle hands it back to its pool.
type Buffer struct {
	seg   []byte // len = bytes filled, cap = segment size (events: exact size)
	kind  bufKind
	owner recycler // nil for unpooled buffers
}

// recycler takes a buffer back when its holder is done with it.
type recycler interface {
	recycle(b *Buffer)
}

// Recycle returns the buffer to its pool. Recycling twice is a no-op.
func (b *Buffer) Recycle() {
	o := b.owner
	if o == nil {
		return
	}
	b.owner = nil
	b.seg = b.seg[:0]
	o.recycle(b)
}

// errPoolDestroyed is returned by a destroyed local pool when no cause was given.
var errPoolDestroyed = errors.New("network: buffer pool destroyed")

// globalPool is the process-wide budget of segments. Segments are allocated lazily and never
// more than total of them exist; it never blocks (callers decide how to wait).
type globalPool struct {
	mu      sync.Mutex
	segSize int
	total   int
	created int
	free    []*Buffer
}

func newGlobalPool(segSize, total int) *globalPool {
	return &globalPool{segSize: segSize, total: total}
}

// tryTake returns a free segment or nil when the budget is exhausted.
func (g *globalPool) tryTake() *Buffer {
	g.mu.Lock()
	b := g.takeLocked()
	g.mu.Unlock()
	return b
}

func (g *globalPool) takeLocked() *Buffer {
	if n := len(g.free); n > 0 {
		b := g.free[n-1]
		g.free[n-1] = nil
		g.free = g.free[:n-1]
		return b
	}
	if g.created < g.total {
		g.created++
		return &Buffer{seg: make([]byte, 0, g.segSize)}
	}
	return nil
}

// takeN takes n segments or none.
func (g *globalPool) takeN(n int, what string) ([]*Buffer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if avail := len(g.free) + g.total - g.created; avail < n {
		return nil, fmt.Errorf("network: insufficient network buffers for %s: need %d, %d of %d available (raise Config.TotalBuffers or lower BuffersPerChannel/parallelism)",
			what, n, avail, g.total)
	}
	out := make([]*Buffer, n)
	for i := range out {
		out[i] = g.takeLocked()
	}
	return out, nil
}

// put returns a segment to the budget.
func (g *globalPool) put(b *Buffer) {
	b.owner = nil
	b.seg = b.seg[:0]
	b.kind = kindData
	g.mu.Lock()
	g.free = append(g.free, b)
	g.mu.Unlock()
}

// forgive removes n segments that are still referenced somewhere but will never come back
// (their pool was destroyed; they are dropped when recycled) from the count of allocated
// segments, so the budget is not lost when a holder never recycles them.
func (g *globalPool) forgive(n int) {
	if n <= 0 {
		return
	}
	g.mu.Lock()
	g.created -= n
	g.mu.Unlock()
}

// BufferStats is a snapshot of an Environment's buffer budget.
type BufferStats struct {
	SegmentSize int // bytes per segment
	Total       int // the budget (Config.TotalBuffers)
	Created     int // segments allocated so far (never more than Total)
	Available   int // segments in the global pool or not yet allocated
}

func (g *globalPool) stats() BufferStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return BufferStats{SegmentSize: g.segSize, Total: g.total, Created: g.created, Available: len(g.free) + g.total - g.created}
}

// localPool is a producer partition's share of the global pool: min segments are reserved at
// creation, up to max are borrowed when the global pool has spares. Borrowed segments (above min)
// go back to the global pool when recycled. The writer waits on it when its share is used up:
// that wait is backpressure.
type localPool struct {
	mu     sync.Mutex
	global *globalPool
	min    int
	max    int
	owned  int
	free   []*Buffer
	wake   chan struct{} // capacity 1: "a buffer came back or the pool was destroyed"
	err    error         // set once destroyed
}

func newLocalPool(g *globalPool, min, max int, what string) (*localPool, error) {
	if max < min {
		max = min
	}
	bufs, err := g.takeN(min, what)
	if err != nil {
		return nil, err
	}
	p := &localPool{global: g, min: min, max: max, owned: min, free: bufs, wake: make(chan struct{}, 1)}
	for _, b := range bufs {
		b.owner = p
	}
	return p, nil
}

// tryRequest returns a buffer without waiting, or nil.
func (p *localPool) tryRequest() (*Buffer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		b.owner = p
		return b, nil
	}
	if p.owned < p.max {
		if b := p.global.tryTake(); b != nil {
			p.owned++
			b.owner = p
			return b, nil
		}
	}
	return nil, nil
}

// request returns a buffer, waiting until one is recycled or the pool is destroyed.
func (p *localPool) request() (*Buffer, error) {
	for {
		b, err := p.tryRequest()
		if b != nil || err != nil {
			return b, err
		}
		<-p.wake
	}
}

func (p *localPool) recycle(b *Buffer) {
	b.kind = kindData
	p.mu.Lock()
	if p.err != nil {
		// Forgiven at destroy: drop it (the garbage collector frees it).
		p.mu.Unlock()
		return
	}
	if p.owned > p.min {
		p.owned--
		p.mu.Unlock()
		p.global.put(b)
	} else {
		p.free = append(p.free, b)
		p.mu.Unlock()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// destroy returns the free segments to the global pool and forgives the ones still in use
// (held by a reader or a connection; they are dropped when recycled), so a holder that never
// recycles cannot shrink the budget. A waiting writer wakes up with cause.
func (p *localPool) destroy(cause error) {
	if cause == nil {
		cause = errPoolDestroyed
	}
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return
	}
	p.err = cause
	free := p.free
	p.free = nil
	outstanding := p.owned - len(free)
	p.owned = 0
	p.mu.Unlock()
	for _, b := range free {
		p.global.put(b)
	}
	p.global.forgive(outstanding)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
