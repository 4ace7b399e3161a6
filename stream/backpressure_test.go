package stream_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/connectors/datagen"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/stream"
)

// slowSink consumes at most `rate` records per second (paced by sleeping).
type slowSink struct {
	rate     int
	consumed atomic.Int64
}

func (s *slowSink) CreateWriter(op.SinkContext) (op.SinkWriter[int64], error) {
	return &slowWriter{s: s, next: time.Now()}, nil
}

type slowWriter struct {
	s    *slowSink
	next time.Time
}

func (w *slowWriter) Write(int64, int64) error {
	w.next = w.next.Add(time.Second / time.Duration(w.s.rate))
	if d := time.Until(w.next); d > 0 {
		time.Sleep(d)
	}
	w.s.consumed.Add(1)
	return nil
}
func (w *slowWriter) Finish() error { return nil }
func (w *slowWriter) Close() error  { return nil }

// TestBackpressure: an unbounded source at full speed feeding a sink slowed to 1,000 records/s
// over TCP between two TaskManagers. Credit-based flow control must slow the source to the sink's
// rate, and memory must stay flat.
func TestBackpressure(t *testing.T) {
	dur := 60 * time.Second
	if testing.Short() {
		dur = 20 * time.Second
	}
	var emitted atomic.Int64
	src, err := datagen.New(func(i int64) int64 { emitted.Add(1); return i })
	if err != nil {
		t.Fatal(err)
	}
	env := stream.NewEnvironment().SetParallelism(2)
	doubled := stream.Map(stream.FromSource[int64](env, src, stream.NoWatermarks[int64](), "datagen"), func(v int64) int64 { return v * 2 })
	sink := &slowSink{rate: 1000}
	doubled.Rebalance().SinkTo(sink, "slow").SetParallelism(1)
	env.Configure("local.taskmanagers", "2").Configure("rest.port", "0")
	g, reg, err := env.Graph("backpressure")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cluster.RunLocal(ctx, g, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	}()

	type sample struct {
		at        time.Duration
		heap      uint64
		emitted   int64
		delivered int64
	}
	var samples []sample
	start := time.Now()
	var ms runtime.MemStats
	for time.Since(start) < dur {
		time.Sleep(time.Second)
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{time.Since(start), ms.HeapInuse, emitted.Load(), sink.consumed.Load()})
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("job did not stop after cancellation")
	}
	half := len(samples) / 2
	var maxFirst, maxSecond uint64
	for i, s := range samples {
		if i < half && s.heap > maxFirst {
			maxFirst = s.heap
		}
		if i >= half && s.heap > maxSecond {
			maxSecond = s.heap
		}
	}
	// Rates over the second half: by then the buffers between the tasks are full. The source
	// moves in steps of one 32 KiB buffer (~3,600 records), so short runs only check bounds.
	first, last := samples[half], samples[len(samples)-1]
	secs := (last.at - first.at).Seconds()
	srcRate := float64(last.emitted-first.emitted) / secs
	sinkRate := float64(last.delivered-first.delivered) / secs
	inFlight := last.emitted - last.delivered
	t.Logf("over %s: source %.0f rec/s, sink %.0f rec/s (second half), in flight %d records, heap max %d MiB (first half) / %d MiB (second half)",
		dur, srcRate, sinkRate, inFlight, maxFirst>>20, maxSecond>>20)
	if sinkRate < 800 || sinkRate > 1100 {
		t.Errorf("sink rate %.0f/s, want ~1000/s", sinkRate)
	}
	if !testing.Short() && (srcRate > 1.25*sinkRate || srcRate < 0.75*sinkRate) {
		t.Errorf("source rate %.0f/s does not follow the sink rate %.0f/s", srcRate, sinkRate)
	}
	// In flight: bounded by the network buffers between the tasks (32 KiB buffers of ~10-byte records).
	if inFlight > 500_000 {
		t.Errorf("%d records in flight: backpressure does not bound the buffered data", inFlight)
	}
	const limit = 200 << 20
	if maxSecond > limit {
		t.Errorf("heap in use %d MiB exceeds %d MiB", maxSecond>>20, limit>>20)
	}
	if maxSecond > maxFirst+32<<20 {
		t.Errorf("heap grows: %d MiB in the first half, %d MiB in the second", maxFirst>>20, maxSecond>>20)
	}
}
