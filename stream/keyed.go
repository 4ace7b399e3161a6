package stream

import (
	"fmt"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/runtime/task"
)

// KeyedStream is a stream partitioned by key K: all records of a key go to one subtask, where
// keyed state and timers are scoped to the key.
type KeyedStream[K comparable, T any] struct {
	s        *DataStream[T]
	keyFn    func(T) K
	keyCodec serde.Codec[K]
	in       *inputType[T]
}

// KeyBy partitions s by the key fn extracts. K needs a serde codec (primitives, strings, plain
// structs such as serde.Tuple2 are derived automatically).
func KeyBy[T any, K comparable](s *DataStream[T], fn func(T) K) *KeyedStream[K, T] {
	kc, err := serde.For[K]()
	if err != nil {
		s.env.fail(fmt.Errorf("KeyBy: key type: %w", err))
	}
	ks := &KeyedStream[K, T]{s: s.withPartitioning(jobgraph.Partitioning_HASH), keyFn: fn, keyCodec: kc}
	in, err := newInputType[T](func(dst []byte, v T) []byte { return kc.Append(dst, fn(v)) })
	if err != nil {
		s.env.fail(fmt.Errorf("KeyBy: record type: %w", err))
		in = &inputType[T]{}
	}
	ks.in = in
	return ks
}

// keyedBase is the common part of keyed operators: current key, state, timers.
type keyedBase[K comparable] struct {
	ctx       *task.OperatorContext
	keyCodec  serde.Codec[K]
	keyBuf    []byte
	backend   *state.KeyedBackend
	curKey    K
	watermark int64
	evTimers  *state.TimerQueue
	ptTimers  *state.TimerQueue
	ptNext    int64 // earliest scheduled processing-time wake-up
	states    map[stateKey]any
	onTimer   func(t state.Timer, eventTime bool)
}

func newKeyedBase[K comparable](ctx *task.OperatorContext, kc serde.Codec[K]) keyedBase[K] {
	b := ctx.KeyedBackend()
	b.SetKeyLength(func(composite []byte) int {
		n, err := serde.EncodedLen(kc, composite) // no decoding, no allocation
		if err != nil {
			return -1
		}
		return n
	})
	return keyedBase[K]{ctx: ctx, keyCodec: kc, backend: b, watermark: op.MinWatermark,
		evTimers: b.EventTimers, ptTimers: b.ProcTimers, states: map[stateKey]any{}}
}

// open schedules the processing-time timers restored from a checkpoint.
func (b *keyedBase[K]) open() error {
	if t, ok := b.ptTimers.Peek(); ok {
		b.ptNext = t.Timestamp
		b.ctx.ScheduleAt(t.Timestamp, b.fireProcTimers)
	}
	return nil
}

func (b *keyedBase[K]) setKey(k K) {
	b.curKey = k
	b.keyBuf = b.keyCodec.Append(b.keyBuf[:0], k)
	b.backend.SetCurrentKey(b.keyBuf)
}

func (b *keyedBase[K]) setKeyBytes(kb string) {
	k, _, err := b.keyCodec.Decode([]byte(kb))
	if err != nil {
		op.Fail(fmt.Errorf("decoding the key of a timer: %w", err))
	}
	b.curKey = k
	b.keyBuf = append(b.keyBuf[:0], kb...)
	b.backend.SetCurrentKey(b.keyBuf)
}

// advanceWatermark records wm, then fires the due event-time timers (as Flink's
// HeapInternalTimerService: OnTimer sees the watermark that fired it).
func (b *keyedBase[K]) advanceWatermark(wm int64) {
	b.watermark = wm
	for {
		t, ok := b.evTimers.PopDue(wm)
		if !ok {
			break
		}
		b.setKeyBytes(t.Key)
		b.onTimer(t, true)
	}
}

func (b *keyedBase[K]) registerEventTimer(ts int64, ns []byte) {
	b.evTimers.Add(state.Timer{Timestamp: ts, Key: string(b.keyBuf), Namespace: string(ns)})
}

func (b *keyedBase[K]) deleteEventTimer(ts int64, ns []byte) {
	b.evTimers.Remove(state.Timer{Timestamp: ts, Key: string(b.keyBuf), Namespace: string(ns)})
}

