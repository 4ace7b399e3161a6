package stream

import (
	"fmt"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/runtime/task"
)

type twoInputFactory[A, B, O any] struct {
	in1    *inputType[A]
	in2    *inputType[B]
	create func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error)
}

func (f *twoInputFactory[A, B, O]) NewInstance(ctx *task.OperatorContext, main any, sides map[string]any) (task.Instance, error) {
	return f.create(ctx, outputOf[O](main), sides)
}
func (f *twoInputFactory[A, B, O]) InputType(i int) task.InputType {
	if i == 1 {
		return f.in2
	}
	return f.in1
}

func addTwoInput[A, B, O any](a *DataStream[A], b *DataStream[B], typeName string, keyed bool, in1 *inputType[A], in2 *inputType[B],
	create func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error)) *DataStream[O] {
	env := a.env
	if b.env != env {
		env.fail(fmt.Errorf("connect of streams from different environments"))
	}
	var err error
	if in1 == nil {
		if in1, err = newInputType[A](nil); err != nil {
			env.fail(err)
		}
	}
	if in2 == nil {
		if in2, err = newInputType[B](nil); err != nil {
			env.fail(err)
		}
	}
	n := env.addNode(&node{kind: jobgraph.OperatorKind_TWO_INPUT, typeName: typeName, name: "Co-" + typeName, keyed: keyed,
		factory: &twoInputFactory[A, B, O]{in1: in1, in2: in2, create: create}})
	for _, r := range a.refs {
		r.input = 0
		n.inputs = append(n.inputs, r)
	}
	for _, r := range b.refs {
		r.input = 1
		n.inputs = append(n.inputs, r)
	}
	return newStream[O](n)
}

// CoProcessFunction processes two connected streams (e.g. a data stream and a broadcast
// control stream); one function per input.
type CoProcessFunction[A, B, O any] struct {
	Element1 func(v A, ctx *Context, out Collector[O]) error
	Element2 func(v B, ctx *Context, out Collector[O]) error
}

type coProcessOp[A, B, O any] struct {
	baseOp
	fn  CoProcessFunction[A, B, O]
	c   Context
	col tsCollector[O]
}

type coIn1[A, B, O any] struct{ p *coProcessOp[A, B, O] }
type coIn2[A, B, O any] struct{ p *coProcessOp[A, B, O] }

func (i coIn1[A, B, O]) ProcessElement(v A, ts int64) {
	i.p.c.ts, i.p.col.ts = ts, ts
	if err := i.p.fn.Element1(v, &i.p.c, &i.p.col); err != nil {
		op.Fail(fmt.Errorf("co-process function (input 1): %w", err))
	}
}
func (i coIn2[A, B, O]) ProcessElement(v B, ts int64) {
	i.p.c.ts, i.p.col.ts = ts, ts
	if err := i.p.fn.Element2(v, &i.p.c, &i.p.col); err != nil {
		op.Fail(fmt.Errorf("co-process function (input 2): %w", err))
	}
}
func (p *coProcessOp[A, B, O]) Input(i int) any {
	if i == 1 {
		return op.Input[B](coIn2[A, B, O]{p})
	}
	return op.Input[A](coIn1[A, B, O]{p})
}
func (p *coProcessOp[A, B, O]) ProcessWatermark(wm int64) {
	p.c.watermark = wm
	p.ctx.Watermarks.EmitWatermark(wm)
}

// CoProcess connects two streams and processes each with its function.
func CoProcess[A, B, O any](a *DataStream[A], b *DataStream[B], fn CoProcessFunction[A, B, O]) *DataStream[O] {
	return addTwoInput(a, b, "process", false, nil, nil, func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error) {
		p := &coProcessOp[A, B, O]{baseOp: baseOp{ctx}, fn: fn, col: tsCollector[O]{out: out}}
		p.c = Context{ctx: ctx, sides: sides, watermark: op.MinWatermark}
		return p, nil
	})
}

