// Command unbounded is a test job that runs until cancelled: a rate-limited generator, a keyed
// running sum, and a discarding sink.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flink-go/flink-go/connectors/datagen"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

func main() {
	fs := flag.NewFlagSet("unbounded", flag.ContinueOnError)
	rate := fs.Float64("rate", 1000, "records per second")
	name := fs.String("name", "Unbounded", "job name")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	src, err := datagen.New(func(i int64) int64 { return i }, datagen.RatePerSecond(*rate))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	env := stream.NewEnvironment()
	nums := stream.FromSource[int64](env, src, stream.NoWatermarks[int64](), "datagen")
	stream.KeyBy(nums, func(v int64) int64 { return v % 16 }).Reduce(func(a, b int64) int64 { return a + b }).
		SinkTo(sinks.Discard[int64](), "discard")
	if err := env.Execute(*name); err != nil {
		fmt.Fprintln(os.Stderr, "unbounded:", err)
		os.Exit(1)
	}
}
