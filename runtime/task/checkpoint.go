package task

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
)

// FinalCheckpointID is the id of the notification that tells end-of-input tasks that the whole
// job finished, so exactly-once sinks commit what they wrote after the last checkpoint.
const FinalCheckpointID = math.MaxInt64

// DeclineNotReadyPrefix starts the reason of a decline by a task that cannot take part in a
// checkpoint (finished, not yet running): the JobManager does not count it as a failure.
const DeclineNotReadyPrefix = "not ready: "

// Acker reports checkpoint results of a task to the JobManager (the TaskManager implements it).
type Acker interface {
	AckCheckpoint(d *jobgraph.TaskDeployment, id int64, s *jobgraph.TaskStateSnapshot)
	DeclineCheckpoint(d *jobgraph.TaskDeployment, id int64, reason string)
	// EndOfInput tells that the task consumed all input and waits for the final notification.
	EndOfInput(d *jobgraph.TaskDeployment)
}

// OperatorStateful is implemented by instances with non-keyed state (source positions, sink
// committables). The bytes of every old subtask come back through
// OperatorContext.RestoredOperatorState.
type OperatorStateful interface {
	SnapshotOperatorState(checkpointID int64) ([]byte, error)
}

// CheckpointListener is implemented by instances that act when a checkpoint completed (sinks
// committing), including the final notification (FinalCheckpointID).
type CheckpointListener interface {
	NotifyCheckpointComplete(checkpointID int64) error
}

// FinalCommitter is implemented by instances that hold uncommitted output at the end of input:
// the task then waits for the final notification before it finishes.
type FinalCommitter interface {
	NeedsFinalCommit() bool
}

// barrier event: type 3, int64 id, int64 timestamp, u8 flags (bit 0: savepoint), then the
// directory the task files of this checkpoint go to (u16 length + UTF-8).
func encodeBarrier(id, ts int64, savepoint bool, dir string) []byte {
	b := make([]byte, 20, 20+len(dir))
	b[0] = evBarrier
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	binary.BigEndian.PutUint64(b[9:], uint64(ts))
	if savepoint {
		b[17] = 1
	}
	binary.BigEndian.PutUint16(b[18:], uint16(len(dir)))
	return append(b, dir...)
}

type barrier struct {
	id, ts    int64
	savepoint bool
	dir       string
}

// SetAcker sets where checkpoint results go (before Run).
func (t *Task) SetAcker(a Acker) { t.acker = a }

// TriggerCheckpoint starts checkpoint id at a source task: between two polls it snapshots its
// operators and emits the barrier.
func (t *Task) TriggerCheckpoint(id, ts int64, savepoint bool, dir string) {
	t.post(func() {
		if _, ok := t.instances[0].(SourceInstance); !ok || t.finishedInput {
			t.decline(id, DeclineNotReadyPrefix+"not a running source task")
			return
		}
		t.performCheckpoint(barrier{id: id, ts: ts, savepoint: savepoint, dir: dir}, 0)
	})
}

// NotifyCheckpoint tells the task that checkpoint id completed (or was aborted).
func (t *Task) NotifyCheckpoint(id int64, aborted bool) {
	t.post(func() {
		if aborted {
			if t.aligning != nil && t.aligning.id == id {
				t.endAlignment()
			}
			return
		}
		for _, inst := range t.instances {
			if l, ok := inst.(CheckpointListener); ok {
				if err := l.NotifyCheckpointComplete(id); err != nil {
					op.Fail(fmt.Errorf("checkpoint %d complete: %w", id, err))
				}
			}
		}
		if id == FinalCheckpointID {
			t.finalCommitted = true
		}
	})
}

// onBarrier handles a barrier from input channel ch (alignment for exactly-once).
func (t *Task) onBarrier(ch int, b barrier) {
	if t.aligning != nil && b.id < t.aligning.id {
		return // from an aborted, older checkpoint
	}
	if t.aligning != nil && b.id > t.aligning.id {
		// A newer checkpoint overtook the one being aligned: abandon the older one.
		t.decline(t.aligning.id, fmt.Sprintf("checkpoint %d overtaken by %d during alignment", t.aligning.id, b.id))
		t.endAlignment()
	}
	if t.aligning == nil {
		t.aligning = &b
		t.alignStart = time.Now()
		t.barriersSeen = map[int]bool{}
	}
	t.barriersSeen[ch] = true
	if t.exactlyOnce {
		t.reader.Block(ch)
	}
	t.maybeCompleteAlignment()
}

// maybeCompleteAlignment checkpoints once every channel that has not ended delivered the barrier.
func (t *Task) maybeCompleteAlignment() {
	if t.aligning == nil {
		return
	}
	for ch := 0; ch < t.gate.NumChannels(); ch++ {
		if !t.barriersSeen[ch] && !t.reader.Finished(ch) {
			return
		}
	}
	b := *t.aligning
	align := time.Since(t.alignStart)
	t.performCheckpoint(b, align)
	t.endAlignment()
}

func (t *Task) endAlignment() {
	t.aligning = nil
	t.barriersSeen = nil
	if t.exactlyOnce {
		t.reader.UnblockAll()
	}
}

func (t *Task) decline(id int64, reason string) {
	if t.acker != nil {
		t.acker.DeclineCheckpoint(t.d, id, reason)
	}
}

