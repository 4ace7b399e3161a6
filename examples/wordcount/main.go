// Command wordcount counts the words of a text file (or directory of files) and writes the final
// counts as "word<TAB>count" lines to an output directory (part files), or prints them.
//
//	flink-go run -t local -p 2 bin/examples/wordcount --input F --output D
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/connectors/file"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/stream"
)

func main() {
	fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
	input := fs.String("input", "", "input file or directory (required)")
	output := fs.String("output", "", "output directory for the counts; empty prints them")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *input == "" {
		fmt.Fprintln(os.Stderr, "wordcount: --input is required")
		os.Exit(2)
	}
	if err := run(*input, *output); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

type count = serde.Tuple2[string, int64]

func run(input, output string) error {
	env := stream.NewEnvironment()
	src, err := file.NewLineSource(input)
	if err != nil {
		return err
	}
	lines := stream.FromSource[string](env, src, stream.NoWatermarks[string](), "lines")
	words := stream.FlatMap(lines, func(line string, out stream.Collector[count]) {
		for _, w := range strings.Fields(line) {
			out.Collect(count{F0: w, F1: 1})
		}
	}).Name("Tokenizer")
	counts := stream.KeyedProcess(stream.KeyBy(words, func(c count) string { return c.F0 }),
		stream.ProcessFunc[string, count, count]{
			// Keep a running count per word and emit the final count when the input ends
			// (the end-of-input watermark fires the timer).
			Element: func(c count, ctx *stream.KeyedContext[string], _ stream.Collector[count]) error {
				st := stream.GetValueState[int64](ctx, "count")
				n, seen := st.Value()
				st.Update(n + c.F1)
				if !seen {
					ctx.TimerService().RegisterEventTimeTimer(int64(^uint64(0) >> 1))
				}
				return nil
			},
			Timer: func(_ int64, ctx *stream.KeyedContext[string], out stream.Collector[count]) error {
				n, _ := stream.GetValueState[int64](ctx, "count").Value()
				out.Collect(count{F0: ctx.CurrentKey(), F1: n})
				return nil
			},
		}).Name("Count")
	if output == "" {
		counts.SinkTo(sinks.Print[count](""), "print")
	} else {
		sink, err := file.NewFileSink(output, func(c count) []byte { return []byte(c.F0 + "\t" + strconv.FormatInt(c.F1, 10)) })
		if err != nil {
			return err
		}
		counts.SinkTo(sink, "counts")
	}
	return env.Execute("WordCount")
}
