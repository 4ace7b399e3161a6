package stream

import (
	"encoding/binary"
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
	sink       op.Sink[T]
	writer     op.SinkWriter[T]
	committer  op.CommittingSinkWriter[T]
	pending    []pendingCommit // pre-committed, waiting for their checkpoint to complete
	finalReady bool
}

type pendingCommit struct {
	id   int64
	data []byte
}

func (s *sinkOp[T]) Open() error {
	w, err := s.sink.CreateWriter(s.ctx.TaskInfo())
	if err != nil {
		return fmt.Errorf("creating sink writer: %w", err)
	}
	s.writer = w
	s.committer, _ = w.(op.CommittingSinkWriter[T])
	if s.committer == nil {
		return nil
	}
	// The checkpoint we restore from completed, but its commit may not have happened before the
	// failure: commit its committables again (commits are idempotent). With a new parallelism,
	// old subtask j's committables go to new subtask j mod p.
	info := s.ctx.TaskInfo()
	var mine [][]byte
	for j, c := range s.ctx.RestoredOperatorState() {
		if len(c) > 0 && j%info.Parallelism() == info.Subtask() {
			list, err := decodeCommittables(c)
			if err != nil {
				return fmt.Errorf("restored sink state of checkpoint %d: %w", s.ctx.RestoredCheckpointID(), err)
			}
			mine = append(mine, list...)
		}
	}
	if len(mine) > 0 {
		if err := s.committer.Commit(s.ctx.RestoredCheckpointID(), mine); err != nil {
			return fmt.Errorf("committing the output of restored checkpoint %d: %w", s.ctx.RestoredCheckpointID(), err)
		}
	}
	return nil
}

// SnapshotOperatorState implements task.OperatorStateful: pre-commit (two-phase commit). The
// state holds every committable not known to be committed yet — also those of earlier
// checkpoints whose completion notification has not arrived — so a restore commits them all.
func (s *sinkOp[T]) SnapshotOperatorState(checkpointID int64) ([]byte, error) {
	if s.committer == nil {
		return nil, nil
	}
	data, err := s.committer.PreCommit(checkpointID)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		s.pending = append(s.pending, pendingCommit{checkpointID, data})
	}
	if len(s.pending) == 0 {
		return nil, nil
	}
	list := make([][]byte, len(s.pending))
	for i, p := range s.pending {
		list[i] = p.data
	}
	return encodeCommittables(list), nil
}

// Sink state: uvarint count, then count x (uvarint length, committable bytes).
func encodeCommittables(list [][]byte) []byte {
	out := binary.AppendUvarint(nil, uint64(len(list)))
	for _, c := range list {
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

func decodeCommittables(b []byte) ([][]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("malformed committable list")
	}
	b = b[k:]
	out := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("malformed committable %d", i)
		}
		out = append(out, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the committables", len(b))
	}
	return out, nil
}

// NotifyCheckpointComplete implements task.CheckpointListener: commit what checkpoints up to id
// pre-committed.
func (s *sinkOp[T]) NotifyCheckpointComplete(id int64) error {
	if s.committer == nil {
		return nil
	}
	var rest []pendingCommit
	for _, p := range s.pending {
		if p.id > id {
			rest = append(rest, p)
			continue
		}
		if err := s.committer.Commit(p.id, [][]byte{p.data}); err != nil {
			return err
		}
	}
	s.pending = rest
	return nil
}

// NeedsFinalCommit implements task.FinalCommitter.
func (s *sinkOp[T]) NeedsFinalCommit() bool { return len(s.pending) > 0 }
func (s *sinkOp[T]) ProcessElement(v T, ts int64) {
	if err := s.writer.Write(v, ts); err != nil {
		op.Fail(fmt.Errorf("sink %s: %w", s.ctx.TaskInfo().OperatorName(), err))
	}
}
func (s *sinkOp[T]) Input(int) any          { return op.Input[T](s) }
func (s *sinkOp[T]) ProcessWatermark(int64) {}
func (s *sinkOp[T]) Finish() error {
	if err := s.writer.Finish(); err != nil {
		return err
	}
	if s.committer != nil {
		// Everything after the last checkpoint: committed when the whole job finished.
		_, err := s.SnapshotOperatorState(task.FinalCheckpointID)
		return err
	}
	return nil
}
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
