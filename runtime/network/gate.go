package network

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ChannelSpec locates the subpartition one input channel reads.
type ChannelSpec struct {
	Partition    PartitionID
	Subpartition int
	// Addr is the data address (Environment.Addr) of the producer's process. The consumer's own
	// address means local: buffers are handed over in memory.
	Addr string
}

// ErrGateClosed is returned by reads on a closed InputGate.
var ErrGateClosed = errors.New("network: input gate closed")

// inputChannel is one producer's stream into a gate.
type inputChannel interface {
	// poll returns the next received buffer (nil if none) and whether more are queued.
	poll() (b *Buffer, more bool, err error)
	// release cancels the subscription and drops queued buffers (gate close).
	release()
}

// InputGate is one logical input of a consumer subtask: one channel per producer subtask. Its
// data is read through a RecordReader (or the lower-level Next).
type InputGate struct {
	env   *Environment
	specs []ChannelSpec
	chans []inputChannel

	mu     sync.Mutex
	avail  []int  // channels with queued buffers, in arrival order
	queued []bool // channel index is in avail
	err    error
	closed bool
	notify chan struct{} // capacity 1: "something changed"

	inBuffers int64 // guarded by mu
	inBytes   int64

	floating *floatingPool
	conns    []*clientConn // connections holding a reference for this gate
	reader   *RecordReader

	closedFlag atomic.Bool // closed, readable without mu
}

// GateStats counts a gate's input.
type GateStats struct {
	Buffers int64 // data buffers taken from the channels
	Bytes   int64 // bytes in them
}

// Stats returns the gate's counters.
func (g *InputGate) Stats() GateStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GateStats{Buffers: g.inBuffers, Bytes: g.inBytes}
}

// NumChannels returns the number of input channels.
func (g *InputGate) NumChannels() int { return len(g.chans) }

// Spec returns the spec of channel ch.
func (g *InputGate) Spec(ch int) ChannelSpec { return g.specs[ch] }