func (b *keyedBase[K]) registerProcTimer(ts int64, ns []byte) {
	b.ptTimers.Add(state.Timer{Timestamp: ts, Key: string(b.keyBuf), Namespace: string(ns)})
	if b.ptNext == 0 || ts < b.ptNext {
		b.ptNext = ts
		b.ctx.ScheduleAt(ts, b.fireProcTimers)
	}
}

func (b *keyedBase[K]) deleteProcTimer(ts int64, ns []byte) {
	b.ptTimers.Remove(state.Timer{Timestamp: ts, Key: string(b.keyBuf), Namespace: string(ns)})
}

func (b *keyedBase[K]) fireProcTimers(now int64) {
	b.ptNext = 0
	for {
		t, ok := b.ptTimers.PopDue(now)
		if !ok {
			break
		}
		b.setKeyBytes(t.Key)
		b.onTimer(t, false)
	}
	if t, ok := b.ptTimers.Peek(); ok {
		b.ptNext = t.Timestamp
		b.ctx.ScheduleAt(t.Timestamp, b.fireProcTimers)
	}
}

// TimerService registers timers for the current key.
type TimerService interface {
	CurrentWatermark() int64
	CurrentProcessingTime() int64
	RegisterEventTimeTimer(ts int64)
	DeleteEventTimeTimer(ts int64)
	RegisterProcessingTimeTimer(ts int64)
	DeleteProcessingTimeTimer(ts int64)
}

type timerService[K comparable] struct{ b *keyedBase[K] }

func (t timerService[K]) CurrentWatermark() int64              { return t.b.watermark }
func (t timerService[K]) CurrentProcessingTime() int64         { return t.b.ctx.ProcessingTime() }
func (t timerService[K]) RegisterEventTimeTimer(ts int64)      { t.b.registerEventTimer(ts, nil) }
func (t timerService[K]) DeleteEventTimeTimer(ts int64)        { t.b.deleteEventTimer(ts, nil) }
func (t timerService[K]) RegisterProcessingTimeTimer(ts int64) { t.b.registerProcTimer(ts, nil) }
func (t timerService[K]) DeleteProcessingTimeTimer(ts int64)   { t.b.deleteProcTimer(ts, nil) }

// KeyedContext is handed to keyed process functions with every record and timer.
type KeyedContext[K comparable] struct {
	Context
	b *keyedBase[K]
}

// CurrentKey returns the key of the record or timer being processed.
func (c *KeyedContext[K]) CurrentKey() K { return c.b.curKey }

// TimerService registers and deletes timers of the current key.
func (c *KeyedContext[K]) TimerService() TimerService { return timerService[K]{c.b} }

func (c *KeyedContext[K]) stateBase() stateHost { return c.b }

// KeyedProcessFunction processes the records of a keyed stream, with keyed state and timers.
// The function value is shared by the operator's subtasks in a process: keep per-key data in
// state (GetValueState, ...), not in fields.
type KeyedProcessFunction[K comparable, T, O any] interface {
	ProcessElement(v T, ctx *KeyedContext[K], out Collector[O]) error
	// OnTimer is called when a timer of the current key fires; ctx.Timestamp() is its time.
	OnTimer(ts int64, ctx *KeyedContext[K], out Collector[O]) error
}

// ProcessFunc adapts plain functions to a KeyedProcessFunction (onTimer may be nil).
type ProcessFunc[K comparable, T, O any] struct {
	Element func(v T, ctx *KeyedContext[K], out Collector[O]) error
	Timer   func(ts int64, ctx *KeyedContext[K], out Collector[O]) error
}

func (f ProcessFunc[K, T, O]) ProcessElement(v T, ctx *KeyedContext[K], out Collector[O]) error {
	return f.Element(v, ctx, out)
}
func (f ProcessFunc[K, T, O]) OnTimer(ts int64, ctx *KeyedContext[K], out Collector[O]) error {
	if f.Timer == nil {
		return nil
	}
	return f.Timer(ts, ctx, out)
}

