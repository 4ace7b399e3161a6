// Package op holds the record-level contracts shared by the public job API (package stream),
// the connectors and the runtime: sources, sinks, timestamps and watermarks. It has no
// dependencies on the rest of the runtime so connectors can import it cheaply.
package op

import (
	"context"
	"math"

	"github.com/rs/zerolog"
)

// NoTimestamp marks a record that carries no event-time timestamp.
const NoTimestamp int64 = math.MinInt64

// MaxWatermark is the watermark a bounded input emits when it ends: it fires every
// event-time timer and window.
const MaxWatermark int64 = math.MaxInt64

// MinWatermark is the initial watermark of every operator.
const MinWatermark int64 = math.MinInt64

// PollStatus tells the task what a SourceReader.Poll call found.
type PollStatus int

const (
	// MoreAvailable: call Poll again right away.
	MoreAvailable PollStatus = iota
	// NothingAvailable: no data right now; the task handles control messages and calls Poll
	// again. A reader that returns this should have waited (bounded, honouring ctx) first.
	NothingAvailable
	// End: the reader is exhausted (bounded input). Poll is not called again.
	End
)

// TaskInfo describes the parallel subtask an instance runs in.
type TaskInfo interface {
	JobID() string
	OperatorID() string
	OperatorName() string
	Subtask() int     // 0-based index of this parallel instance
	Parallelism() int // number of parallel instances
	Attempt() int     // restart attempt number, 0 for the first run
	// Config returns the job configuration value of key ("" when unset).
	Config(key string) string
	Logger() *zerolog.Logger
}

// SourceContext is handed to Source.CreateReader.
type SourceContext interface {
	TaskInfo
	// RestoredState returns the reader snapshots of every subtask of the previous run
	// (union redistribution, as Flink's union list state), nil on a fresh start. A reader picks
	// the parts it owns given Subtask()/Parallelism(), so restoring at a new parallelism works.
	RestoredState() [][]byte
}

// Source is a user-facing source definition. It is created once in the job's main and shared by
// every parallel subtask of the operator in the process; CreateReader makes the per-subtask reader.
type Source[T any] interface {
	// Bounded reports whether the source ends by itself (file, --events N) or runs until cancelled.
	Bounded() bool
	CreateReader(ctx SourceContext) (SourceReader[T], error)
}

// SourceReader reads the data of one parallel subtask. Its methods are called from the task's
// goroutine only, never concurrently, so they need no locks.
type SourceReader[T any] interface {
	// Poll emits zero or more records (a batch of up to a few thousand is ideal) into out and
	// returns. It may block while waiting for data, but must return soon after ctx is done and
	// should not block longer than ~50 ms in any case so checkpoints and cancellation stay prompt.
	Poll(ctx context.Context, out SourceOutput[T]) (PollStatus, error)
	// Snapshot returns the read position to restore from (checkpoint id given for logging).
	// It is called between Poll calls, so no record is half emitted.
	Snapshot(checkpointID int64) ([]byte, error)
	// Close releases resources; called once, also after a failure.
	Close() error
}

// SourceOutput receives a reader's records.
type SourceOutput[T any] interface {
	// Collect emits a record; its timestamp comes from the job's timestamp assigner, if any.
	Collect(v T)
	// CollectWithTimestamp emits a record with an explicit event-time timestamp (ms).
	CollectWithTimestamp(v T, ts int64)
	// EmitWatermark emits a source-generated watermark (in addition to the watermark strategy).
	EmitWatermark(wm int64)
	// MarkIdle tells downstream operators not to wait for this subtask's watermarks until it
	// emits again.
	MarkIdle()
}

// SinkContext is handed to Sink.CreateWriter.
type SinkContext interface {
	TaskInfo
}

// Sink is a user-facing sink definition; CreateWriter makes the per-subtask writer.
type Sink[T any] interface {
	CreateWriter(ctx SinkContext) (SinkWriter[T], error)
}

// SinkWriter writes the records of one parallel subtask, from the task's goroutine only.
type SinkWriter[T any] interface {
	// Write consumes one record; ts is its event-time timestamp or NoTimestamp.
	Write(v T, ts int64) error
	// Finish is called once when the input ended (bounded job): flush everything.
	Finish() error
	// Close releases resources; called once, also after a failure or cancellation.
	Close() error
}

// CommittingSinkWriter is implemented by exactly-once sinks (two-phase commit). PreCommit is
// called when a checkpoint barrier passes the sink: it closes the current transaction (for files:
// in-progress -> pending) and returns a description of it, stored in the checkpoint. Commit is
// called once the checkpoint completed, with the descriptions it stored; Abort on restore for
// transactions that were never committed.
type CommittingSinkWriter[T any] interface {
	SinkWriter[T]
	PreCommit(checkpointID int64) ([]byte, error)
	Commit(checkpointID int64, committables [][]byte) error
}
