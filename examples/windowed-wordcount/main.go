// Command windowed-wordcount counts words per event-time window on out-of-order input.
//
// Input lines are "<epoch-ms> <text...>"; without --input it generates a bounded, shuffled
// stream of timestamped sentences (out of order by up to --disorder). Words are counted per
// tumbling window of --window; records later than the watermark plus --lateness go to a side
// output that is printed with a "late>" prefix.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flink-go/flink-go/connectors/file"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

type line struct {
	TS   int64
	Text string
}

type wordCount struct {
	Word        string
	WindowStart int64
	WindowEnd   int64
	Count       int64
}

func (w wordCount) String() string {
	return fmt.Sprintf("%s [%s, %s) %s=%d", "window", time.UnixMilli(w.WindowStart).UTC().Format("15:04:05"),
		time.UnixMilli(w.WindowEnd).UTC().Format("15:04:05"), w.Word, w.Count)
}

type counter struct{}

func (counter) CreateAccumulator() int64    { return 0 }
func (counter) Add(_ line, acc int64) int64 { return acc + 1 }
func (counter) GetResult(acc int64) int64   { return acc }
func (counter) Merge(a, b int64) int64      { return a + b }

func main() {
	fs := flag.NewFlagSet("windowed-wordcount", flag.ContinueOnError)
	input := fs.String("input", "", "input file of '<epoch-ms> <text>' lines (default: generated)")
	output := fs.String("output", "", "output directory (default: print)")
	window := fs.Duration("window", 5*time.Second, "tumbling window size")
	disorder := fs.Duration("disorder", 2*time.Second, "bounded out-of-orderness of the watermark")
	lateness := fs.Duration("lateness", time.Second, "allowed lateness of windows")
	records := fs.Int("records", 2000, "generated records (without --input)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := run(*input, *output, *window, *disorder, *lateness, *records); err != nil {
		fmt.Fprintln(os.Stderr, "windowed-wordcount:", err)
		os.Exit(1)
	}
}

// generate makes timestamped sentences 10 ms apart, locally shuffled so that some arrive up to
// 3 s late: with a 2 s bound and 1 s lateness a few end up in the late side output.
func generate(n int) []string {
	words := []string{"flink", "go", "stream", "window", "state", "yarn", "emr", "checkpoint"}
	r := rand.New(rand.NewPCG(7, 11))
	base := int64(1_700_000_000_000)
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for j := 0; j < 1+r.IntN(4); j++ {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[r.IntN(len(words))])
		}
		out[i] = fmt.Sprintf("%d %s", base+int64(i)*10, sb.String())
	}
	for i := range out { // displace records by up to 300 positions (3 s)
		j := i + r.IntN(300)
		if j < n {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func parse(s string) (line, bool) {
	ts, text, ok := strings.Cut(s, " ")
	if !ok {
		return line{}, false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return line{}, false
	}
	return line{TS: n, Text: text}, true
}

func run(input, output string, window, disorder, lateness time.Duration, n int) error {
	env := stream.NewEnvironment()
	var raw *stream.DataStream[string]
	if input != "" {
		src, err := file.NewLineSource(input)
		if err != nil {
			return err
		}
		raw = stream.FromSource[string](env, src, stream.NoWatermarks[string](), "lines")
	} else {
		raw = stream.FromSlice(env, generate(n)).Name("generated lines").SetParallelism(1)
	}
	lines := stream.FlatMap(raw, func(s string, out stream.Collector[line]) {
		if l, ok := parse(s); ok {
			out.Collect(l)
		}
	}).Name("Parse")
	// Timestamps and watermarks are assigned after parsing: re-source the parsed stream.
	words := stream.Process(lines, func(l line, ctx *stream.Context, out stream.Collector[line]) error {
		for _, w := range strings.Fields(l.Text) {
			out.Collect(line{TS: l.TS, Text: w})
		}
		return nil
	}).Name("Tokenizer")
	timed := stream.AssignTimestampsAndWatermarks(words, stream.ForBoundedOutOfOrderness[line](disorder).
		WithTimestampAssigner(func(l line, _ int64) int64 { return l.TS }))
	late := stream.NewOutputTag[line]("late-words")
	ws := stream.KeyBy(timed, func(l line) string { return l.Text }).
		Window(stream.TumblingEventTimeWindows(window)).AllowedLateness(lateness).SideOutputLateData(late)
	counts := stream.AggregateWindow(ws, stream.AggregateFunction[line, int64, int64](counter{}),
		func(word string, w stream.TimeWindow, n int64, out stream.Collector[wordCount]) error {
			out.Collect(wordCount{Word: word, WindowStart: w.Start, WindowEnd: w.End, Count: n})
			return nil
		}).Name("WindowCount")
	lateWords := stream.Map(stream.GetSideOutput(counts, late), func(l line) string {
		return fmt.Sprintf("late word %q at %s", l.Text, time.UnixMilli(l.TS).UTC().Format("15:04:05.000"))
	})
	if output != "" {
		sink, err := file.NewFileSink(output, func(w wordCount) []byte {
			return []byte(fmt.Sprintf("%s\t%d\t%d\t%d", w.Word, w.WindowStart, w.WindowEnd, w.Count))
		})
		if err != nil {
			return err
		}
		counts.SinkTo(sink, "window counts")
	} else {
		counts.SinkTo(sinks.Print[wordCount](""), "print")
	}
	lateWords.SinkTo(sinks.Print[string]("late"), "late words")
	return env.Execute("WindowedWordCount")
}