type keyedProcessOp[K comparable, T, O any] struct {
	keyedBase[K]
	keyFn func(T) K
	fn    KeyedProcessFunction[K, T, O]
	kctx  KeyedContext[K]
	col   tsCollector[O]
	name  string
}

func (p *keyedProcessOp[K, T, O]) Open() error   { return p.open() }
func (p *keyedProcessOp[K, T, O]) Finish() error { return nil }
func (p *keyedProcessOp[K, T, O]) Close() error  { return nil }
func (p *keyedProcessOp[K, T, O]) Input(int) any { return op.Input[T](p) }

func (p *keyedProcessOp[K, T, O]) ProcessElement(v T, ts int64) {
	p.setKey(p.keyFn(v))
	p.kctx.ts, p.col.ts = ts, ts
	p.kctx.watermark = p.watermark
	if err := p.fn.ProcessElement(v, &p.kctx, &p.col); err != nil {
		op.Fail(fmt.Errorf("%s: %w", p.name, err))
	}
}

func (p *keyedProcessOp[K, T, O]) ProcessWatermark(wm int64) {
	p.advanceWatermark(wm)
	p.ctx.Watermarks.EmitWatermark(wm)
}

func (p *keyedProcessOp[K, T, O]) timer(t state.Timer, eventTime bool) {
	p.kctx.ts, p.col.ts = t.Timestamp, t.Timestamp
	if !eventTime {
		p.col.ts = op.NoTimestamp
	}
	p.kctx.watermark = p.watermark
	if err := p.fn.OnTimer(t.Timestamp, &p.kctx, &p.col); err != nil {
		op.Fail(fmt.Errorf("%s: timer: %w", p.name, err))
	}
}

// KeyedProcess applies a keyed process function to a keyed stream.
func KeyedProcess[K comparable, T, O any](ks *KeyedStream[K, T], fn KeyedProcessFunction[K, T, O]) *DataStream[O] {
	return addOneInput(ks.s, "keyedProcess", "KeyedProcess", true, ks.in, func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error) {
		p := &keyedProcessOp[K, T, O]{keyedBase: newKeyedBase(ctx, ks.keyCodec), keyFn: ks.keyFn, fn: fn, col: tsCollector[O]{out: out}, name: ctx.TaskInfo().OperatorName()}
		p.kctx = KeyedContext[K]{Context: Context{ctx: ctx, sides: sides}, b: &p.keyedBase}
		p.onTimer = p.timer
		return p, nil
	})
}

type reduceOp[K comparable, T any] struct {
	keyedBase[K]
	keyFn func(T) K
	fn    func(a, b T) T
	table *state.Table[T]
	out   op.Output[T]
}

func (p *reduceOp[K, T]) Open() error   { return p.open() }
func (p *reduceOp[K, T]) Finish() error { return nil }
func (p *reduceOp[K, T]) Close() error  { return nil }
func (p *reduceOp[K, T]) Input(int) any { return op.Input[T](p) }
func (p *reduceOp[K, T]) ProcessWatermark(wm int64) {
	p.watermark = wm
	p.ctx.Watermarks.EmitWatermark(wm)
}
func (p *reduceOp[K, T]) ProcessElement(v T, ts int64) {
	p.setKey(p.keyFn(v))
	if acc, ok := p.table.Get(nil); ok {
		v = p.fn(acc, v)
	}
	p.table.Put(nil, v)
	p.out.Collect(v, ts)
}

// Reduce emits the running reduction of each key's records (a rolling aggregate).
func (ks *KeyedStream[K, T]) Reduce(fn func(a, b T) T) *DataStream[T] {
	vc, err := serde.For[T]()
	if err != nil {
		ks.s.env.fail(fmt.Errorf("Reduce: %w", err))
	}
	return addOneInput(ks.s, "reduce", "Reduce", true, ks.in, func(ctx *task.OperatorContext, out op.Output[T], _ map[string]any) (task.Instance, error) {
		p := &reduceOp[K, T]{keyedBase: newKeyedBase(ctx, ks.keyCodec), keyFn: ks.keyFn, fn: fn, out: out}
		t, err := state.GetTable(p.backend, "reduce", vc)
		if err != nil {
			return nil, err
		}
		p.table = t
		return p, nil
	})
}
