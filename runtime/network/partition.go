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

// ResultPartition is the output of one producer subtask: one subpartition per consumer subtask.
// It is written through a RecordWriter.
type ResultPartition struct {
	env  *Environment
	id   PartitionID
	subs []*subpartition
	pool *localPool

	// Writer state, owned by the producing goroutine (no lock on the per-record path).
	cur         []*builder // the builder being filled, per subpartition
	scratch     []byte     // encode target when a record may not fit the current builder
	maxRec      int        // largest record seen (decides in-place encoding)
	closed      bool
	flushAlways bool

	relMu    sync.Mutex
	cause    error       // why the partition was released; written before released is set
	released atomic.Bool // read by the writer on every call

	timeout     time.Duration
	stopFlusher chan struct{}
	stopOnce    sync.Once

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
		cur:         make([]*builder, n),
		flushAlways: cfg.BufferTimeout == 0,
		timeout:     cfg.BufferTimeout,
		stopFlusher: make(chan struct{}),
	}
	for i := range p.subs {
		p.subs[i] = &subpartition{p: p, index: i}
	}
	if p.timeout > 0 {
		go p.flushLoop()
	}
	if ctx != nil && ctx.Done() != nil {
		p.stopCtx = context.AfterFunc(ctx, func() {
			p.release(fmt.Errorf("network: partition %s: %w", id, context.Cause(ctx)))
		})
	}
	return p, nil
}

// flushLoop is the output flusher: every BufferTimeout it makes the committed data of every
// subpartition available to its consumer. It never touches the writer's state.
func (p *ResultPartition) flushLoop() {
	t := time.NewTicker(p.timeout)
	defer t.Stop()
	for {
		select {
		case <-p.stopFlusher:
			return
		case <-t.C:
			for _, s := range p.subs {
				s.requestFlush()
			}
		}
	}
}

func (p *ResultPartition) stopFlushLoop() {
	p.stopOnce.Do(func() { close(p.stopFlusher) })
}

// PartitionStats counts a partition's output.
type PartitionStats struct {
	Buffers int64 // data buffers (or slices of buffers) handed to consumers
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
	p.relMu.Lock()
	if p.released.Load() {
		p.relMu.Unlock()
		return
	}
	p.cause = cause
	p.released.Store(true)
	p.relMu.Unlock()
	if p.stopCtx != nil {
		p.stopCtx()
	}
	p.stopFlushLoop()
	p.env.unregisterPartition(p)
	// Segments the writer still holds are forgiven by destroy: the writer may be running
	// concurrently, so its builders are left alone (it stops at its next call).
	p.pool.destroy(cause)
	for _, s := range p.subs {
		s.fail(cause)
	}
}
