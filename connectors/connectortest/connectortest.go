// Package connectortest provides small in-memory fakes of the runtime contracts in package
// runtime/op (SourceContext, SinkContext, SourceOutput), so connectors and jobs can drive a
// source reader or a sink writer directly in unit tests without the engine.
package connectortest

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/op"
)

// Context is a fake op.SourceContext and op.SinkContext.
type Context struct {
	SubtaskIndex int
	NumSubtasks  int
	AttemptNum   int
	Restored     [][]byte
	Conf         map[string]string
	Log          zerolog.Logger
}

var _ op.SourceContext = (*Context)(nil)
var _ op.SinkContext = (*Context)(nil)

// NewContext returns a context for subtask of parallelism with a silent logger.
func NewContext(subtask, parallelism int) *Context {
	return &Context{SubtaskIndex: subtask, NumSubtasks: parallelism, Log: zerolog.New(io.Discard)}
}

// WithRestored sets the union of previous snapshots returned by RestoredState.
func (c *Context) WithRestored(states [][]byte) *Context {
	c.Restored = states
	return c
}

// JobID implements op.TaskInfo.
func (c *Context) JobID() string { return "test-job" }

// OperatorID implements op.TaskInfo.
func (c *Context) OperatorID() string { return "test-operator" }

// OperatorName implements op.TaskInfo.
func (c *Context) OperatorName() string { return "test" }

// Subtask implements op.TaskInfo.
func (c *Context) Subtask() int { return c.SubtaskIndex }

// Parallelism implements op.TaskInfo.
func (c *Context) Parallelism() int {
	if c.NumSubtasks <= 0 {
		return 1
	}
	return c.NumSubtasks
}

// Attempt implements op.TaskInfo.
func (c *Context) Attempt() int { return c.AttemptNum }

// Config implements op.TaskInfo.
func (c *Context) Config(key string) string { return c.Conf[key] }

// Logger implements op.TaskInfo.
func (c *Context) Logger() *zerolog.Logger { return &c.Log }

// RestoredState implements op.SourceContext.
func (c *Context) RestoredState() [][]byte { return c.Restored }

// Record is one collected record with its timestamp (op.NoTimestamp when Collect was used).
type Record[T any] struct {
	Value     T
	Timestamp int64
}

// Output is a fake op.SourceOutput that keeps everything in memory. It is safe for use from
// several goroutines.
type Output[T any] struct {
	mu         sync.Mutex
	Records    []Record[T]
	Watermarks []int64
	Idle       int
}

var _ op.SourceOutput[int] = (*Output[int])(nil)

// Collect implements op.SourceOutput.
func (o *Output[T]) Collect(v T) { o.CollectWithTimestamp(v, op.NoTimestamp) }

// CollectWithTimestamp implements op.SourceOutput.
func (o *Output[T]) CollectWithTimestamp(v T, ts int64) {
	o.mu.Lock()
	o.Records = append(o.Records, Record[T]{Value: v, Timestamp: ts})
	o.mu.Unlock()
}

// EmitWatermark implements op.SourceOutput.
func (o *Output[T]) EmitWatermark(wm int64) {
	o.mu.Lock()
	o.Watermarks = append(o.Watermarks, wm)
	o.mu.Unlock()
}

// MarkIdle implements op.SourceOutput.
func (o *Output[T]) MarkIdle() {
	o.mu.Lock()
	o.Idle++
	o.mu.Unlock()
}

// Values returns a copy of the collected values in order.
func (o *Output[T]) Values() []T {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]T, len(o.Records))
	for i, r := range o.Records {
		out[i] = r.Value
	}
	return out
}

// Len returns the number of collected records.
func (o *Output[T]) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.Records)
}

// CountingOutput is an op.SourceOutput that only counts, for benchmarks.
type CountingOutput[T any] struct {
	N          int64
	LastTS     int64
	Watermarks int64
}

// Collect implements op.SourceOutput.
func (o *CountingOutput[T]) Collect(T) { o.N++ }

// CollectWithTimestamp implements op.SourceOutput.
func (o *CountingOutput[T]) CollectWithTimestamp(_ T, ts int64) { o.N++; o.LastTS = ts }

// EmitWatermark implements op.SourceOutput.
func (o *CountingOutput[T]) EmitWatermark(int64) { o.Watermarks++ }

// MarkIdle implements op.SourceOutput.
func (o *CountingOutput[T]) MarkIdle() {}

// Drain polls r until it returns op.End, maxPolls is reached (0 = no limit) or an error occurs.
// It returns the number of Poll calls made.
func Drain[T any](ctx context.Context, r op.SourceReader[T], out op.SourceOutput[T], maxPolls int) (int, error) {
	polls := 0
	for maxPolls <= 0 || polls < maxPolls {
		st, err := r.Poll(ctx, out)
		polls++
		if err != nil {
			return polls, err
		}
		if st == op.End {
			return polls, nil
		}
		if err := ctx.Err(); err != nil {
			return polls, fmt.Errorf("drain interrupted: %w", err)
		}
	}
	return polls, nil
}

// ReadAll creates a reader of src for every subtask of parallelism p (with the given restored
// state), drains each to the end, closes them and returns the records per subtask.
func ReadAll[T any](ctx context.Context, src op.Source[T], p int, restored [][]byte) ([][]Record[T], error) {
	res := make([][]Record[T], p)
	for k := 0; k < p; k++ {
		r, err := src.CreateReader(NewContext(k, p).WithRestored(restored))
		if err != nil {
			return nil, err
		}
		out := &Output[T]{}
		if _, err := Drain[T](ctx, r, out, 0); err != nil {
			_ = r.Close()
			return nil, err
		}
		if err := r.Close(); err != nil {
			return nil, err
		}
		res[k] = out.Records
	}
	return res, nil
}
