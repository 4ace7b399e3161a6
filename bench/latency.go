package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/examples/nexmark/queries"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/stream"
)

// LatencyConfig configures the in-process q1 latency run.
type LatencyConfig struct {
	Rate          float64       // events per wall-clock second, over all source subtasks
	Warmup        time.Duration // records emitted before this are not measured
	Duration      time.Duration // measured period after the warm-up
	BufferTimeout time.Duration // execution.buffer-timeout.interval
	Parallelism   int
	TaskManagers  int // goroutine TaskManagers; 2 makes about half the exchange cross TCP
	Log           zerolog.Logger
}

// Stamped is a generator event with the monotonic time its source emitted it.
type Stamped struct {
	Event  nexmark.Event
	EmitNs int64 // nanoseconds since the process's clock base (see now)
}

// StampedQ1 is a q1 row with the emission time of the bid it came from.
type StampedQ1 struct {
	Row    nexmark.Q1Row
	EmitNs int64
}

// clockBase anchors now: every TaskManager of the latency run is a goroutine of this process,
// so one monotonic clock serves the source and the sink.
var clockBase = time.Now()

func now() int64 { return int64(time.Since(clockBase)) }

// stampSource wraps the Nexmark source and stamps every event when the reader emits it.
type stampSource struct{ inner *nexmark.Source }

func (s stampSource) Bounded() bool { return s.inner.Bounded() }

func (s stampSource) CreateReader(ctx op.SourceContext) (op.SourceReader[Stamped], error) {
	r, err := s.inner.CreateReader(ctx)
	if err != nil {
		return nil, err
	}
	return &stampReader{inner: r}, nil
}

type stampReader struct {
	inner op.SourceReader[nexmark.Event]
	out   stampOutput
}

func (r *stampReader) Poll(ctx context.Context, out op.SourceOutput[Stamped]) (op.PollStatus, error) {
	r.out.out = out
	return r.inner.Poll(ctx, &r.out)
}
func (r *stampReader) Snapshot(id int64) ([]byte, error) { return r.inner.Snapshot(id) }
func (r *stampReader) Close() error                      { return r.inner.Close() }

type stampOutput struct{ out op.SourceOutput[Stamped] }

func (o *stampOutput) Collect(e nexmark.Event) { o.out.Collect(Stamped{Event: e, EmitNs: now()}) }
func (o *stampOutput) CollectWithTimestamp(e nexmark.Event, ts int64) {
	o.out.CollectWithTimestamp(Stamped{Event: e, EmitNs: now()}, ts)
}
func (o *stampOutput) EmitWatermark(wm int64) { o.out.EmitWatermark(wm) }
func (o *stampOutput) MarkIdle()              { o.out.MarkIdle() }

// latencySink records now - EmitNs of every row emitted after the warm-up.
type latencySink struct {
	from    int64 // EmitNs threshold: the end of the warm-up
	mu      sync.Mutex
	samples []int64
}

func (s *latencySink) CreateWriter(op.SinkContext) (op.SinkWriter[StampedQ1], error) {
	return &latencyWriter{s: s}, nil
}

type latencyWriter struct {
	s     *latencySink
	local []int64
}

func (w *latencyWriter) Write(r StampedQ1, _ int64) error {
	if r.EmitNs >= w.s.from {
		w.local = append(w.local, now()-r.EmitNs)
	}
	return nil
}

func (w *latencyWriter) Finish() error { return w.flush() }
func (w *latencyWriter) Close() error  { return w.flush() }
func (w *latencyWriter) flush() error {
	w.s.mu.Lock()
	w.s.samples = append(w.s.samples, w.local...)
	w.s.mu.Unlock()
	w.local = nil
	return nil
}

// RunLatency runs q1 on an embedded cluster of goroutine TaskManagers with a paced generator
// and measures the source-to-sink latency of every row: the source stamps each event when its
// reader hands it to the engine, the sink subtracts that from its own clock when it receives
// the row. Between them the rows cross a rebalance exchange (serialization, buffers flushed
// when full or by the buffer timeout, TCP between TaskManagers), which is where latency comes
// from; the chained q1 of the throughput runs has no exchange. Occasional generator delays
// are off: they would hold events back before they are stamped.
func RunLatency(ctx context.Context, c LatencyConfig) LatencyResult {
	res := LatencyResult{Rate: c.Rate, BufferTimeout: c.BufferTimeout, Duration: c.Duration, Planned: c.Warmup + c.Duration}
	cfg := nexmark.DefaultConfig()
	cfg.FirstEventRate = c.Rate
	cfg.RateLimited = true
	cfg.ProbDelayedEvent = 0
	cfg.NumEvents = int64(c.Rate * (c.Warmup + c.Duration).Seconds())
	src, err := nexmark.NewSource(cfg)
	if err != nil {
		res.Err = err
		return res
	}
	env := stream.NewEnvironment().SetParallelism(c.Parallelism)
	env.Configure("rest.port", "0")
	env.Configure("local.taskmanagers", strconv.Itoa(c.TaskManagers))
	env.Configure("execution.buffer-timeout.interval", fmt.Sprintf("%dms", c.BufferTimeout.Milliseconds()))
	events := stream.FromSource[Stamped](env, stampSource{src}, stream.ForBoundedOutOfOrderness[Stamped](queries.OutOfOrderness), "Nexmark (stamped)")
	rows := stream.FlatMap(events, func(s Stamped, out stream.Collector[StampedQ1]) {
		if s.Event.Type == nexmark.BidType {
			out.Collect(StampedQ1{Row: queries.ToQ1(s.Event.Bid), EmitNs: s.EmitNs})
		}
	}).Name("Q1: currency conversion")
	sink := &latencySink{from: now() + int64(c.Warmup)}
	rows.Rebalance().SinkTo(sink, "latency")
	g, reg, err := env.Graph("Nexmark Q1 latency")
	if err != nil {
		res.Err = err
		return res
	}
	sink.from = now() + int64(c.Warmup)
	start := time.Now()
	err = cluster.RunLocal(ctx, g, reg, c.Log)
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Err = fmt.Errorf("latency job: %w", err)
		return res
	}
	s := sink.samples
	slices.Sort(s)
	res.Samples = len(s)
	if len(s) == 0 {
		res.Err = fmt.Errorf("latency job measured no rows (warm-up %s longer than the run?)", c.Warmup)
		return res
	}
	res.P50 = time.Duration(Percentile(s, 50))
	res.P99 = time.Duration(Percentile(s, 99))
	res.P999 = time.Duration(Percentile(s, 99.9))
	res.Max = time.Duration(s[len(s)-1])
	return res
}
