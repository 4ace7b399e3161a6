package main

import (
	"strings"
	"testing"
	"time"
)

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

func TestParseCheckpointArgs(t *testing.T) {
	o, err := parseArgs([]string{"--parts", "checkpoint", "--checkpoint-queries", " q5 ,q7", "--checkpoint-backends", "pebble", "--checkpoint-seconds", "45s", "--repeat", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.parts["checkpoint"] || len(o.ckQueries) != 2 || o.ckQueries[1] != "q7" || len(o.ckBackends) != 1 || o.ckSeconds != 45*time.Second || o.ckInterval != 10*time.Second || o.ckRepeat != 3 {
		t.Fatalf("parsed %+v", o)
	}
	d := backendD(o, "pebble", true, "/tmp/ck")
	if strings.Join(d, " ") != "state.backend.type=pebble execution.checkpointing.interval=10s execution.checkpointing.dir=file:///tmp/ck" {
		t.Fatalf("settings %q", d)
	}
	if d := backendD(o, "hashmap", false, "/tmp/ck"); len(d) != 1 || d[0] != "state.backend.type=hashmap" {
		t.Fatalf("settings without checkpoints %q", d)
	}
	for _, bad := range [][]string{
		{"--checkpoint-backends", "rocksdb"},
		{"--checkpoint-seconds", "5s"}, // shorter than one interval
		{"--checkpoint-interval", "0s"},
		{"--checkpoint-repeat", "-1"},
		{"--parts", "checkpoint", "--checkpoint-queries", " , "},
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
