// Package task runs one parallel subtask of a vertex: it instantiates the chain of operators
// from the job's in-memory factories, wires chained calls and network inputs/outputs, and runs
// the mailbox loop (records, watermarks, timers, control messages) until the input ends, the
// task is cancelled or it fails.
package task

import (
	"context"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// Factory is implemented by every typed node of the job API. It knows the node's record types.
type Factory interface {
	// NewInstance creates the operator instance of one subtask. main is the op.Output[OUT] of the
	// main output (nil for sinks or when nothing consumes it); sides maps side-output tag ids
	// to their op.Output[X].
	NewInstance(ctx *OperatorContext, main any, sides map[string]any) (Instance, error)
	// InputType returns the typed helpers for input i (0, or 1 of a two-input operator).
	InputType(i int) InputType
}

// Instance is one operator instance.
type Instance interface {
	op.Operator
	// Input returns the op.Input[IN_i] of input i.
	Input(i int) any
}

// SourceInstance is the instance of a source operator: the task polls it.
type SourceInstance interface {
	Instance
	Poll(ctx context.Context) (op.PollStatus, error)
}

// RecordEmitter is the producer side of the data plane (network.RecordWriter implements it).
type RecordEmitter interface {
	Emit(sub int, encode func(dst []byte) []byte) error
	Broadcast(encode func(dst []byte) []byte) error
}

// OutputSpec describes a network output: how records are spread over the consumer subtasks.
type OutputSpec struct {
	Partitioning   jobgraph.Partitioning
	NumChannels    int // consumer parallelism
	Subtask        int // producer subtask index (forward partitioning)
	MaxParallelism int // of the consumer (hash partitioning)
}

// InputType builds the typed plumbing around one input of an operator (all producers of that
// input emit the same type IN).
type InputType interface {
	// ChainedOutput returns an op.Output[IN] calling input `input` of inst directly.
	ChainedOutput(inst Instance, input int) any
	// NetworkOutput returns an op.Output[IN] serializing records into w.
	NetworkOutput(w RecordEmitter, spec OutputSpec) (any, error)
	// Fanout returns an op.Output[IN] forwarding every record to each of outs.
	Fanout(outs []any) any
	// Decoder returns a function decoding one network record and calling input `input` of inst.
	Decoder(inst Instance, input int) func(rec []byte) error
}

// OperatorContext is what an operator instance is created with.
type OperatorContext struct {
	info           *taskInfo
	opID, opName   string
	Watermarks     op.WatermarkForwarder
	MaxParallelism int
	KeyGroups      serde.KeyGroupRange
	task           *Task
	backend        *state.KeyedBackend
	restoredOp     [][]byte
}

// TaskInfo returns the subtask description for user functions and connectors.
func (c *OperatorContext) TaskInfo() op.TaskInfo {
	return &opTaskInfo{taskInfo: c.info, opID: c.opID, opName: c.opName}
}

// KeyedBackend returns the keyed state backend of this operator (created on first use).
func (c *OperatorContext) KeyedBackend() *state.KeyedBackend {
	if c.backend == nil {
		c.backend = state.NewKeyedBackend(c.MaxParallelism, c.KeyGroups)
	}
	return c.backend
}

// ProcessingTime returns the current processing time in epoch milliseconds.
func (c *OperatorContext) ProcessingTime() int64 { return c.task.clock() }

// ScheduleAt runs fn on the task goroutine at (or shortly after) processing time ts (epoch ms).
// fn receives the time it fired at.
func (c *OperatorContext) ScheduleAt(ts int64, fn func(now int64)) { c.task.scheduleAt(ts, fn) }

// AutoWatermarkInterval is the period of watermark emission by sources
// (pipeline.auto-watermark-interval).
func (c *OperatorContext) AutoWatermarkInterval() int64 { return c.task.autoWatermarkMs }

// RestoredSourceState returns the source reader snapshots to restore from (nil on a fresh start).
func (c *OperatorContext) RestoredSourceState() [][]byte { return c.restoredOp }

// RestoredOperatorState returns the operator state of every subtask of the checkpoint the task
// restores from (nil on a fresh start), e.g. sink committables to commit again.
func (c *OperatorContext) RestoredOperatorState() [][]byte { return c.restoredOp }

// RestoredCheckpointID is the id of the checkpoint the task restored from (0: fresh start).
func (c *OperatorContext) RestoredCheckpointID() int64 { return c.task.d.RestoreCheckpointId }

// MarkIdle tells downstream tasks that this (source) subtask is idle (true) or active again.
func (c *OperatorContext) MarkIdle(idle bool) { c.task.forwardStatus(idle) }
