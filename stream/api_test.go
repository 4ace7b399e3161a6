package stream_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/stream"
)

// TestUnionBroadcastConnectSideOutput: union of two streams, a broadcast control stream connected
// to a data stream (CoProcess), and a process function's side output.
func TestUnionBroadcastConnectSideOutput(t *testing.T) {
	env := stream.NewEnvironment().SetParallelism(3)
	a := stream.FromElements(env, 1, 2, 3, 4, 5)
	b := stream.FromElements(env, 10, 20, 30)
	all := a.Union(b)
	// Control: one multiplier, broadcast to every subtask of the co-operator.
	ctrl := stream.FromElements(env, 100).SetParallelism(1).Broadcast()
	type out struct {
		V    int
		Mult int
	}
	// Each subtask sees the broadcast value before or after data; buffer data until it arrives.
	joined := stream.CoProcess(all.Rebalance(), ctrl, stream.CoProcessFunction[int, int, out]{
		Element1: func(v int, ctx *stream.Context, o stream.Collector[out]) error {
			o.Collect(out{V: v})
			return nil
		},
		Element2: func(m int, ctx *stream.Context, o stream.Collector[out]) error {
			o.Collect(out{V: -1, Mult: m})
			return nil
		},
	})
	odd := stream.NewOutputTag[int]("odd")
	evens := stream.Process(joined, func(v out, ctx *stream.Context, o stream.Collector[int]) error {
		if v.V < 0 {
			o.Collect(v.Mult)
			return nil
		}
		if v.V%2 == 1 {
			stream.SideOutput(ctx, odd, v.V)
			return nil
		}
		o.Collect(v.V)
		return nil
	})
	main := &collectSink[int]{}
	side := &collectSink[int]{}
	evens.SinkTo(main, "main")
	stream.GetSideOutput(evens, odd).SinkTo(side, "odd")
	if err := runLocal(t, env, map[string]string{"local.taskmanagers": "2"}); err != nil {
		t.Fatal(err)
	}
	sort.Ints(main.out)
	sort.Ints(side.out)
	// 100 arrives once per co-operator subtask (broadcast to 3 subtasks).
	if fmt.Sprint(main.out) != "[2 4 10 20 30 100 100 100]" || fmt.Sprint(side.out) != "[1 3 5]" {
		t.Fatalf("main %v, side %v", main.out, side.out)
	}
}

// idleAwareSource emits from subtask 0 only; the other subtask has no data for a long time (it
// stays open) and must be marked idle for the event-time windows to fire.
type idleAwareSource struct{ n int }

func (s idleAwareSource) Bounded() bool { return true }
func (s idleAwareSource) CreateReader(ctx op.SourceContext) (op.SourceReader[int64], error) {
	return &idleReader{sub: ctx.Subtask(), n: s.n, start: time.Now()}, nil
}

type idleReader struct {
	sub, n, i int
	start     time.Time
}

func (r *idleReader) Poll(ctx context.Context, out op.SourceOutput[int64]) (op.PollStatus, error) {
	if r.sub != 0 {
		// No data: wait (bounded), end after 3 s.
		if time.Since(r.start) > 3*time.Second {
			return op.End, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		return op.NothingAvailable, nil
	}
	if r.i >= r.n {
		if time.Since(r.start) > 3*time.Second {
			return op.End, nil
		}
		time.Sleep(20 * time.Millisecond)
		return op.NothingAvailable, nil
	}
	out.CollectWithTimestamp(int64(r.i), int64(r.i)*100)
	r.i++
	return op.MoreAvailable, nil
}
func (r *idleReader) Snapshot(int64) ([]byte, error) { return nil, nil }
func (r *idleReader) Close() error                   { return nil }

// TestIdleness: with WithIdleness, a source subtask without data does not hold the watermark
// back, so windows fire while the job still runs (before the final watermark at the end).
func TestIdleness(t *testing.T) {
	env := stream.NewEnvironment().SetParallelism(2)
	src := stream.FromSource[int64](env, idleAwareSource{n: 50}, stream.ForMonotonousTimestamps[int64]().WithIdleness(200*time.Millisecond), "src")
	type res struct {
		Start int64
		N     int64
		At    time.Time
	}
	counts := stream.AggregateWindow(stream.KeyBy(src, func(int64) int { return 0 }).Window(stream.TumblingEventTimeWindows(time.Second)),
		stream.AggregateFunction[int64, int64, int64](countAgg{}),
		func(_ int, w stream.TimeWindow, n int64, o stream.Collector[res]) error {
			o.Collect(res{w.Start, n, time.Now()})
			return nil
		})
	sink := &collectSink[res]{}
	counts.SinkTo(sink, "out")
	start := time.Now()
	if err := runLocal(t, env, map[string]string{"pipeline.auto-watermark-interval": "50ms"}); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	if len(sink.out) != 5 {
		t.Fatalf("got %d windows, want 5: %v", len(sink.out), sink.out)
	}
	early := 0
	for _, r := range sink.out {
		if r.N != 10 {
			t.Errorf("window %d has %d elements", r.Start, r.N)
		}
		if end.Sub(r.At) > time.Second {
			early++
		}
	}
	if early == 0 {
		t.Fatalf("no window fired before the end of input (%s run): the idle subtask held the watermark back", end.Sub(start))
	}
}

type countAgg struct{}

func (countAgg) CreateAccumulator() int64   { return 0 }
func (countAgg) Add(_ int64, a int64) int64 { return a + 1 }
func (countAgg) GetResult(a int64) int64    { return a }
func (countAgg) Merge(a, b int64) int64     { return a + b }

// TestProcessingTimeTimer: a keyed processing-time timer fires while the job runs.
func TestProcessingTimeTimer(t *testing.T) {
	env := stream.NewEnvironment().SetParallelism(1)
	src := stream.FromSource[int64](env, idleAwareSource{n: 3}, stream.NoWatermarks[int64](), "src")
	fired := stream.KeyedProcess(stream.KeyBy(src, func(v int64) int64 { return v }), stream.ProcessFunc[int64, int64, string]{
		Element: func(v int64, ctx *stream.KeyedContext[int64], o stream.Collector[string]) error {
			ctx.TimerService().RegisterProcessingTimeTimer(ctx.TimerService().CurrentProcessingTime() + 100)
			return nil
		},
		Timer: func(ts int64, ctx *stream.KeyedContext[int64], o stream.Collector[string]) error {
			o.Collect(fmt.Sprintf("timer %d", ctx.CurrentKey()))
			return nil
		},
	})
	sink := &collectSink[string]{}
	fired.SinkTo(sink, "out")
	if err := runLocal(t, env, nil); err != nil {
		t.Fatal(err)
	}
	sort.Strings(sink.out)
	if strings.Join(sink.out, ",") != "timer 0,timer 1,timer 2" {
		t.Fatalf("got %v", sink.out)
	}
}