// KeyedCoProcessFunction processes two keyed streams with the same key type; both share the
// key's state and timers.
type KeyedCoProcessFunction[K comparable, A, B, O any] interface {
	ProcessElement1(v A, ctx *KeyedContext[K], out Collector[O]) error
	ProcessElement2(v B, ctx *KeyedContext[K], out Collector[O]) error
	OnTimer(ts int64, ctx *KeyedContext[K], out Collector[O]) error
}

type keyedCoOp[K comparable, A, B, O any] struct {
	keyedBase[K]
	key1 func(A) K
	key2 func(B) K
	fn   KeyedCoProcessFunction[K, A, B, O]
	kctx KeyedContext[K]
	col  tsCollector[O]
}

type kcoIn1[K comparable, A, B, O any] struct{ p *keyedCoOp[K, A, B, O] }
type kcoIn2[K comparable, A, B, O any] struct{ p *keyedCoOp[K, A, B, O] }

func (i kcoIn1[K, A, B, O]) ProcessElement(v A, ts int64) {
	p := i.p
	p.setKey(p.key1(v))
	p.kctx.ts, p.col.ts, p.kctx.watermark = ts, ts, p.watermark
	if err := p.fn.ProcessElement1(v, &p.kctx, &p.col); err != nil {
		op.Fail(fmt.Errorf("keyed co-process function (input 1): %w", err))
	}
}
func (i kcoIn2[K, A, B, O]) ProcessElement(v B, ts int64) {
	p := i.p
	p.setKey(p.key2(v))
	p.kctx.ts, p.col.ts, p.kctx.watermark = ts, ts, p.watermark
	if err := p.fn.ProcessElement2(v, &p.kctx, &p.col); err != nil {
		op.Fail(fmt.Errorf("keyed co-process function (input 2): %w", err))
	}
}

func (p *keyedCoOp[K, A, B, O]) Input(i int) any {
	if i == 1 {
		return op.Input[B](kcoIn2[K, A, B, O]{p})
	}
	return op.Input[A](kcoIn1[K, A, B, O]{p})
}
func (p *keyedCoOp[K, A, B, O]) Open() error   { return p.open() }
func (p *keyedCoOp[K, A, B, O]) Finish() error { return nil }
func (p *keyedCoOp[K, A, B, O]) Close() error  { return nil }
func (p *keyedCoOp[K, A, B, O]) ProcessWatermark(wm int64) {
	p.advanceWatermark(wm)
	p.ctx.Watermarks.EmitWatermark(wm)
}
func (p *keyedCoOp[K, A, B, O]) timer(t state.Timer, eventTime bool) {
	p.kctx.ts, p.col.ts, p.kctx.watermark = t.Timestamp, t.Timestamp, p.watermark
	if !eventTime {
		p.col.ts = op.NoTimestamp
	}
	if err := p.fn.OnTimer(t.Timestamp, &p.kctx, &p.col); err != nil {
		op.Fail(fmt.Errorf("keyed co-process function timer: %w", err))
	}
}

// KeyedCoProcess connects two keyed streams (same key type) and processes them with shared keyed
// state and timers.
func KeyedCoProcess[K comparable, A, B, O any](a *KeyedStream[K, A], b *KeyedStream[K, B], fn KeyedCoProcessFunction[K, A, B, O]) *DataStream[O] {
	return addTwoInput(a.s, b.s, "keyedProcess", true, a.in, b.in, func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error) {
		p := &keyedCoOp[K, A, B, O]{keyedBase: newKeyedBase(ctx, a.keyCodec), key1: a.keyFn, key2: b.keyFn, fn: fn, col: tsCollector[O]{out: out}}
		p.kctx = KeyedContext[K]{Context: Context{ctx: ctx, sides: sides}, b: &p.keyedBase}
		p.onTimer = p.timer
		return p, nil
	})
}
