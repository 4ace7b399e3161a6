package main

import (
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"--query", "q5", "--events", "1000", "--sink", "discard"})
	if err != nil {
		t.Fatal(err)
	}
	if o.query != "q5" || o.gen.NumEvents != 1000 || o.gen.RateLimited || o.sink != "discard" || o.wmDelay != 4*time.Second {
		t.Fatalf("bounded run parsed as %+v", o)
	}
	o, err = parseArgs([]string{"--query", "q1", "--rate", "100000"})
	if err != nil {
		t.Fatal(err)
	}
	if o.gen.NumEvents != 0 || !o.gen.RateLimited || o.gen.FirstEventRate != 100000 || o.sink != "print" {
		t.Fatalf("--rate without --events must be an unbounded paced run printing results: %+v", o)
	}
	o, err = parseArgs([]string{"--query", "q1", "--rate", "5000", "--events", "10"})
	if err != nil {
		t.Fatal(err)
	}
	if o.gen.RateLimited {
		t.Fatal("--events with --rate must generate as fast as possible (rate spaces event times)")
	}
	o, err = parseArgs([]string{"--query", "q7", "--output", "/tmp/x"})
	if err != nil || o.sink != "file" {
		t.Fatalf("--output implies the file sink: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{},
		{"--query", "q1", "--sink", "file"},
		{"--query", "q1", "--sink", "discard", "--output", "/tmp/x"},
		{"--query", "q1", "--sink", "kafka"},
		{"--query", "q1", "--rate", "0"},
		{"--query", "q1", "--events", "-5"},
		{"--query", "q1", "stray"},
		{"--nope"},
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}
