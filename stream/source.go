package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/task"
)

// WatermarkStrategy says how a source assigns timestamps and generates watermarks.
type WatermarkStrategy[T any] struct {
	assigner       func(v T, sourceTS int64) int64
	outOfOrderness time.Duration
	generate       bool
	idleness       time.Duration
}

// NoWatermarks: records keep the source's timestamps; no watermarks are generated (event-time
// windows then fire only at the end of a bounded input).
func NoWatermarks[T any]() WatermarkStrategy[T] { return WatermarkStrategy[T]{} }

// ForBoundedOutOfOrderness generates watermarks that trail the highest timestamp seen by d
// (Flink's BoundedOutOfOrdernessWatermarks: watermark = maxTimestamp - d - 1).
func ForBoundedOutOfOrderness[T any](d time.Duration) WatermarkStrategy[T] {
	return WatermarkStrategy[T]{outOfOrderness: d, generate: true}
}

// ForMonotonousTimestamps is ForBoundedOutOfOrderness(0).
func ForMonotonousTimestamps[T any]() WatermarkStrategy[T] { return ForBoundedOutOfOrderness[T](0) }

// WithTimestampAssigner extracts event time (epoch ms) from records.
func (w WatermarkStrategy[T]) WithTimestampAssigner(fn func(v T, sourceTS int64) int64) WatermarkStrategy[T] {
	w.assigner = fn
	return w
}

// WithIdleness marks the source subtask idle after d without records, so downstream watermarks
// do not wait for it.
func (w WatermarkStrategy[T]) WithIdleness(d time.Duration) WatermarkStrategy[T] {
	w.idleness = d
	return w
}

type sourceFactory[T any] struct {
	src      op.Source[T]
	strategy WatermarkStrategy[T]
}

func (f *sourceFactory[T]) NewInstance(ctx *task.OperatorContext, main any, _ map[string]any) (task.Instance, error) {
	return &sourceOp[T]{baseOp: baseOp{ctx}, src: f.src, strategy: f.strategy, out: outputOf[T](main),
		maxTS: op.MinWatermark, lastWM: op.MinWatermark, interval: ctx.AutoWatermarkInterval()}, nil
}
func (f *sourceFactory[T]) InputType(int) task.InputType { return nil }

type sourceOp[T any] struct {
	baseOp
	src        op.Source[T]
	reader     op.SourceReader[T]
	strategy   WatermarkStrategy[T]
	out        op.Output[T]
	maxTS      int64
	lastWM     int64
	interval   int64
	lastEmit   int64
	lastRecord int64
	records    int64
	idle       bool
}

type sourceCtx struct {
	op.TaskInfo
	restored [][]byte
}

func (s sourceCtx) RestoredState() [][]byte { return s.restored }

func (s *sourceOp[T]) Open() error {
	r, err := s.src.CreateReader(sourceCtx{TaskInfo: s.ctx.TaskInfo(), restored: s.ctx.RestoredSourceState()})
	if err != nil {
		return fmt.Errorf("creating source reader: %w", err)
	}
	s.reader = r
	now := time.Now().UnixMilli()
	s.lastEmit, s.lastRecord = now, now
	return nil
}

func (s *sourceOp[T]) Input(int) any { return nil }

func (s *sourceOp[T]) Poll(ctx context.Context) (op.PollStatus, error) {
	before := s.records
	st, err := s.reader.Poll(ctx, s)
	if err != nil {
		return st, fmt.Errorf("source %s: %w", s.ctx.TaskInfo().OperatorName(), err)
	}
	if st == op.End {
		s.emitWatermark(op.MaxWatermark)
		return st, nil
	}
	if s.strategy.generate || s.strategy.idleness > 0 {
		now := time.Now().UnixMilli()
		if s.records != before {
			s.lastRecord = now
		}
		if s.strategy.generate && now-s.lastEmit >= s.interval {
			s.lastEmit = now
			if s.maxTS != op.MinWatermark {
				s.emitWatermark(s.maxTS - s.strategy.outOfOrderness.Milliseconds() - 1)
			}
		}
		if s.strategy.idleness > 0 && !s.idle && now-s.lastRecord >= s.strategy.idleness.Milliseconds() {
			s.MarkIdle()
		}
	}
	return st, nil
}

func (s *sourceOp[T]) emitWatermark(wm int64) {
	if wm <= s.lastWM {
		return
	}
	if s.idle {
		s.idle = false
		s.ctx.MarkIdle(false)
	}
	s.lastWM = wm
	s.ctx.Watermarks.EmitWatermark(wm)
}

func (s *sourceOp[T]) Collect(v T) {
	ts := op.NoTimestamp
	if s.strategy.assigner != nil {
		ts = s.strategy.assigner(v, op.NoTimestamp)
	}
	s.emit(v, ts)
}

func (s *sourceOp[T]) CollectWithTimestamp(v T, ts int64) {
	if s.strategy.assigner != nil {
		ts = s.strategy.assigner(v, ts)
	}
	s.emit(v, ts)
}

func (s *sourceOp[T]) emit(v T, ts int64) {
	s.records++
	if ts > s.maxTS {
		s.maxTS = ts
	}
	if s.idle {
		s.idle = false
		s.ctx.MarkIdle(false)
	}
	s.out.Collect(v, ts)
}

func (s *sourceOp[T]) EmitWatermark(wm int64) { s.emitWatermark(wm) }

