package stream

import (
	"fmt"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/task"
)

// DataStream is a stream of records of type T.
type DataStream[T any] struct {
	env  *Environment
	refs []edgeRef
	node *node // the producing operator when the stream is one operator's main output
}

// Collector receives a function's output records; they keep the input record's timestamp.
type Collector[T any] interface {
	Collect(v T)
}

// tsCollector forwards to an op.Output with the timestamp of the record being processed.
type tsCollector[T any] struct {
	out op.Output[T]
	ts  int64
}

func (c *tsCollector[T]) Collect(v T) { c.out.Collect(v, c.ts) }

type discard[T any] struct{}

func (discard[T]) Collect(T, int64) {}

func outputOf[T any](main any) op.Output[T] {
	if main == nil {
		return discard[T]{}
	}
	return main.(op.Output[T])
}

func newStream[T any](n *node) *DataStream[T] {
	return &DataStream[T]{env: n.env, refs: []edgeRef{{from: n}}, node: n}
}

func (s *DataStream[T]) mustNode(what string) *node {
	if s.node == nil {
		s.env.fail(fmt.Errorf("%s applies to an operator's output, not to a union or partitioned stream", what))
		return &node{}
	}
	return s.node
}

// Name sets the operator's display name.
func (s *DataStream[T]) Name(name string) *DataStream[T] { s.mustNode("Name").name = name; return s }

// UID sets the operator's stable id: state in savepoints is matched by it across job builds.
func (s *DataStream[T]) UID(uid string) *DataStream[T] { s.mustNode("UID").uid = uid; return s }

// SetParallelism sets the operator's parallelism.
func (s *DataStream[T]) SetParallelism(p int) *DataStream[T] {
	if p <= 0 {
		s.env.fail(fmt.Errorf("parallelism must be positive, got %d", p))
		return s
	}
	s.mustNode("SetParallelism").parallelism = p
	return s
}

// SetMaxParallelism sets the operator's number of key groups.
func (s *DataStream[T]) SetMaxParallelism(p int) *DataStream[T] {
	s.mustNode("SetMaxParallelism").maxParallelism = p
	return s
}

// StartNewChain starts a new operator chain at this operator.
func (s *DataStream[T]) StartNewChain() *DataStream[T] {
	s.mustNode("StartNewChain").startNewChain = true
	return s
}

// DisableChaining keeps this operator out of any chain.
func (s *DataStream[T]) DisableChaining() *DataStream[T] {
	s.mustNode("DisableChaining").noChaining = true
	return s
}

func (s *DataStream[T]) withPartitioning(p jobgraph.Partitioning) *DataStream[T] {
	refs := make([]edgeRef, len(s.refs))
	for i, r := range s.refs {
		r.part = p
		refs[i] = r
	}
	return &DataStream[T]{env: s.env, refs: refs}
}

// Rebalance distributes records round-robin over the next operator's subtasks.
func (s *DataStream[T]) Rebalance() *DataStream[T] {
	return s.withPartitioning(jobgraph.Partitioning_REBALANCE)
}

// Broadcast sends every record to every subtask of the next operator.
func (s *DataStream[T]) Broadcast() *DataStream[T] {
	return s.withPartitioning(jobgraph.Partitioning_BROADCAST)
}

// Global sends every record to subtask 0 of the next operator.
func (s *DataStream[T]) Global() *DataStream[T] {
	return s.withPartitioning(jobgraph.Partitioning_GLOBAL)
}

// Forward keeps records in the same subtask index (needs equal parallelism).
func (s *DataStream[T]) Forward() *DataStream[T] {
	return s.withPartitioning(jobgraph.Partitioning_FORWARD)
}

// Union merges streams of the same type.
func (s *DataStream[T]) Union(others ...*DataStream[T]) *DataStream[T] {
	refs := append([]edgeRef(nil), s.refs...)
	for _, o := range others {
		if o.env != s.env {
			s.env.fail(fmt.Errorf("union of streams from different environments"))
		}
		refs = append(refs, o.refs...)
	}
	return &DataStream[T]{env: s.env, refs: refs}
}

