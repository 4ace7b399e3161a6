// Package datagen is a generator source: records are a user function of their index
// 0, 1, 2, ..., optionally bounded by a count and rate-limited across all subtasks.
package datagen

import (
	"context"
	"fmt"
	"time"

	"github.com/flink-go/flink-go/connectors/internal/seqsplit"
	"github.com/flink-go/flink-go/runtime/op"
)

// Option configures a Source.
type Option func(*config)

type config struct {
	count     int64
	rate      float64
	batch     int
	timestamp func(index int64) int64
	now       func() time.Time
}

// Count bounds the source to the indexes [0, n) over all subtasks (default: unbounded).
func Count(n int64) Option { return func(c *config) { c.count = n } }

// RatePerSecond limits the total emission rate of all subtasks together to r records per
// second; each of p subtasks emits r/p per second (default: unlimited).
func RatePerSecond(r float64) Option { return func(c *config) { c.rate = r } }

// BatchSize sets the maximum number of records one Poll emits (default 1024).
func BatchSize(n int) Option { return func(c *config) { c.batch = n } }

// Timestamps makes each record carry the event-time timestamp ts(index).
func Timestamps(ts func(index int64) int64) Option { return func(c *config) { c.timestamp = ts } }

// withClock replaces the wall clock (tests).
func withClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Source emits fn(i) for every index i. Subtask k of p emits the indexes i ≡ k (mod p) in
// increasing order; the snapshot is the next index (restorable at any parallelism without
// loss or repetition).
type Source[T any] struct {
	fn  func(index int64) T
	cfg config
}

var _ op.Source[int64] = (*Source[int64])(nil)

// New returns a generator source.
func New[T any](fn func(index int64) T, opts ...Option) (*Source[T], error) {
	c := config{batch: 1024, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case fn == nil:
		return nil, fmt.Errorf("datagen: nil generator function")
	case c.count < 0:
		return nil, fmt.Errorf("datagen: negative count %d", c.count)
	case c.rate < 0 || c.rate > 1e12:
		return nil, fmt.Errorf("datagen: rate %v records/s out of range [0, 1e12]", c.rate)
	case c.batch < 1:
		return nil, fmt.Errorf("datagen: batch size %d must be >= 1", c.batch)
	}
	return &Source[T]{fn: fn, cfg: c}, nil
}

// Bounded implements op.Source: bounded when a count is set.
func (s *Source[T]) Bounded() bool { return s.cfg.count > 0 }

// CreateReader implements op.Source.
func (s *Source[T]) CreateReader(ctx op.SourceContext) (op.SourceReader[T], error) {
	limit := s.cfg.count
	if limit == 0 {
		limit = seqsplit.Unbounded
	}
	cur, err := seqsplit.Restore(ctx.Subtask(), ctx.Parallelism(), limit, ctx.RestoredState())
	if err != nil {
		return nil, fmt.Errorf("datagen: subtask %d/%d: %w", ctx.Subtask(), ctx.Parallelism(), err)
	}
	r := &reader[T]{src: s, cur: cur}
	if s.cfg.rate > 0 {
		r.share = s.cfg.rate / float64(ctx.Parallelism())
		r.capacity = max(1, r.share/10) // at most 100 ms of burst after a stall
	}
	return r, nil
}

type reader[T any] struct {
	src      *Source[T]
	cur      *seqsplit.Cursor
	share    float64 // records per second for this subtask (0 = unlimited)
	capacity float64
	tokens   float64
	last     time.Time
}

// Poll implements op.SourceReader.
func (r *reader[T]) Poll(ctx context.Context, out op.SourceOutput[T]) (op.PollStatus, error) {
	n := r.src.cfg.batch
	if r.share > 0 {
		now := r.src.cfg.now()
		if r.last.IsZero() {
			r.last = now
			r.tokens = 1
		}
		r.tokens = min(r.capacity, r.tokens+now.Sub(r.last).Seconds()*r.share)
		r.last = now
		if r.tokens < 1 {
			wait := time.Duration((1 - r.tokens) / r.share * float64(time.Second))
			wait = min(wait, 50*time.Millisecond)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if !r.cur.Remaining() {
				return op.End, nil
			}
			return op.NothingAvailable, nil
		}
		n = min(n, int(r.tokens))
	}
	ts := r.src.cfg.timestamp
	emitted := 0
	for ; emitted < n; emitted++ {
		i, ok := r.cur.Next()
		if !ok {
			break
		}
		if ts != nil {
			out.CollectWithTimestamp(r.src.fn(i), ts(i))
		} else {
			out.Collect(r.src.fn(i))
		}
	}
	r.tokens -= float64(emitted)
	if emitted < n {
		return op.End, nil
	}
	return op.MoreAvailable, nil
}

// Snapshot implements op.SourceReader.
func (r *reader[T]) Snapshot(int64) ([]byte, error) { return r.cur.Snapshot(), nil }

// Close implements op.SourceReader.
func (r *reader[T]) Close() error { return nil }
