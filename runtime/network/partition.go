package network

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PartitionID names the output of one producer subtask attempt.
type PartitionID struct {
	Job     string
	Vertex  string
	Subtask int
	Attempt int
}

// String returns "job/vertex/subtask/attempt" with job and vertex quoted when they contain a
// separator, so distinct IDs have distinct strings (usable as a key).
func (id PartitionID) String() string {
	q := func(s string) string {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '/' || c == '"' || c < ' ' {
				return strconv.Quote(s)
			}
		}
		return s
	}
	return q(id.Job) + "/" + q(id.Vertex) + "/" + strconv.Itoa(id.Subtask) + "/" + strconv.Itoa(id.Attempt)
}

// ErrPartitionReleased is the cause reported to writers and readers of a partition released
// with Release and no more specific cause.
var ErrPartitionReleased = errors.New("network: result partition released")

// ErrWriterClosed is returned by RecordWriter methods after Close.
var ErrWriterClosed = errors.New("network: record writer closed")

// subpartitionView is the consumer attached to a subpartition: a local input channel or a
// remote subscription on a server connection. Both methods are called without locks held.
type subpartitionView interface {
	notifyDataAvailable()
	notifyError(err error)
}

// subpartition is the queue of finished buffers for one consumer subtask.
type subpartition struct {
	p     *ResultPartition
	index int

	mu       sync.Mutex
	q        []*Buffer
	head     int
	view     subpartitionView
	err      error
	consumed bool // EndOfPartition handed to the view
}

// add appends a finished buffer and notifies the view.
func (s *subpartition) add(b *Buffer) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		b.Recycle()
		return err
	}
	s.q = append(s.q, b)
	v := s.view
	s.mu.Unlock()
	if v != nil {
		v.notifyDataAvailable()
	}
	return nil
}

// poll removes the next buffer. backlog is the number of buffers still queued after it.
func (s *subpartition) poll() (b *Buffer, backlog int, err error) {
	s.mu.Lock()
	if s.err != nil {
		err = s.err
		s.mu.Unlock()
		return nil, 0, err
	}
	if s.head == len(s.q) {
		s.mu.Unlock()
		return nil, 0, nil
	}
	b = s.q[s.head]
	s.q[s.head] = nil
	s.head++
	if s.head == len(s.q) {
		s.q = s.q[:0]
		s.head = 0
	}
	backlog = len(s.q) - s.head
	last := b.kind == kindEOP
	if last {
		s.consumed = true
	}
	s.mu.Unlock()
	if last {
		s.p.subpartitionConsumed()
	}
	return b, backlog, nil
}

// pollData removes the next buffer only if it is a data buffer of at most max bytes (used to
// coalesce small buffers into one network frame).
func (s *subpartition) pollData(max int) (b *Buffer, backlog int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.head == len(s.q) {
		return nil, 0
	}
	b = s.q[s.head]
	if b.kind != kindData || len(b.seg) > max {
		return nil, 0
	}
	s.q[s.head] = nil
	s.head++
	if s.head == len(s.q) {
		s.q = s.q[:0]
		s.head = 0
	}
	return b, len(s.q) - s.head
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
	has := s.head < len(s.q)
	s.mu.Unlock()
	if has {
		v.notifyDataAvailable()
	}
	return nil
}

// fail drops queued data and tells the view. It returns whether the subpartition still had a
// consumer that had not seen EndOfPartition.
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
	for _, b := range drop {
		b.Recycle()
	}
	if notify {
		v.notifyError(err)
	}
}

// ResultPartition is the output of one producer subtask: one subpartition per consumer subtask.
// It is written through a RecordWriter.
type ResultPartition struct {
	env  *Environment
	id   PartitionID
	subs []*subpartition
	pool *localPool

	// Writer state, guarded by wmu. The producing goroutine holds wmu for each Emit; the flusher
	// takes it every BufferTimeout.
	wmu         sync.Mutex
	cur         []*Buffer // the buffer being filled, per subpartition
	scratch     []byte    // encode target when a record may not fit the current buffer
	maxRec      int       // largest record seen (decides in-place encoding)
	werr        error     // set once the writer closed or the partition was released
	flushAlways bool

	timeout     time.Duration
	stopFlusher chan struct{}
	flusherDone chan struct{}

	released     atomic.Bool
	consumedSubs atomic.Int32
	outBuffers   atomic.Int64
	outBytes     atomic.Int64
	bpNanos      atomic.Int64
	stopCtx      func() bool
}

// ID returns the partition's ID.
func (p *ResultPartition) ID() PartitionID { return p.id }