// performCheckpoint snapshots every operator of the chain (synchronously), forwards the barrier,
// then writes the keyed state files and acknowledges asynchronously.
func (t *Task) performCheckpoint(b barrier, alignment time.Duration) {
	start := time.Now()
	v := t.d.Vertex
	snap := &jobgraph.TaskStateSnapshot{AlignmentMs: alignment.Milliseconds()}
	keyed := make([][]byte, len(t.instances))
	for i, inst := range t.instances {
		o := v.Operators[i]
		st := &jobgraph.OperatorSubtaskState{OperatorId: o.Id, Subtask: t.d.Subtask, Parallelism: v.Parallelism, MaxParallelism: v.MaxParallelism}
		if s, ok := inst.(OperatorStateful); ok {
			data, err := s.SnapshotOperatorState(b.id)
			if err != nil {
				t.decline(b.id, fmt.Sprintf("snapshot of %s: %v", o.Name, err))
				t.broadcastBarrier(b)
				return
			}
			st.OperatorState = data
		}
		if be := t.contexts[i].backend; be != nil {
			data, err := be.Snapshot()
			if err != nil {
				t.decline(b.id, fmt.Sprintf("keyed state snapshot of %s: %v", o.Name, err))
				t.broadcastBarrier(b)
				return
			}
			keyed[i] = data
		}
		snap.Operators = append(snap.Operators, st)
	}
	snap.SyncMs = time.Since(start).Milliseconds()
	t.broadcastBarrier(b)
	go t.writeAndAck(b, snap, keyed)
}

func (t *Task) broadcastBarrier(b barrier) {
	ev := encodeBarrier(b.id, b.ts, b.savepoint, b.dir)
	for _, w := range t.writers {
		if err := w.BroadcastEvent(ev); err != nil {
			op.Fail(fmt.Errorf("forwarding checkpoint barrier %d: %w", b.id, err))
		}
	}
}

// writeAndAck runs off the task goroutine: it writes the keyed snapshots and acknowledges.
func (t *Task) writeAndAck(b barrier, snap *jobgraph.TaskStateSnapshot, keyed [][]byte) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i, data := range keyed {
		if data == nil {
			continue
		}
		st := snap.Operators[i]
		snap.Bytes += int64(len(data))
		if b.dir == "" {
			st.Keyed = &jobgraph.StateHandle{Inline: data, Size: int64(len(data))}
			continue
		}
		path := strings.TrimRight(b.dir, "/") + "/" + fmt.Sprintf("%s-%d.keyed", st.OperatorId, t.d.Subtask)
		fsys, p, err := fs.Get(ctx, path)
		if err != nil {
			t.decline(b.id, fmt.Sprintf("checkpoint storage %s: %v", path, err))
			return
		}
		if err := fs.WriteFileAtomic(ctx, fsys, p, data); err != nil {
			t.decline(b.id, fmt.Sprintf("writing %s: %v", path, err))
			return
		}
		st.Keyed = &jobgraph.StateHandle{Path: path, Size: int64(len(data))}
	}
	for _, st := range snap.Operators {
		snap.Bytes += int64(len(st.OperatorState))
	}
	snap.AsyncMs = time.Since(start).Milliseconds()
	if t.acker != nil {
		t.acker.AckCheckpoint(t.d, b.id, snap)
	}
}

// restore loads the deployment's restore state into the operator contexts before the operators
// are created.
func (t *Task) restoreInto(i int, ctx *OperatorContext) error {
	if t.d.RestoreCheckpointId == 0 {
		return nil
	}
	opID := t.d.Vertex.Operators[i].Id
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, st := range t.d.RestoreState {
		if st.OperatorId != opID {
			continue
		}
		ctx.restoredOp = append(ctx.restoredOp, st.OperatorState)
		if st.Keyed == nil {
			continue
		}
		if st.MaxParallelism != 0 && st.MaxParallelism != int32(ctx.MaxParallelism) {
			return fmt.Errorf("operator %s: checkpoint %d has max parallelism %d, the job %d: key groups cannot be remapped (keep pipeline.max-parallelism)",
				opID, t.d.RestoreCheckpointId, st.MaxParallelism, ctx.MaxParallelism)
		}
		// Only snapshots whose old key-group range overlaps ours hold data for us.
		if st.Parallelism > 0 {
			old := keyGroupRange(int(st.MaxParallelism), int(st.Parallelism), int(st.Subtask))
			if old.End < ctx.KeyGroups.Start || old.Start > ctx.KeyGroups.End {
				continue
			}
		}
		data := st.Keyed.Inline
		if st.Keyed.Path != "" {
			fsys, p, err := fs.Get(rctx, st.Keyed.Path)
			if err != nil {
				return fmt.Errorf("restoring %s: %w", st.Keyed.Path, err)
			}
			if data, err = fs.ReadFile(rctx, fsys, p); err != nil {
				return fmt.Errorf("restoring operator %s from checkpoint %d: reading %s: %w", opID, t.d.RestoreCheckpointId, st.Keyed.Path, err)
			}
		}
		if err := ctx.KeyedBackend().Restore(data); err != nil {
			where := st.Keyed.Path
			if where == "" {
				where = "inline state"
			}
			return fmt.Errorf("restoring operator %s from checkpoint %d (%s): %w", opID, t.d.RestoreCheckpointId, where, err)
		}
	}
	return nil
}

func keyGroupRange(maxPar, par, sub int) serde.KeyGroupRange {
	return serde.KeyGroupRangeFor(maxPar, par, sub)
}
