package nexmark

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/connectors/internal/seqsplit"
	"github.com/flink-go/flink-go/runtime/op"
)

// Source is an op.Source of Nexmark events. Subtask k of p generates the event numbers
// n ≡ k (mod p), so the union over all subtasks is exactly the single-generator stream and does
// not depend on the parallelism. A snapshot is the next event number (plus events held back by
// the occasional-delay simulation); restoring at another parallelism neither loses nor repeats
// events.
type Source struct {
	gen *Generator
	// now is the wall clock (replaceable in tests).
	now func() time.Time
}

var _ op.Source[Event] = (*Source)(nil)

// NewSource validates cfg and returns the source.
func NewSource(cfg Config) (*Source, error) {
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{gen: g, now: time.Now}, nil
}

// Generator returns the source's event generator (handy to compute expected results).
func (s *Source) Generator() *Generator { return s.gen }

// Bounded implements op.Source: bounded when NumEvents > 0.
func (s *Source) Bounded() bool { return s.gen.cfg.NumEvents > 0 }

// CreateReader implements op.Source.
func (s *Source) CreateReader(ctx op.SourceContext) (op.SourceReader[Event], error) {
	limit := s.gen.cfg.NumEvents
	if limit == 0 {
		limit = seqsplit.Unbounded
	}
	k, p := ctx.Subtask(), ctx.Parallelism()
	var cursorStates [][]byte
	var held []int64
	for i, st := range ctx.RestoredState() {
		cs, h, err := decodeState(st)
		if err != nil {
			return nil, fmt.Errorf("nexmark source: restored state %d: %w", i, err)
		}
		cursorStates = append(cursorStates, cs)
		for _, n := range h {
			if n%int64(p) == int64(k) { // held-back events are redistributed by number
				held = append(held, n)
			}
		}
	}
	cur, err := seqsplit.Restore(k, p, limit, cursorStates)
	if err != nil {
		return nil, fmt.Errorf("nexmark source: subtask %d/%d: %w", k, p, err)
	}
	r := &reader{src: s, gen: s.gen, cfg: s.gen.cfg, cur: cur, log: ctx.Logger(), lastWM: math.MinInt64}
	r.delays = s.gen.cfg.RateLimited && s.gen.cfg.ProbDelayedEvent > 0 && s.gen.cfg.OccasionalDelaySec > 0
	for _, n := range held {
		r.held = append(r.held, heldEvent{n: n})
	}
	if r.log != nil {
		r.log.Debug().Int("subtask", k).Int("parallelism", p).Int64("next", cur.Position()).Int("held", len(held)).Msg("nexmark reader created")
	}
	return r, nil
}

type heldEvent struct {
	due int64 // wall-clock due time relative to the reader's base (ms of event-time offset)
	n   int64
}

type heldHeap []heldEvent

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	return h[i].due < h[j].due || (h[i].due == h[j].due && h[i].n < h[j].n)
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(heldEvent)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type reader struct {
	src    *Source
	gen    *Generator
	cfg    Config
	cur    *seqsplit.Cursor
	log    *zerolog.Logger
	ev     Event
	buf    EventBuffer
	held   heldHeap
	delays bool
	// wallBase is the wall-clock ms that corresponds to event time BaseTime (rate-limited mode).
	wallBase   int64
	started    bool
	lastWM     int64
	emittedAny bool
}

