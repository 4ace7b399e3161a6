package stream

import (
	"fmt"
	"sync/atomic"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/task"
)

// OutputTag names a side output of type X.
type OutputTag[X any] struct{ id string }

var tagSeq atomic.Int64

// NewOutputTag creates a side-output tag; id must be unique in the job.
func NewOutputTag[X any](id string) OutputTag[X] {
	if id == "" {
		id = fmt.Sprintf("side-%d", tagSeq.Add(1))
	}
	return OutputTag[X]{id: id}
}

// ID returns the tag's id.
func (t OutputTag[X]) ID() string { return t.id }

// Context is handed to process functions with every record and timer.
type Context struct {
	ctx       *task.OperatorContext
	ts        int64
	watermark int64
	sides     map[string]any
}

// Timestamp returns the event-time timestamp of the current record (op.NoTimestamp if none), or
// the firing time of the current timer.
func (c *Context) Timestamp() int64 { return c.ts }

// CurrentWatermark returns the operator's current event-time watermark.
func (c *Context) CurrentWatermark() int64 { return c.watermark }

// ProcessingTime returns the current processing time (epoch ms).
func (c *Context) ProcessingTime() int64 { return c.ctx.ProcessingTime() }

// TaskInfo describes the subtask.
func (c *Context) TaskInfo() op.TaskInfo { return c.ctx.TaskInfo() }

// SideOutput emits v to the side output named by tag (with the current timestamp).
func SideOutput[X any](c *Context, tag OutputTag[X], v X) {
	o, ok := c.sides[tag.id]
	if !ok {
		return // nobody consumes this side output
	}
	o.(op.Output[X]).Collect(v, c.ts)
}

// ProcessFunction is a low-level function on a non-keyed stream.
type ProcessFunction[T, O any] func(v T, ctx *Context, out Collector[O]) error

type processOp[T, O any] struct {
	baseOp
	fn   ProcessFunction[T, O]
	c    Context
	col  tsCollector[O]
	info op.TaskInfo
}

func (p *processOp[T, O]) ProcessElement(v T, ts int64) {
	p.c.ts, p.col.ts = ts, ts
	if err := p.fn(v, &p.c, &p.col); err != nil {
		op.Fail(fmt.Errorf("process function of %s: %w", p.info.OperatorName(), err))
	}
}
func (p *processOp[T, O]) Input(int) any { return op.Input[T](p) }
func (p *processOp[T, O]) ProcessWatermark(wm int64) {
	p.c.watermark = wm
	p.ctx.Watermarks.EmitWatermark(wm)
}

// Process applies a process function to every record; it can emit to side outputs.
func Process[T, O any](s *DataStream[T], fn ProcessFunction[T, O]) *DataStream[O] {
	return addOneInput(s, "process", "Process", false, nil, func(ctx *task.OperatorContext, out op.Output[O], sides map[string]any) (task.Instance, error) {
		p := &processOp[T, O]{baseOp: baseOp{ctx}, fn: fn, col: tsCollector[O]{out: out}, info: ctx.TaskInfo()}
		p.c = Context{ctx: ctx, sides: sides, watermark: op.MinWatermark}
		return p, nil
	})
}

// GetSideOutput returns the stream of the records the operator producing s emitted with tag.
func GetSideOutput[T, X any](s *DataStream[T], tag OutputTag[X]) *DataStream[X] {
	n := s.mustNode("GetSideOutput")
	// A side output is consumed through an identity operator chained to the producer.
	in, err := newInputType[X](nil)
	if err != nil {
		s.env.fail(fmt.Errorf("side output %s: %w", tag.id, err))
		in = &inputType[X]{}
	}
	f := &oneInputFactory[X, X]{in: in, create: func(ctx *task.OperatorContext, out op.Output[X], _ map[string]any) (task.Instance, error) {
		return &mapOp[X, X]{baseOp: baseOp{ctx}, fn: func(x X) X { return x }, out: out}, nil
	}}
	side := s.env.addNode(&node{kind: jobgraph.OperatorKind_ONE_INPUT, typeName: "side-output:" + tag.id, name: "SideOutput(" + tag.id + ")", factory: f, parallelism: n.parallelism})
	side.kind = jobgraph.OperatorKind_ONE_INPUT
	side.inputs = []edgeRef{{from: n, side: tag.id}}
	return newStream[X](side)
}
