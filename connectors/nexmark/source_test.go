package nexmark

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/runtime/op"
)

func eventKey(e *Event) [3]int64 {
	return [3]int64{e.Type, e.Timestamp(), e.Bid.Price + e.Auction.ID*7 + e.Person.ID*13}
}

func checkSameEvents(t *testing.T, got []Event, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	idx := map[[3]int64][]Event{}
	for _, e := range want {
		idx[eventKey(&e)] = append(idx[eventKey(&e)], e)
	}
	for _, e := range got {
		k := eventKey(&e)
		list := idx[k]
		found := -1
		for i := range list {
			if list[i] == e {
				found = i
				break
			}
		}
		if found < 0 {
			t.Fatalf("unexpected or repeated event %+v", e)
		}
		idx[k] = append(list[:found], list[found+1:]...)
	}
}

func TestSourceUnionEqualsGeneratorAtAnyParallelism(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 5000
	cfg.BatchSize = 97
	want, err := Generate(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Bounded() {
		t.Fatal("bounded source reports unbounded")
	}
	for p := 1; p <= 4; p++ {
		per, err := connectortest.ReadAll[Event](context.Background(), src, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		var all []Event
		for _, recs := range per {
			last := int64(-1)
			for _, r := range recs {
				if r.Timestamp != r.Value.Timestamp() {
					t.Fatalf("record timestamp %d != event time %d", r.Timestamp, r.Value.Timestamp())
				}
				if r.Timestamp < last {
					t.Fatalf("p=%d: timestamps go back within a subtask without out-of-order config", p)
				}
				last = r.Timestamp
				all = append(all, r.Value)
			}
		}
		checkSameEvents(t, all, want)
	}
}

func TestSourceSnapshotRestoreRescale(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 6000
	cfg.BatchSize = 50
	want, _ := Generate(cfg, 0)
	src, _ := NewSource(cfg)
	ctx := context.Background()
	var all []Event
	// Run 1: parallelism 3, a different number of polls per subtask, then snapshot.
	var states [][]byte
	for k := 0; k < 3; k++ {
		r, err := src.CreateReader(connectortest.NewContext(k, 3))
		if err != nil {
			t.Fatal(err)
		}
		out := &connectortest.Output[Event]{}
		if _, err := connectortest.Drain[Event](ctx, r, out, 3+5*k); err != nil {
			t.Fatal(err)
		}
		st, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
		all = append(all, out.Values()...)
		r.Close()
	}
	// Run 2: parallelism 2 from the union state, partially; then run 3 at parallelism 5 to the end.
	var states2 [][]byte
	for k := 0; k < 2; k++ {
		r, err := src.CreateReader(connectortest.NewContext(k, 2).WithRestored(states))
		if err != nil {
			t.Fatal(err)
		}
		out := &connectortest.Output[Event]{}
		connectortest.Drain[Event](ctx, r, out, 7)
		st, _ := r.Snapshot(2)
		states2 = append(states2, st)
		all = append(all, out.Values()...)
	}
	per, err := connectortest.ReadAll[Event](ctx, src, 5, states2)
	if err != nil {
		t.Fatal(err)
	}
	for _, recs := range per {
		for _, r := range recs {
			all = append(all, r.Value)
		}
	}
	checkSameEvents(t, all, want)
}

func TestSourceRejectsForeignState(t *testing.T) {
	src, _ := NewSource(DefaultConfig())
	if _, err := src.CreateReader(connectortest.NewContext(0, 1).WithRestored([][]byte{[]byte("junk")})); err == nil {
		t.Fatal("foreign state accepted")
	}
}

func TestSourceRateLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 6000
	cfg.FirstEventRate = 20_000 // 6000 events -> 300 ms
	cfg.RateLimited = true
	cfg.ProbDelayedEvent = 0
	src, _ := NewSource(cfg)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			r, _ := src.CreateReader(connectortest.NewContext(k, 2))
			out := &connectortest.CountingOutput[Event]{}
			if _, err := connectortest.Drain[Event](context.Background(), r, out, 0); err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += int(out.N)
			mu.Unlock()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	if total != 6000 {
		t.Fatalf("emitted %d events", total)
	}
	// Never faster than the rate; the upper bound is loose because CI machines are shared.
	if el < 280*time.Millisecond || el > 3*time.Second {
		t.Fatalf("6000 events at 20000/s took %v, want ≈300ms", el)
	}
	t.Logf("6000 events at 20000/s took %v", el)
}

func TestSourceDelayedEventsAreEmittedOnceAndLater(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 4000
	cfg.FirstEventRate = 100_000
	cfg.RateLimited = true
	cfg.OccasionalDelaySec = 1
	cfg.ProbDelayedEvent = 0.1
	cfg.EmitWatermarks = true
	want, _ := Generate(cfg, 0)
	src, _ := NewSource(cfg)
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	out := &connectortest.Output[Event]{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := connectortest.Drain[Event](ctx, r, out, 0); err != nil {
		t.Fatal(err)
	}
	got := out.Values()
	checkSameEvents(t, got, want)
	backwards := 0
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp() < got[i-1].Timestamp() {
			backwards++
		}
	}
	if backwards < 100 {
		t.Fatalf("only %d out-of-order emissions with 10%% delayed events", backwards)
	}
}

func TestSourceWatermarksAreLowerBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 3000
	cfg.OutOfOrderGroupSize = 11
	cfg.EmitWatermarks = true
	cfg.BatchSize = 64
	src, _ := NewSource(cfg)
	for k := 0; k < 2; k++ {
		r, _ := src.CreateReader(connectortest.NewContext(k, 2))
		out := &orderedOutput{}
		connectortest.Drain[Event](context.Background(), r, out, 0)
		if out.wms == 0 {
			t.Fatal("no watermarks emitted")
		}
		if out.violations > 0 {
			t.Fatalf("%d records at or below an earlier watermark", out.violations)
		}
	}
}