// delayOf decides deterministically whether event n is held back and by how many ms.
func (r *reader) delayOf(n int64) (int64, bool) {
	h := splitmix(uint64(n) ^ 0x6a09e667f3bcc909)
	if float64(h>>11)*(1.0/(1<<53)) >= r.cfg.ProbDelayedEvent {
		return 0, false
	}
	return 1 + int64(splitmix(h)%uint64(r.cfg.OccasionalDelaySec*1000)), true
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func (r *reader) emit(n int64, out op.SourceOutput[Event]) {
	r.gen.Fill(n, &r.ev, &r.buf)
	out.CollectWithTimestamp(r.ev, r.ev.Timestamp())
}

// Poll implements op.SourceReader.
func (r *reader) Poll(ctx context.Context, out op.SourceOutput[Event]) (op.PollStatus, error) {
	batch := r.cfg.BatchSize
	if !r.cfg.RateLimited {
		emitted := 0
		for ; emitted < batch && len(r.held) > 0; emitted++ { // restored from a rate-limited run
			r.emit(r.held[len(r.held)-1].n, out)
			r.held = r.held[:len(r.held)-1]
		}
		for ; emitted < batch; emitted++ {
			n, ok := r.cur.Next()
			if !ok {
				break
			}
			r.emit(n, out)
		}
		if emitted > 0 {
			r.watermark(out)
		}
		if emitted < batch {
			return op.End, nil
		}
		return op.MoreAvailable, nil
	}
	return r.pollPaced(ctx, out)
}

// pollPaced emits the events whose wall-clock time has come: event n is due at
// wallBase + (Timestamp(n) - BaseTime); held-back events at that time plus their delay.
func (r *reader) pollPaced(ctx context.Context, out op.SourceOutput[Event]) (op.PollStatus, error) {
	nowMs := r.src.now().UnixMilli()
	if !r.started {
		r.started = true
		first := int64(0)
		if n, ok := r.cur.Peek(); ok {
			first = n
		}
		r.wallBase = nowMs - (r.gen.Timestamp(first) - r.cfg.BaseTime)
		for i := range r.held { // restored held events: due right away
			r.held[i].due = r.gen.Timestamp(r.held[i].n) - r.cfg.BaseTime
		}
		heap.Init(&r.held)
	}
	rel := nowMs - r.wallBase // elapsed event-time offset that is due now
	emitted := 0
	for emitted < r.cfg.BatchSize && len(r.held) > 0 && r.held[0].due <= rel {
		he := heap.Pop(&r.held).(heldEvent)
		r.emit(he.n, out)
		emitted++
	}
	for emitted < r.cfg.BatchSize {
		n, ok := r.cur.Peek()
		if !ok {
			break
		}
		due := r.gen.Timestamp(n) - r.cfg.BaseTime
		if due > rel {
			break
		}
		r.cur.Next()
		if r.delays {
			if d, late := r.delayOf(n); late {
				heap.Push(&r.held, heldEvent{due: due + d, n: n})
				continue
			}
		}
		r.emit(n, out)
		emitted++
	}
	if emitted > 0 {
		r.watermark(out)
		return op.MoreAvailable, nil
	}
	// Nothing due: wait (bounded) for the next due event.
	next := int64(math.MaxInt64)
	if n, ok := r.cur.Peek(); ok {
		next = r.gen.Timestamp(n) - r.cfg.BaseTime
	}
	if len(r.held) > 0 {
		next = min(next, r.held[0].due)
	}
	if next == math.MaxInt64 {
		return op.End, nil
	}
	wait := time.Duration(next-rel) * time.Millisecond
	if wait > 50*time.Millisecond {
		wait = 50 * time.Millisecond
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return op.NothingAvailable, nil
		case <-t.C:
		}
	}
	return op.NothingAvailable, nil
}

// watermark emits the generator watermark: 1 ms before the earliest timestamp this reader
// may still emit.
func (r *reader) watermark(out op.SourceOutput[Event]) {
	if !r.cfg.EmitWatermarks {
		return
	}
	wm := int64(math.MaxInt64)
	if n, ok := r.cur.Peek(); ok {
		wm = r.gen.Timestamp(r.gen.WatermarkNumber(n))
	}
	for _, h := range r.held {
		wm = min(wm, r.gen.EventTimestamp(h.n))
	}
	if wm == math.MaxInt64 {
		return // exhausted: the engine emits the final watermark at End
	}
	if wm-1 > r.lastWM {
		r.lastWM = wm - 1
		out.EmitWatermark(wm - 1)
	}
}

// Snapshot implements op.SourceReader.
func (r *reader) Snapshot(checkpointID int64) ([]byte, error) {
	held := make([]int64, len(r.held))
	for i, h := range r.held {
		held[i] = h.n
	}
	if r.log != nil {
		r.log.Debug().Int64("checkpoint", checkpointID).Int64("next", r.cur.Position()).Int("held", len(held)).Msg("nexmark reader snapshot")
	}
	return encodeState(r.cur.Snapshot(), held), nil
}

// Close implements op.SourceReader.
func (r *reader) Close() error { return nil }

const stateVersion = 1

var errBadState = errors.New("corrupt nexmark source state (written by another source or version?)")

func encodeState(cursor []byte, held []int64) []byte {
	b := binary.AppendUvarint(nil, stateVersion)
	b = binary.AppendUvarint(b, uint64(len(cursor)))
	b = append(b, cursor...)
	b = binary.AppendUvarint(b, uint64(len(held)))
	for _, n := range held {
		b = binary.AppendVarint(b, n)
	}
	return b
}

func decodeState(b []byte) (cursor []byte, held []int64, err error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v != stateVersion {
		return nil, nil, errBadState
	}
	b = b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, errBadState
	}
	cursor = b[n : n+int(l)]
	b = b[n+int(l):]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return nil, nil, errBadState
	}
	b = b[n:]
	for range cnt {
		x, n := binary.Varint(b)
		if n <= 0 {
			return nil, nil, errBadState
		}
		held = append(held, x)
		b = b[n:]
	}
	if len(b) != 0 {
		return nil, nil, errBadState
	}
	return cursor, held, nil
}
