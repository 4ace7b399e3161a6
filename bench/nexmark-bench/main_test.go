package main

import "testing"

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"--parts", "throughput, rss", "--queries", "q0,q5"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.parts["throughput"] || !o.parts["rss"] || o.parts["latency"] || len(o.queries) != 2 || o.queries[1] != "q5" {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"--parts", "speed"}, {"--seconds", "0s"}, {"--latency-rate", "-1"}, {"--repeat", "0"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTrimPprof(t *testing.T) {
	in := "File: nexmark\nType: cpu\nShowing nodes accounting for 1s\n  flat  flat%\n"
	if got := trimPprof(in); got != "Showing nodes accounting for 1s\n  flat  flat%\n" {
		t.Fatalf("%q", got)
	}
}

func TestTrimPprofNames(t *testing.T) {
	in := "  0.05s  2.27%  github.com/flink-go/flink-go/stream.(*flatMapOp[go.shape.struct { Type int64; Bid github.com/flink-go/flink-go/connectors/nexmark.Bid },go.shape.int64]).ProcessElement\n"
	want := "  0.05s  2.27%  stream.(*flatMapOp[struct{…},go.shape.int64]).ProcessElement\n"
	if got := trimPprof(in); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