type orderedOutput struct {
	wm         int64
	wms        int
	violations int
}

func (o *orderedOutput) Collect(Event) {}
func (o *orderedOutput) CollectWithTimestamp(_ Event, ts int64) {
	if o.wms > 0 && ts <= o.wm {
		o.violations++
	}
}
func (o *orderedOutput) EmitWatermark(wm int64) { o.wm = wm; o.wms++ }
func (o *orderedOutput) MarkIdle()              {}

var _ op.SourceOutput[Event] = (*orderedOutput)(nil)

func TestGenerateIsDeterministic(t *testing.T) {
	a, _ := Generate(DefaultConfig(), 1000)
	b, _ := Generate(DefaultConfig(), 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs between runs", i)
		}
	}
	sort.SliceIsSorted(a, func(i, j int) bool { return a[i].Timestamp() < a[j].Timestamp() })
}

func BenchmarkSourcePoll(b *testing.B) {
	src, _ := NewSource(DefaultConfig())
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	out := &connectortest.CountingOutput[Event]{}
	ctx := context.Background()
	b.ReportAllocs()
	for out.N < int64(b.N) {
		r.Poll(ctx, out)
	}
	b.ReportMetric(float64(out.N)/b.Elapsed().Seconds(), "events/s")
}

func TestSourceHeldBackEventsSurviveRestore(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEvents = 3000
	cfg.FirstEventRate = 200_000
	cfg.RateLimited = true
	cfg.OccasionalDelaySec = 2
	cfg.ProbDelayedEvent = 0.2
	want, _ := Generate(cfg, 0)
	src, _ := NewSource(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []Event
	var states [][]byte
	held := 0
	for k := 0; k < 3; k++ {
		r, _ := src.CreateReader(connectortest.NewContext(k, 3))
		out := &connectortest.Output[Event]{}
		deadline := time.Now().Add(30 * time.Millisecond)
		for time.Now().Before(deadline) {
			if _, err := r.Poll(ctx, out); err != nil {
				t.Fatal(err)
			}
		}
		held += len(r.(*reader).held)
		st, _ := r.Snapshot(1)
		states = append(states, st)
		got = append(got, out.Values()...)
	}
	if held == 0 {
		t.Fatal("test setup: no held-back events at the snapshot")
	}
	for k := 0; k < 2; k++ {
		r, err := src.CreateReader(connectortest.NewContext(k, 2).WithRestored(states))
		if err != nil {
			t.Fatal(err)
		}
		out := &connectortest.Output[Event]{}
		if _, err := connectortest.Drain[Event](ctx, r, out, 0); err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Values()...)
	}
	checkSameEvents(t, got, want)
}