// NumSubpartitions returns the number of subpartitions (consumer subtasks).
func (p *ResultPartition) NumSubpartitions() int { return len(p.subs) }

func newResultPartition(env *Environment, ctx context.Context, id PartitionID, n int) (*ResultPartition, error) {
	if n < 1 {
		return nil, fmt.Errorf("network: partition %s needs at least one subpartition, got %d", id, n)
	}
	cfg := env.cfg
	pool, err := newLocalPool(env.global, n+1, n*cfg.BuffersPerChannel+cfg.FloatingBuffersPerGate, "partition "+id.String())
	if err != nil {
		return nil, err
	}
	p := &ResultPartition{
		env:         env,
		id:          id,
		subs:        make([]*subpartition, n),
		pool:        pool,
		cur:         make([]*Buffer, n),
		flushAlways: cfg.BufferTimeout == 0,
		timeout:     cfg.BufferTimeout,
	}
	for i := range p.subs {
		p.subs[i] = &subpartition{p: p, index: i}
	}
	if p.timeout > 0 {
		p.stopFlusher = make(chan struct{})
		p.flusherDone = make(chan struct{})
		go p.flushLoop()
	}
	if ctx != nil && ctx.Done() != nil {
		p.stopCtx = context.AfterFunc(ctx, func() {
			p.release(fmt.Errorf("network: partition %s: %w", id, context.Cause(ctx)))
		})
	}
	return p, nil
}

// flushLoop is the output flusher: it hands on partially filled buffers every BufferTimeout.
func (p *ResultPartition) flushLoop() {
	defer close(p.flusherDone)
	t := time.NewTicker(p.timeout)
	defer t.Stop()
	for {
		select {
		case <-p.stopFlusher:
			return
		case <-t.C:
			p.wmu.Lock()
			if p.werr == nil {
				for i, b := range p.cur {
					if b != nil && len(b.seg) > 0 {
						p.finishLocked(i) // errors surface on the writer's next call
					}
				}
			}
			p.wmu.Unlock()
		}
	}
}

func (p *ResultPartition) stopFlushLoop() {
	if p.stopFlusher == nil {
		return
	}
	select {
	case <-p.stopFlusher:
	default:
		close(p.stopFlusher)
	}
}

// finishLocked hands the current buffer of sub to its subpartition. Caller holds wmu.
func (p *ResultPartition) finishLocked(sub int) error {
	b := p.cur[sub]
	if b == nil {
		return nil
	}
	p.cur[sub] = nil
	if len(b.seg) == 0 {
		b.Recycle()
		return nil
	}
	p.outBuffers.Add(1)
	p.outBytes.Add(int64(len(b.seg)))
	return p.subs[sub].add(b)
}

// PartitionStats counts a partition's output.
type PartitionStats struct {
	Buffers int64 // data buffers handed on
	Bytes   int64 // bytes in them (length prefixes included)
	// Backpressured is the total time the writer waited for a free buffer.
	Backpressured time.Duration
}

// Stats returns the partition's counters.
func (p *ResultPartition) Stats() PartitionStats {
	return PartitionStats{Buffers: p.outBuffers.Load(), Bytes: p.outBytes.Load(), Backpressured: time.Duration(p.bpNanos.Load())}
}

// subpartitionConsumed is called when a consumer took EndOfPartition from a subpartition; once
// all are consumed the partition is unregistered and its buffers go back to the global pool.
func (p *ResultPartition) subpartitionConsumed() {
	if int(p.consumedSubs.Add(1)) == len(p.subs) {
		p.env.unregisterPartition(p)
		p.pool.destroy(ErrWriterClosed)
	}
}

// Release drops queued data, frees the partition's buffers, unregisters it and wakes a writer
// blocked on backpressure with an error; consumers see an error. Use it on failure or
// cancellation; a partition whose writer was closed normally is released automatically once
// every consumer read to the end. Release is idempotent and safe to call from any goroutine.
func (p *ResultPartition) Release() {
	p.release(ErrPartitionReleased)
}

func (p *ResultPartition) release(cause error) {
	if !p.released.CompareAndSwap(false, true) {
		return
	}
	if p.stopCtx != nil {
		p.stopCtx()
	}
	p.env.unregisterPartition(p)
	p.pool.destroy(cause)
	p.stopFlushLoop()
	p.wmu.Lock()
	if p.werr == nil || p.werr == ErrWriterClosed {
		p.werr = cause
	}
	for i, b := range p.cur {
		if b != nil {
			p.cur[i] = nil
			b.Recycle()
		}
	}
	p.wmu.Unlock()
	for _, s := range p.subs {
		s.fail(cause)
	}
}
