// Command socket-window-wordcount is Flink's classic example: it reads text lines from a socket
// and prints word counts per 5 s processing-time window. Start a text server first, e.g.
// `nc -lk 9999`, then `flink-go run bin/examples/socket-window-wordcount --port 9999`.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/connectors/socket"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/stream"
)

type count = serde.Tuple2[string, int64]

func main() {
	fs := flag.NewFlagSet("socket-window-wordcount", flag.ContinueOnError)
	host := fs.String("hostname", "localhost", "host of the text server")
	port := fs.Int("port", 0, "port of the text server (required)")
	window := fs.Duration("window", 5*time.Second, "processing-time window size")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *port <= 0 {
		fmt.Fprintln(os.Stderr, "socket-window-wordcount: --port is required (start a text server with 'nc -lk 9999')")
		os.Exit(2)
	}
	if err := run(net.JoinHostPort(*host, strconv.Itoa(*port)), *window); err != nil {
		fmt.Fprintln(os.Stderr, "socket-window-wordcount:", err)
		os.Exit(1)
	}
}

func run(addr string, window time.Duration) error {
	env := stream.NewEnvironment()
	src, err := socket.NewSource(addr)
	if err != nil {
		return err
	}
	text := stream.FromSource[string](env, src, stream.NoWatermarks[string](), "socket "+addr).SetParallelism(1)
	words := stream.FlatMap(text, func(l string, out stream.Collector[count]) {
		for _, w := range strings.Fields(l) {
			out.Collect(count{F0: w, F1: 1})
		}
	})
	counts := stream.KeyBy(words, func(c count) string { return c.F0 }).
		Window(stream.TumblingProcessingTimeWindows(window)).
		Reduce(func(a, b count) count { return count{F0: a.F0, F1: a.F1 + b.F1} })
	counts.SinkTo(sinks.Print[count](""), "print").SetParallelism(1)
	return env.Execute("Socket Window WordCount")
}
