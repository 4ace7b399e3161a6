package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/task"
)

// A record on the wire:
//
//	+------+------------------+----------------------+
//	| u8 f | [int64 LE ts]    | value (serde codec)  |
//	+------+------------------+----------------------+
//	f = 0: no timestamp, f = 1: timestamp follows
const (
	recNoTS byte = 0
	recTS   byte = 1
)

func appendRecord[T any](dst []byte, c serde.Codec[T], v T, ts int64) []byte {
	if ts == op.NoTimestamp {
		dst = append(dst, recNoTS)
	} else {
		dst = append(dst, recTS)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	}
	return c.Append(dst, v)
}

func decodeRecord[T any](src []byte, c serde.Codec[T]) (T, int64, error) {
	var zero T
	if len(src) < 1 {
		return zero, 0, fmt.Errorf("empty record")
	}
	ts := op.NoTimestamp
	body := src[1:]
	switch src[0] {
	case recNoTS:
	case recTS:
		if len(body) < 8 {
			return zero, 0, fmt.Errorf("record truncated in its timestamp (%d bytes)", len(src))
		}
		ts = int64(binary.LittleEndian.Uint64(body))
		body = body[8:]
	default:
		return zero, 0, fmt.Errorf("record has unknown flag byte %d", src[0])
	}
	v, n, err := c.Decode(body)
	if err != nil {
		return zero, 0, err
	}
	if n != len(body) {
		return zero, 0, fmt.Errorf("record has %d trailing bytes after its value", len(body)-n)
	}
	return v, ts, nil
}

// inputType implements task.InputType for an input of type T.
type inputType[T any] struct {
	codec    serde.Codec[T]
	keyBytes func(dst []byte, v T) []byte // hash partitioning (keyed inputs)
}

func newInputType[T any](keyBytes func(dst []byte, v T) []byte) (*inputType[T], error) {
	c, err := serde.For[T]()
	if err != nil {
		return nil, err
	}
	return &inputType[T]{codec: c, keyBytes: keyBytes}, nil
}

type chainedOutput[T any] struct{ in op.Input[T] }

func (o chainedOutput[T]) Collect(v T, ts int64) { o.in.ProcessElement(v, ts) }

func (it *inputType[T]) ChainedOutput(inst task.Instance, input int) any {
	return chainedOutput[T]{in: inst.Input(input).(op.Input[T])}
}

type fanout[T any] []op.Output[T]

func (f fanout[T]) Collect(v T, ts int64) {
	for _, o := range f {
		o.Collect(v, ts)
	}
}

func (it *inputType[T]) Fanout(outs []any) any {
	f := make(fanout[T], len(outs))
	for i, o := range outs {
		f[i] = o.(op.Output[T])
	}
	return f
}

// networkOutput serializes records into a record writer, choosing the subpartition by the
// edge's partitioning. The encode closure is bound once; the current record is passed through
// fields so that emitting allocates nothing.
type networkOutput[T any] struct {
	w       task.RecordEmitter
	spec    task.OutputSpec
	codec   serde.Codec[T]
	keyFn   func(dst []byte, v T) []byte
	keyBuf  []byte
	cur     T
	curTS   int64
	encode  func(dst []byte) []byte
	next    int
	numCh   int
	maxPar  int
	forward int
}

func (it *inputType[T]) NetworkOutput(w task.RecordEmitter, spec task.OutputSpec) (any, error) {
	o := &networkOutput[T]{w: w, spec: spec, codec: it.codec, keyFn: it.keyBytes, numCh: spec.NumChannels, maxPar: spec.MaxParallelism}
	o.encode = func(dst []byte) []byte { return appendRecord(dst, o.codec, o.cur, o.curTS) }
	switch spec.Partitioning {
	case jobgraph.Partitioning_HASH:
		if it.keyBytes == nil {
			return nil, fmt.Errorf("hash partitioning needs a keyed input")
		}
		if o.maxPar <= 0 {
			return nil, fmt.Errorf("hash partitioning needs the consumer's max parallelism")
		}
	case jobgraph.Partitioning_FORWARD:
		if spec.Subtask >= spec.NumChannels {
			return nil, fmt.Errorf("forward partitioning from subtask %d into %d channels", spec.Subtask, spec.NumChannels)
		}
		o.forward = spec.Subtask
	case jobgraph.Partitioning_REBALANCE:
		o.next = spec.Subtask % spec.NumChannels // spread the start like Flink's random start
	}
	return o, nil
}

func (o *networkOutput[T]) Collect(v T, ts int64) {
	o.cur, o.curTS = v, ts
	var err error
	switch o.spec.Partitioning {
	case jobgraph.Partitioning_HASH:
		o.keyBuf = o.keyFn(o.keyBuf[:0], v)
		kg := serde.KeyGroupOf(o.keyBuf, o.maxPar)
		err = o.w.Emit(serde.SubtaskForKeyGroup(o.maxPar, o.numCh, kg), o.encode)
	case jobgraph.Partitioning_FORWARD:
		err = o.w.Emit(o.forward, o.encode)
	case jobgraph.Partitioning_BROADCAST:
		err = o.w.Broadcast(o.encode)
	case jobgraph.Partitioning_GLOBAL:
		err = o.w.Emit(0, o.encode)
	default: // REBALANCE
		err = o.w.Emit(o.next, o.encode)
		o.next++
		if o.next == o.numCh {
			o.next = 0
		}
	}
	var zero T
	o.cur = zero
	if err != nil {
		op.Fail(err)
	}
}

func (it *inputType[T]) Decoder(inst task.Instance, input int) func(rec []byte) error {
	in := inst.Input(input).(op.Input[T])
	return func(rec []byte) error {
		v, ts, err := decodeRecord(rec, it.codec)
		if err != nil {
			return err
		}
		in.ProcessElement(v, ts)
		return nil
	}
}
