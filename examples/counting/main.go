// Command counting is the keyed counting job of the exactly-once tests: a bounded generated
// input of --records records over --keys keys, a keyed running count, and an exactly-once file
// sink that receives every --every-th running count of each key and the final count of each key.
// Its output is deterministic, so a run with failures can be compared with one without.
//
//	flink-go run -p 2 -D execution.checkpointing.interval=1s -D execution.checkpointing.dir=file:///tmp/ckpt \
//	    bin/examples/counting --records 10000000 --output /tmp/counts
package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/flink-go/flink-go/connectors/datagen"
	"github.com/flink-go/flink-go/connectors/file"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/stream"
)

type kv = serde.Tuple2[int64, int64]

// counter keeps a running count per key; it emits every `every`-th count and, when the input
// ended (the final watermark fires the timer), the final count marked with a leading "final".
type counter struct{ every int64 }

func (c counter) ProcessElement(v kv, ctx *stream.KeyedContext[int64], out stream.Collector[string]) error {
	st := stream.GetValueState[int64](ctx, "count")
	n, seen := st.Value()
	n += v.F1
	st.Update(n)
	if !seen {
		ctx.TimerService().RegisterEventTimeTimer(math.MaxInt64)
	}
	if n%c.every == 0 {
		out.Collect(fmt.Sprintf("%d %d", v.F0, n))
	}
	return nil
}

func (c counter) OnTimer(_ int64, ctx *stream.KeyedContext[int64], out stream.Collector[string]) error {
	n, _ := stream.GetValueState[int64](ctx, "count").Value()
	out.Collect(fmt.Sprintf("final %d %d", ctx.CurrentKey(), n))
	return nil
}

func main() {
	fs := flag.NewFlagSet("counting", flag.ContinueOnError)
	records := fs.Int64("records", 1_000_000, "number of generated records")
	keys := fs.Int64("keys", 1000, "number of distinct keys")
	every := fs.Int64("every", 100, "emit every n-th running count of a key")
	rate := fs.Float64("rate", 0, "records per second over all subtasks (0: as fast as possible)")
	output := fs.String("output", "", "output directory (required)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *output == "" || *records <= 0 || *keys <= 0 || *every <= 0 {
		fmt.Fprintln(os.Stderr, "counting: --output is required; --records, --keys and --every must be positive")
		os.Exit(2)
	}
	opts := []datagen.Option{datagen.Count(*records)}
	if *rate > 0 {
		opts = append(opts, datagen.RatePerSecond(*rate))
	}
	k := *keys
	src, err := datagen.New(func(i int64) kv { return kv{F0: (i * 7919) % k, F1: 1} }, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "counting:", err)
		os.Exit(2)
	}
	env := stream.NewEnvironment()
	in := stream.FromSource[kv](env, src, stream.NoWatermarks[kv](), "generator").UID("generator")
	counts := stream.KeyedProcess(stream.KeyBy(in, func(v kv) int64 { return v.F0 }),
		stream.KeyedProcessFunction[int64, kv, string](counter{every: *every})).Name("Count").UID("count")
	sink, err := file.NewFileSink[string](*output, nil, file.ExactlyOnce())
	if err != nil {
		fmt.Fprintln(os.Stderr, "counting:", err)
		os.Exit(2)
	}
	counts.SinkTo(sink, "counts").UID("counts-sink")
	if err := env.Execute("Counting"); err != nil {
		fmt.Fprintln(os.Stderr, "counting:", err)
		os.Exit(1)
	}
}