func (s *sourceOp[T]) MarkIdle() {
	if !s.idle {
		s.idle = true
		s.ctx.MarkIdle(true)
	}
}

// SnapshotOperatorState implements task.OperatorStateful: the reader's position.
func (s *sourceOp[T]) SnapshotOperatorState(checkpointID int64) ([]byte, error) {
	return s.reader.Snapshot(checkpointID)
}

func (s *sourceOp[T]) Close() error {
	if s.reader != nil {
		return s.reader.Close()
	}
	return nil
}

// FromSource adds a source to the job.
func FromSource[T any](env *Environment, src op.Source[T], strategy WatermarkStrategy[T], name string) *DataStream[T] {
	if name == "" {
		name = "Source"
	}
	n := env.addNode(&node{kind: jobgraph.OperatorKind_SOURCE, typeName: "source", name: "Source: " + name,
		factory: &sourceFactory[T]{src: src, strategy: strategy}, bounded: src.Bounded()})
	return newStream[T](n)
}

// FromSlice is a bounded source over in-memory records (tests and examples). Subtask i of p
// emits the records i, i+p, i+2p, ...
func FromSlice[T any](env *Environment, records []T) *DataStream[T] {
	return FromSource[T](env, sliceSource[T](records), NoWatermarks[T](), "Collection")
}

// FromElements is FromSlice for a literal list.
func FromElements[T any](env *Environment, records ...T) *DataStream[T] {
	return FromSlice(env, records)
}

type sliceSource[T any] []T

func (s sliceSource[T]) Bounded() bool { return true }
func (s sliceSource[T]) CreateReader(ctx op.SourceContext) (op.SourceReader[T], error) {
	r := &sliceReader[T]{data: s, next: int64(ctx.Subtask()), step: int64(ctx.Parallelism())}
	for _, st := range ctx.RestoredState() {
		if len(st) == 16 && int64(binary.BigEndian.Uint64(st[8:])) == int64(ctx.Subtask()) && ctx.Parallelism() == int(binary.BigEndian.Uint64(st[:8])) {
			r.next = int64(binary.BigEndian.Uint64(st[8:]))
		}
	}
	return r, nil
}

type sliceReader[T any] struct {
	data       []T
	next, step int64
}

func (r *sliceReader[T]) Poll(_ context.Context, out op.SourceOutput[T]) (op.PollStatus, error) {
	for i := 0; i < 1024 && r.next < int64(len(r.data)); i++ {
		out.Collect(r.data[r.next])
		r.next += r.step
	}
	if r.next >= int64(len(r.data)) {
		return op.End, nil
	}
	return op.MoreAvailable, nil
}

func (r *sliceReader[T]) Snapshot(int64) ([]byte, error) {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(r.step))
	binary.BigEndian.PutUint64(b[8:], uint64(r.next))
	return b, nil
}
func (r *sliceReader[T]) Close() error { return nil }

type tsAssignOp[T any] struct {
	baseOp
	strategy WatermarkStrategy[T]
	out      op.Output[T]
	maxTS    int64
	lastWM   int64
	interval int64
}

func (a *tsAssignOp[T]) Input(int) any { return op.Input[T](a) }

func (a *tsAssignOp[T]) Open() error {
	if a.strategy.generate {
		a.schedule()
	}
	return nil
}

func (a *tsAssignOp[T]) schedule() {
	a.ctx.ScheduleAt(a.ctx.ProcessingTime()+a.interval, func(int64) {
		a.emitPeriodic()
		a.schedule()
	})
}

func (a *tsAssignOp[T]) emitPeriodic() {
	if a.maxTS == op.MinWatermark {
		return
	}
	if wm := a.maxTS - a.strategy.outOfOrderness.Milliseconds() - 1; wm > a.lastWM {
		a.lastWM = wm
		a.ctx.Watermarks.EmitWatermark(wm)
	}
}

func (a *tsAssignOp[T]) ProcessElement(v T, ts int64) {
	if a.strategy.assigner != nil {
		ts = a.strategy.assigner(v, ts)
	}
	if ts > a.maxTS {
		a.maxTS = ts
	}
	a.out.Collect(v, ts)
}

// ProcessWatermark drops upstream watermarks (this operator generates its own) except the final
// one that ends a bounded input.
func (a *tsAssignOp[T]) ProcessWatermark(wm int64) {
	if wm == op.MaxWatermark {
		a.lastWM = wm
		a.ctx.Watermarks.EmitWatermark(wm)
	}
}

// AssignTimestampsAndWatermarks assigns event-time timestamps and generates watermarks inside the
// pipeline (when the source cannot, e.g. timestamps parsed from the records). Upstream
// watermarks are replaced by the generated ones.
func AssignTimestampsAndWatermarks[T any](s *DataStream[T], strategy WatermarkStrategy[T]) *DataStream[T] {
	return addOneInput(s, "timestamps", "Timestamps/Watermarks", false, nil, func(ctx *task.OperatorContext, out op.Output[T], _ map[string]any) (task.Instance, error) {
		iv := ctx.AutoWatermarkInterval()
		if iv <= 0 {
			iv = 200
		}
		return &tsAssignOp[T]{baseOp: baseOp{ctx}, strategy: strategy, out: out, maxTS: op.MinWatermark, lastWM: op.MinWatermark, interval: iv}, nil
	})
}
