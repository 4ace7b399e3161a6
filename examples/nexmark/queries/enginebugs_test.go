package queries_test

import (
	"context"
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

// Engine deviations found while building the Nexmark queries (docs/benchmarks.md, "Engine
// notes"). A reproducer of an open deviation calls engineBug, which skips it unless
// FLINK_GO_ENGINE_BUGS=1; once the engine is fixed the call is removed and the test stays as a
// regression test.

func engineBug(t *testing.T) {
	t.Helper()
	if os.Getenv("FLINK_GO_ENGINE_BUGS") == "" {
		t.Skip("engine deviation reproducer: set FLINK_GO_ENGINE_BUGS=1 to run")
	}
}

var _ = engineBug // no open deviation at the moment

// TestTimerSeesItsWatermark: in Flink, an event-time timer fires after the operator's current
// watermark was advanced (HeapInternalTimerService.advanceWatermark sets currentWatermark
// before it fires the due timers), so inside onTimer ctx.timerService().currentWatermark() is
// at least the timer's timestamp. flink-go's keyedBase.advanceWatermark (stream/keyed.go) used
// to fire the timers first and record the watermark afterwards (fixed in 3443623).
func TestTimerSeesItsWatermark(t *testing.T) {
	env := stream.NewEnvironment().SetParallelism(1)
	env.Configure("rest.port", "0")
	evs := []nexmark.Event{bidEv(1, 1, 1, 1_000), watermark(5_000), bidEv(1, 1, 1, 6_000)}
	events := stream.FromSource[nexmark.Event](env, sliceSource(evs), stream.NoWatermarks[nexmark.Event](), "slice")
	seen := stream.KeyedProcess(stream.KeyBy(events, func(e nexmark.Event) int64 { return e.Bid.Auction }),
		stream.ProcessFunc[int64, nexmark.Event, int64]{
			Element: func(e nexmark.Event, ctx *stream.KeyedContext[int64], _ stream.Collector[int64]) error {
				if e.Bid.DateTime == 1_000 {
					ctx.TimerService().RegisterEventTimeTimer(2_000)
				}
				return nil
			},
			Timer: func(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[int64]) error {
				out.Collect(ctx.TimerService().CurrentWatermark())
				return nil
			},
		})
	name := "nexmark-test/" + t.Name()
	sinks.Reset(name)
	c, err := sinks.Collect[int64](name)
	if err != nil {
		t.Fatal(err)
	}
	seen.SinkTo(c, "collect")
	g, reg, err := env.Graph(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.RunLocal(context.Background(), g, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)); err != nil {
		t.Fatal(err)
	}
	got, err := sinks.Results[int64](name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] < 2_000 {
		t.Fatalf("OnTimer(2000) saw watermark(s) %v; Flink's onTimer sees the watermark that fired it (5000)", got)
	}
}
