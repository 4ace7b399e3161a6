// Command panicjob is a test job whose map function panics on a chosen record: the job must
// FAIL with the panic's message and stack, without hanging and without taking the cluster down.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

func main() {
	fs := flag.NewFlagSet("panicjob", flag.ContinueOnError)
	at := fs.Int("panic-at", 500, "record that makes the map function panic")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	env := stream.NewEnvironment()
	nums := make([]int, 1000)
	for i := range nums {
		nums[i] = i
	}
	out := stream.Map(stream.FromSlice(env, nums), func(v int) int {
		if v == *at {
			panic(fmt.Sprintf("boom at record %d", v))
		}
		return v
	})
	out.SinkTo(sinks.Discard[int](), "discard")
	if err := env.Execute("PanicJob"); err != nil {
		fmt.Fprintln(os.Stderr, "panicjob:", err)
		os.Exit(1)
	}
}