func addOneInput[IN, OUT any](s *DataStream[IN], typeName, name string, keyed bool, in *inputType[IN],
	create func(ctx *task.OperatorContext, out op.Output[OUT], sides map[string]any) (task.Instance, error)) *DataStream[OUT] {
	if in == nil {
		var err error
		in, err = newInputType[IN](nil)
		if err != nil {
			s.env.fail(fmt.Errorf("%s: %w", name, err))
			in = &inputType[IN]{}
		}
	}
	f := &oneInputFactory[IN, OUT]{in: in, create: create}
	n := s.env.addNode(&node{kind: jobgraph.OperatorKind_ONE_INPUT, typeName: typeName, name: name, keyed: keyed, factory: f})
	for _, r := range s.refs {
		r.input = 0
		n.inputs = append(n.inputs, r)
	}
	return newStream[OUT](n)
}

type oneInputFactory[IN, OUT any] struct {
	in     *inputType[IN]
	create func(ctx *task.OperatorContext, out op.Output[OUT], sides map[string]any) (task.Instance, error)
}

func (f *oneInputFactory[IN, OUT]) NewInstance(ctx *task.OperatorContext, main any, sides map[string]any) (task.Instance, error) {
	return f.create(ctx, outputOf[OUT](main), sides)
}
func (f *oneInputFactory[IN, OUT]) InputType(int) task.InputType { return f.in }

// baseOp gives operators the default lifecycle: watermarks pass through.
type baseOp struct{ ctx *task.OperatorContext }

func (b *baseOp) Open() error               { return nil }
func (b *baseOp) ProcessWatermark(wm int64) { b.ctx.Watermarks.EmitWatermark(wm) }
func (b *baseOp) Finish() error             { return nil }
func (b *baseOp) Close() error              { return nil }

type mapOp[T, U any] struct {
	baseOp
	fn  func(T) U
	out op.Output[U]
}

func (m *mapOp[T, U]) ProcessElement(v T, ts int64) { m.out.Collect(m.fn(v), ts) }
func (m *mapOp[T, U]) Input(int) any                { return op.Input[T](m) }

// Map applies fn to every record.
func Map[T, U any](s *DataStream[T], fn func(T) U) *DataStream[U] {
	return addOneInput(s, "map", "Map", false, nil, func(ctx *task.OperatorContext, out op.Output[U], _ map[string]any) (task.Instance, error) {
		return &mapOp[T, U]{baseOp: baseOp{ctx}, fn: fn, out: out}, nil
	})
}

type flatMapOp[T, U any] struct {
	baseOp
	fn  func(T, Collector[U])
	col tsCollector[U]
}

func (m *flatMapOp[T, U]) ProcessElement(v T, ts int64) { m.col.ts = ts; m.fn(v, &m.col) }
func (m *flatMapOp[T, U]) Input(int) any                { return op.Input[T](m) }

// FlatMap calls fn for every record; fn emits zero or more records.
func FlatMap[T, U any](s *DataStream[T], fn func(T, Collector[U])) *DataStream[U] {
	return addOneInput(s, "flatMap", "FlatMap", false, nil, func(ctx *task.OperatorContext, out op.Output[U], _ map[string]any) (task.Instance, error) {
		return &flatMapOp[T, U]{baseOp: baseOp{ctx}, fn: fn, col: tsCollector[U]{out: out}}, nil
	})
}

type filterOp[T any] struct {
	baseOp
	fn  func(T) bool
	out op.Output[T]
}

func (m *filterOp[T]) ProcessElement(v T, ts int64) {
	if m.fn(v) {
		m.out.Collect(v, ts)
	}
}
func (m *filterOp[T]) Input(int) any { return op.Input[T](m) }

// Filter keeps the records for which fn returns true.
func (s *DataStream[T]) Filter(fn func(T) bool) *DataStream[T] {
	return addOneInput(s, "filter", "Filter", false, nil, func(ctx *task.OperatorContext, out op.Output[T], _ map[string]any) (task.Instance, error) {
		return &filterOp[T]{baseOp: baseOp{ctx}, fn: fn, out: out}, nil
	})
}
