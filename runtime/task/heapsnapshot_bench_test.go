package task

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// nopInstance is an operator without behaviour: the checkpoint tests drive its backend directly.
type nopInstance struct{}

func (nopInstance) Open() error            { return nil }
func (nopInstance) ProcessWatermark(int64) {}
func (nopInstance) Finish() error          { return nil }
func (nopInstance) Close() error           { return nil }
func (nopInstance) Input(int) any          { return nil }

// recordingAcker records acknowledgements and declines; wait returns them with a deadline.
type recordingAcker struct {
	mu       sync.Mutex
	acks     map[int64]*jobgraph.TaskStateSnapshot
	declines map[int64]string
	changed  chan struct{}
}

func newRecordingAcker() *recordingAcker {
	return &recordingAcker{acks: map[int64]*jobgraph.TaskStateSnapshot{}, declines: map[int64]string{}, changed: make(chan struct{}, 64)}
}

func (a *recordingAcker) AckCheckpoint(_ *jobgraph.TaskDeployment, id int64, s *jobgraph.TaskStateSnapshot) {
	a.mu.Lock()
	a.acks[id] = s
	a.mu.Unlock()
	a.changed <- struct{}{}
}

func (a *recordingAcker) DeclineCheckpoint(_ *jobgraph.TaskDeployment, id int64, reason string) {
	a.mu.Lock()
	a.declines[id] = reason
	a.mu.Unlock()
	a.changed <- struct{}{}
}

func (a *recordingAcker) EndOfInput(*jobgraph.TaskDeployment) {}

// wait returns the acknowledgement of checkpoint id, failing on a decline or after timeout.
func (a *recordingAcker) wait(tb testing.TB, id int64, timeout time.Duration) *jobgraph.TaskStateSnapshot {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		s, ok := a.acks[id]
		reason, declined := a.declines[id]
		a.mu.Unlock()
		switch {
		case ok:
			return s
		case declined:
			tb.Fatalf("checkpoint %d declined: %s", id, reason)
		}
		select {
		case <-a.changed:
		case <-deadline:
			tb.Fatalf("checkpoint %d: no acknowledgement within %v (the asynchronous write did not finish)", id, timeout)
		}
	}
}

// newCheckpointTask builds a one-operator task around backend be, enough for performCheckpoint.
func newCheckpointTask(be *state.KeyedBackend, acker Acker) *Task {
	d := &jobgraph.TaskDeployment{JobId: "job", Vertex: &jobgraph.Vertex{Name: "keyed", Parallelism: 1, MaxParallelism: 128,
		Operators: []*jobgraph.Operator{{Id: "op1", Name: "keyed"}}}}
	t := New(d, nil, nil, zerolog.Nop())
	t.instances = []Instance{nopInstance{}}
	t.contexts = []*OperatorContext{{opID: "op1", MaxParallelism: 128, KeyGroups: serde.KeyGroupRangeFor(128, 1, 0), task: t, backend: be}}
	t.acker = acker
	return t
}

// fillBytes puts n keys with valueSize-byte values into table "v" of be.
func fillBytes(tb testing.TB, be *state.KeyedBackend, n, valueSize int) *state.Table[[]byte] {
	tb.Helper()
	kc := serde.MustFor[string]()
	tbl, err := state.GetTable(be, "v", serde.MustFor[[]byte]())
	if err != nil {
		tb.Fatal(err)
	}
	val := make([]byte, valueSize)
	var key []byte
	for i := 0; i < n; i++ {
		key = kc.Append(key[:0], fmt.Sprintf("key-%d", i))
		be.SetCurrentKey(key)
		v := append([]byte(nil), val...)
		v[0] = byte(i)
		tbl.Put(nil, v)
	}
	return tbl
}

// BenchmarkPerformCheckpointPause measures how long performCheckpoint holds the task goroutine
// for a heap backend of 1M keys with 100-byte values (the asynchronous write is awaited outside
// the timed region). Report: ns/op is the synchronous pause.
func BenchmarkPerformCheckpointPause(b *testing.B) {
	const keys, size = 1_000_000, 100
	be := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	tbl := fillBytes(b, be, keys, size)
	acker := newRecordingAcker()
	t := newCheckpointTask(be, acker)
	kc := serde.MustFor[string]()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := int64(i + 1)
		t.performCheckpoint(barrier{id: id, ts: id}, 0)
		b.StopTimer()
		// Writes during the asynchronous phase (the copy-on-write path).
		for j := 0; j < 1000; j++ {
			be.SetCurrentKey(kc.Append(nil, fmt.Sprintf("key-%d", j*997%keys)))
			tbl.Put(nil, make([]byte, size))
		}
		acker.wait(b, id, 5*time.Minute)
		b.StartTimer()
	}
}
