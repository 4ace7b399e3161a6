package sinks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/flink-go/flink-go/runtime/op"
)

// Record is a collected value with its timestamp (op.NoTimestamp if it had none) and the
// subtask that wrote it.
type Record[T any] struct {
	Value     T
	Timestamp int64
	Subtask   int
}

// store is the process-wide, named result list of a collecting sink.
type store[T any] struct {
	mu      sync.Mutex
	records []Record[T]
	nextTxn uint64
	txns    map[uint64][]Record[T] // pre-committed, not yet committed
}

var (
	registryMu sync.Mutex
	registry   = map[string]any{}
)

// ErrUnknownCollection is returned for a name no collecting sink registered.
var ErrUnknownCollection = errors.New("no collecting sink with this name")

func getStore[T any](name string, create bool) (*store[T], error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if s, ok := registry[name]; ok {
		st, ok := s.(*store[T])
		if !ok {
			return nil, fmt.Errorf("collecting sink %q holds %T, not records of the requested type", name, s)
		}
		return st, nil
	}
	if !create {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCollection, name)
	}
	st := &store[T]{txns: map[uint64][]Record[T]{}}
	registry[name] = st
	return st, nil
}

// CollectSink keeps every record in memory under its name, for tests that run a job in process
// and then read the results with Results. Writers of all subtasks append to the same list.
//
// A transactional CollectSink stages records per writer and publishes them only when the
// checkpoint that pre-committed them is committed, the way an exactly-once sink behaves:
// records written after the last completed checkpoint of a failed run never appear.
type CollectSink[T any] struct {
	name          string
	transactional bool
	st            *store[T]
}

// Collect returns a collecting sink named name, creating (or reusing) its result list.
func Collect[T any](name string) (*CollectSink[T], error) {
	st, err := getStore[T](name, true)
	if err != nil {
		return nil, err
	}
	return &CollectSink[T]{name: name, st: st}, nil
}

// CollectTransactional returns a collecting sink with two-phase commit (see CollectSink).
func CollectTransactional[T any](name string) (*CollectSink[T], error) {
	s, err := Collect[T](name)
	if err != nil {
		return nil, err
	}
	s.transactional = true
	return s, nil
}

// Name returns the sink's collection name.
func (s *CollectSink[T]) Name() string { return s.name }

// Results returns a copy of the values collected under name, in arrival order.
func Results[T any](name string) ([]T, error) {
	recs, err := ResultRecords[T](name)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(recs))
	for i, r := range recs {
		out[i] = r.Value
	}
	return out, nil
}

// ResultRecords returns a copy of the records (with timestamps and subtasks) collected under name.
func ResultRecords[T any](name string) ([]Record[T], error) {
	st, err := getStore[T](name, false)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]Record[T](nil), st.records...), nil
}

// Reset forgets the collection name (its sinks keep writing to the old list).
func Reset(name string) {
	registryMu.Lock()
	delete(registry, name)
	registryMu.Unlock()
}

// CreateWriter implements op.Sink.
func (s *CollectSink[T]) CreateWriter(ctx op.SinkContext) (op.SinkWriter[T], error) {
	return &collectWriter[T]{sink: s, subtask: ctx.Subtask()}, nil
}

type collectWriter[T any] struct {
	sink    *CollectSink[T]
	subtask int
	staged  []Record[T]
}

var _ op.CommittingSinkWriter[int] = (*collectWriter[int])(nil)

func (w *collectWriter[T]) Write(v T, ts int64) error {
	r := Record[T]{Value: v, Timestamp: ts, Subtask: w.subtask}
	if w.sink.transactional {
		w.staged = append(w.staged, r)
		return nil
	}
	st := w.sink.st
	st.mu.Lock()
	st.records = append(st.records, r)
	st.mu.Unlock()
	return nil
}

func (w *collectWriter[T]) Finish() error { return nil }

// Close drops staged records that were never pre-committed (a failed or cancelled run).
func (w *collectWriter[T]) Close() error {
	w.staged = nil
	return nil
}

// PreCommit moves the staged records into a pending transaction and returns its id.
func (w *collectWriter[T]) PreCommit(int64) ([]byte, error) {
	if !w.sink.transactional || len(w.staged) == 0 {
		return nil, nil
	}
	st := w.sink.st
	st.mu.Lock()
	st.nextTxn++
	id := st.nextTxn
	st.txns[id] = w.staged
	st.mu.Unlock()
	w.staged = nil
	return binary.AppendUvarint(nil, id), nil
}

// Commit publishes pending transactions; committing one twice is a no-op.
func (w *collectWriter[T]) Commit(checkpointID int64, committables [][]byte) error {
	st := w.sink.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, c := range committables {
		if len(c) == 0 {
			continue
		}
		id, n := binary.Uvarint(c)
		if n != len(c) {
			return fmt.Errorf("collect sink %q: checkpoint %d: committable is not a collect-sink transaction id", w.sink.name, checkpointID)
		}
		if recs, ok := st.txns[id]; ok {
			st.records = append(st.records, recs...)
			delete(st.txns, id)
		}
	}
	return nil
}