// notifyAvailable marks channel ch as having data.
func (g *InputGate) notifyAvailable(ch int) {
	g.mu.Lock()
	if !g.queued[ch] && !g.closed {
		g.queued[ch] = true
		g.avail = append(g.avail, ch)
	}
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

// fail records the first error; readers return it.
func (g *InputGate) fail(err error) {
	g.mu.Lock()
	if g.err == nil && !g.closed {
		g.err = err
	}
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

// pollNext takes the next buffer of the first available channel not blocked. ch is -1 when no
// buffer is available.
func (g *InputGate) pollNext(blocked []bool) (ch int, b *Buffer, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return -1, nil, g.err
	}
	if g.closed {
		return -1, nil, ErrGateClosed
	}
	for i := 0; i < len(g.avail); i++ {
		c := g.avail[i]
		if blocked != nil && blocked[c] {
			continue
		}
		b, more, err := g.chans[c].poll()
		if err != nil {
			if g.err == nil {
				g.err = fmt.Errorf("network: input channel %d (%s subpartition %d at %s): %w",
					c, g.specs[c].Partition, g.specs[c].Subpartition, g.specs[c].Addr, err)
			}
			return -1, nil, g.err
		}
		// Remove c from position i; re-append it at the end if it has more (round robin).
		copy(g.avail[i:], g.avail[i+1:])
		g.avail = g.avail[:len(g.avail)-1]
		if more {
			g.avail = append(g.avail, c)
		} else {
			g.queued[c] = false
		}
		if b != nil {
			if b.kind == kindData {
				g.inBuffers++
				g.inBytes += int64(len(b.seg))
			}
			return c, b, nil
		}
		i--
	}
	return -1, nil, nil
}

// wait blocks until the gate may have changed or ctx is done.
func (g *InputGate) wait(ctx context.Context) error {
	select {
	case <-g.notify:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BufferOrEvent is one unit read from a gate with InputGate.Next.
type BufferOrEvent struct {
	Channel int
	// Data is a data buffer holding whole and/or partial length-prefixed records.
	Data []byte
	// Event is the payload of an event.
	Event []byte
	// EndOfPartition is set when the channel's producer finished.
	EndOfPartition bool

	buf *Buffer
}

// Recycle returns the buffer behind Data or Event to its pool; Data and Event are invalid
// afterwards. Every BufferOrEvent returned by InputGate.Next must be recycled.
func (be *BufferOrEvent) Recycle() {
	if be.buf != nil {
		be.buf.Recycle()
		be.buf = nil
	}
}

// Next returns the next buffer or event of any channel, blocking while none is available; it
// returns ctx.Err() when ctx is done. It is the low-level alternative to RecordReader; do not
// mix both on one gate. EndOfPartition is returned once per channel; Next does not return
// io.EOF by itself.
func (g *InputGate) Next(ctx context.Context) (BufferOrEvent, error) {
	for {
		ch, b, err := g.pollNext(nil)
		if err != nil {
			return BufferOrEvent{}, err
		}
		if b != nil {
			be := BufferOrEvent{Channel: ch, buf: b}
			switch b.kind {
			case kindData:
				be.Data = b.seg
			case kindEvent:
				be.Event = b.seg
			case kindEOP:
				be.EndOfPartition = true
			}
			return be, nil
		}
		if err := g.wait(ctx); err != nil {
			return BufferOrEvent{}, err
		}
	}
}

// Close releases the gate: it cancels remote subscriptions and local views (a producer that has
// not finished sees an error), drops queued buffers and returns the gate's buffers to the budget.
// It may be called from any goroutine, also while a reader is blocked in Next (which then returns
// ErrGateClosed). Buffers the reader still holds are dropped when it next calls Next; the budget
// does not wait for them.
func (g *InputGate) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.closedFlag.Store(true)
	g.avail = nil
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
	for _, c := range g.chans {
		if c != nil {
			c.release()
		}
	}
	if g.floating != nil {
		g.floating.close()
	}
	for _, cc := range g.conns {
		g.env.releaseClientConn(cc)
	}
	g.conns = nil
	return nil
}

// localChannel reads a subpartition of a partition of the same Environment.
type localChannel struct {
	g   *InputGate
	idx int

	mu       sync.Mutex
	sub      *subpartition
	released bool
	timer    *time.Timer
}

func (c *localChannel) notifyDataAvailable() { c.g.notifyAvailable(c.idx) }

func (c *localChannel) notifyError(err error) { c.g.fail(c.g.channelErr(c.idx, err)) }

// request looks up the partition, retrying with backoff until the deadline.
func (c *localChannel) request(deadline time.Time, backoff time.Duration) {
	spec := c.g.specs[c.idx]
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return
	}
	p, closed := c.g.env.lookupPartitionState(spec.Partition)
	if closed {
		c.mu.Unlock()
		c.g.fail(c.g.channelErr(c.idx, ErrEnvironmentClosed))
		return
	}
	if p == nil {
		if time.Now().After(deadline) {
			c.mu.Unlock()
			c.g.fail(c.g.notFoundErr(c.idx))
			return
		}
		c.timer = time.AfterFunc(backoff, func() { c.request(deadline, nextBackoff(backoff)) })
		c.mu.Unlock()
		return
	}
	if spec.Subpartition < 0 || spec.Subpartition >= len(p.subs) {
		c.mu.Unlock()
		c.g.fail(fmt.Errorf("network: input channel %d: subpartition %d out of range, partition %s has %d", c.idx, spec.Subpartition, spec.Partition, len(p.subs)))
		return
	}
	s := p.subs[spec.Subpartition]
	c.sub = s
	c.mu.Unlock()
	if err := s.attach(c); err != nil {
		c.g.fail(c.g.channelErr(c.idx, err))
	}
}

func (c *localChannel) poll() (*Buffer, bool, error) {
	c.mu.Lock()
	s := c.sub
	c.mu.Unlock()
	if s == nil {
		return nil, false, nil
	}
	b, backlog, err := s.poll(false, math.MaxInt)
	return b, backlog > 0, err
}

func (c *localChannel) release() {
	c.mu.Lock()
	c.released = true
	if c.timer != nil {
		c.timer.Stop()
	}
	s := c.sub
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	done := s.consumed || s.err != nil
	s.mu.Unlock()
	if !done {
		s.p.release(fmt.Errorf("network: consumer of subpartition %d of %s cancelled: %w", s.index, s.p.id, ErrGateClosed))
	}
}

func (g *InputGate) channelErr(ch int, err error) error {
	s := g.specs[ch]
	return fmt.Errorf("network: input channel %d (%s subpartition %d at %s): %w", ch, s.Partition, s.Subpartition, s.Addr, err)
}

// ErrPartitionNotFound is the cause when a requested partition was not registered at the
// producer's address within Config.PartitionRequestTimeout.
var ErrPartitionNotFound = errors.New("network: partition not found")

func (g *InputGate) notFoundErr(ch int) error {
	s := g.specs[ch]
	return fmt.Errorf("network: input channel %d: partition %s (subpartition %d) not registered at %s after %v (producer not deployed, failed, or already finished): %w",
		ch, s.Partition, s.Subpartition, s.Addr, g.env.cfg.PartitionRequestTimeout, ErrPartitionNotFound)
}

const (
	initialBackoff = 5 * time.Millisecond
	maxBackoff     = 200 * time.Millisecond
)

func nextBackoff(d time.Duration) time.Duration {
	d *= 2
	if d > maxBackoff {
		d = maxBackoff
	}
	return d
}

// floatingPool is a gate's pool of floating receive buffers, lent to remote channels with a
// backlog larger than their free buffers.
type floatingPool struct {
	mu      sync.Mutex
	global  *globalPool
	max     int
	owned   int
	free    []*Buffer
	waiting []*remoteChannel
	closed  bool
}

// tryTake lends a buffer or returns nil (the channel is then queued as waiting).
func (f *floatingPool) tryTake(c *remoteChannel) *Buffer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if n := len(f.free); n > 0 {
		b := f.free[n-1]
		f.free = f.free[:n-1]
		b.owner = f
		return b
	}
	if f.owned < f.max {
		if b := f.global.tryTake(); b != nil {
			f.owned++
			b.owner = f
			return b
		}
	}
	if !c.waitingFloating {
		c.waitingFloating = true
		f.waiting = append(f.waiting, c)
	}
	return nil
}

func (f *floatingPool) recycle(b *Buffer) {
	b.kind = kindData
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock() // forgiven at close: drop it
		return
	}
	for len(f.waiting) > 0 {
		c := f.waiting[0]
		f.waiting = f.waiting[1:]
		c.waitingFloating = false
		b.owner = f
		f.mu.Unlock()
		if c.offerFloating(b) {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock() // forgiven at close: drop it
			return
		}
	}
	b.owner = nil
	f.free = append(f.free, b)
	f.mu.Unlock()
}

func (f *floatingPool) close() {
	f.mu.Lock()
	f.closed = true
	free := f.free
	f.free = nil
	outstanding := f.owned - len(free)
	f.owned = 0
	f.waiting = nil
	f.mu.Unlock()
	for _, b := range free {
		f.global.put(b)
	}
	f.global.forgive(outstanding)
}
