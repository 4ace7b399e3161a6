package stream

import (
	"fmt"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/task"
)

// SinkHandle configures a sink operator.
type SinkHandle struct{ n *node }

// Name sets the sink's display name.
func (h *SinkHandle) Name(name string) *SinkHandle { h.n.name = "Sink: " + name; return h }

// UID sets the sink's stable id.
func (h *SinkHandle) UID(uid string) *SinkHandle { h.n.uid = uid; return h }

// SetParallelism sets the sink's parallelism.
func (h *SinkHandle) SetParallelism(p int) *SinkHandle { h.n.parallelism = p; return h }

type sinkOp[T any] struct {
	baseOp
	sink   op.Sink[T]
	writer op.SinkWriter[T]
}

func (s *sinkOp[T]) Open() error {
	w, err := s.sink.CreateWriter(s.ctx.TaskInfo())
	if err != nil {
		return fmt.Errorf("creating sink writer: %w", err)
	}
	s.writer = w
	return nil
}
func (s *sinkOp[T]) ProcessElement(v T, ts int64) {
	if err := s.writer.Write(v, ts); err != nil {
		op.Fail(fmt.Errorf("sink %s: %w", s.ctx.TaskInfo().OperatorName(), err))
	}
}
func (s *sinkOp[T]) Input(int) any          { return op.Input[T](s) }
func (s *sinkOp[T]) ProcessWatermark(int64) {}
func (s *sinkOp[T]) Finish() error          { return s.writer.Finish() }
func (s *sinkOp[T]) Close() error {
	if s.writer == nil {
		return nil
	}
	return s.writer.Close()
}

// SinkTo writes the stream to sink.
func (s *DataStream[T]) SinkTo(sink op.Sink[T], name string) *SinkHandle {
	if name == "" {
		name = "Sink"
	}
	out := addOneInput(s, "sink", "Sink: "+name, false, nil, func(ctx *task.OperatorContext, _ op.Output[struct{}], _ map[string]any) (task.Instance, error) {
		return &sinkOp[T]{baseOp: baseOp{ctx}, sink: sink}, nil
	})
	out.node.kind = jobgraph.OperatorKind_SINK
	return &SinkHandle{n: out.node}
}
