package task

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/network"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// alignHarness is a task reading n upstream partitions over a real network environment (local
// channels), one writer per input channel, so barriers and ends of partition can be sent to it
// channel by channel while runInputs runs as it does in a job.
type alignHarness struct {
	task    *Task
	acker   *recordingAcker
	writers []*network.RecordWriter
	done    chan error
}

func newAlignHarness(tb testing.TB, n int) *alignHarness {
	tb.Helper()
	env, err := network.NewEnvironment(network.Config{BindAddress: "127.0.0.1:0", BufferTimeout: time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { env.Close() })
	acker := newRecordingAcker()
	h := &alignHarness{acker: acker, done: make(chan error, 1),
		task: newCheckpointTask(state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)), acker)}
	h.task.exactlyOnce = true
	var specs []network.ChannelSpec
	for i := 0; i < n; i++ {
		id := network.PartitionID{Job: "job", Vertex: fmt.Sprintf("upstream-%d", i)}
		p, err := env.CreatePartition(id, 1)
		if err != nil {
			tb.Fatal(err)
		}
		h.writers = append(h.writers, network.NewRecordWriter(p))
		specs = append(specs, network.ChannelSpec{Partition: id, Addr: env.Addr()})
		h.task.decoders = append(h.task.decoders, func([]byte) error { return nil })
	}
	g, err := env.CreateInputGate(context.Background(), specs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	h.task.attachInputGate(g)
	return h
}

func (h *alignHarness) start() { go func() { h.done <- h.task.runInputs() }() }

func (h *alignHarness) barrier(tb testing.TB, ch int, id int64) {
	tb.Helper()
	if err := h.writers[ch].BroadcastEvent(encodeBarrier(id, id, false, "")); err != nil {
		tb.Fatal(err)
	}
	if err := h.writers[ch].Flush(); err != nil {
		tb.Fatal(err)
	}
}

func (h *alignHarness) end(tb testing.TB, ch int) {
	tb.Helper()
	if err := h.writers[ch].Close(); err != nil {
		tb.Fatal(err)
	}
}

// finished waits for runInputs to return after every channel ended.
func (h *alignHarness) finished(tb testing.TB) {
	tb.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			tb.Fatalf("runInputs: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.task.Cancel()
		tb.Fatal("the task did not finish its input within 10 s after every channel ended: it hangs in barrier alignment")
	}
}

// settle gives the local channels time to deliver what was written (the orders below are the
// ones that hung; the assertions hold for any delivery order).
func settle() { time.Sleep(50 * time.Millisecond) }

// An ended channel completes an alignment that waits only for it, even when every other
// channel is blocked: a source that finished before the checkpoint was triggered never sends
// the barrier.
func TestAlignmentCompletedByEndOfPartition(t *testing.T) {
	h := newAlignHarness(t, 3)
	h.start()
	h.barrier(t, 0, 7)
	h.barrier(t, 2, 7)
	settle()
	h.end(t, 1)
	if h.acker.wait(t, 7, 10*time.Second) == nil {
		t.Fatal("no snapshot acknowledged for checkpoint 7")
	}
	h.end(t, 0)
	h.end(t, 2)
	h.finished(t)
}

// The abort of a checkpoint can reach the task before that checkpoint's barrier does (the
// JobManager aborts as soon as a finished source declines). The late barrier must be ignored,
// not aligned on: the declining source never sends it, so aligning would hold back the channel
// that delivered it until a newer barrier overtakes (or, before ends of partition completed
// alignments, for ever).
func TestBarrierAfterAbortIsIgnored(t *testing.T) {
	h := newAlignHarness(t, 3)
	h.task.NotifyCheckpoint(10, true) // runs before the first read
	h.start()
	h.barrier(t, 0, 10)
	settle()
	h.end(t, 1) // the source that declined checkpoint 10 finished
	h.barrier(t, 0, 11)
	h.barrier(t, 2, 11)
	if h.acker.wait(t, 11, 10*time.Second) == nil {
		t.Fatal("no snapshot acknowledged for checkpoint 11")
	}
	h.acker.mu.Lock()
	s, acked := h.acker.acks[10]
	reason, declined := h.acker.declines[10]
	h.acker.mu.Unlock()
	if acked || declined {
		t.Fatalf("the barrier of aborted checkpoint 10 was aligned on (acknowledged: %v %+v, declined: %v %q)", acked, s, declined, reason)
	}
	h.end(t, 0)
	h.end(t, 2)
	h.finished(t)
}

// The abort of a newer checkpoint ends the alignment of an older one still in progress (its
// missing barriers will not come either), declined as subsumed, which is not a failure.
func TestAbortOfNewerCheckpointEndsAlignment(t *testing.T) {
	h := newAlignHarness(t, 2)
	h.start()
	h.barrier(t, 0, 4)
	settle()
	h.task.NotifyCheckpoint(5, true)
	deadline := time.After(10 * time.Second)
	for {
		h.acker.mu.Lock()
		reason, ok := h.acker.declines[4]
		h.acker.mu.Unlock()
		if ok {
			if !strings.HasPrefix(reason, DeclineSubsumedPrefix) {
				t.Fatalf("checkpoint 4 declined with %q, want the %q prefix (not counted as a failure)", reason, DeclineSubsumedPrefix)
			}
			break
		}
		select {
		case <-h.acker.changed:
		case <-deadline:
			t.Fatal("checkpoint 4 still aligning 10 s after checkpoint 5 was aborted")
		}
	}
	// Channel 0 is unblocked again: its end is read although channel 1 never sent barrier 4.
	h.barrier(t, 1, 5) // ignored: checkpoint 5 is aborted
	h.end(t, 0)
	h.end(t, 1)
	h.finished(t)
}
