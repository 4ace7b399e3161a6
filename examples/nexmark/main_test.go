package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/examples/nexmark/queries"
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
		{"--query", "q1", "--parallelism", "-1"},
		{"--nope"},
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}

// TestRunToFiles runs the job in process with the file sink and compares the part files'
// lines with the reference query's rows.
func TestRunToFiles(t *testing.T) {
	dir := t.TempDir()
	o, err := parseArgs([]string{"--query", "q2", "--events", "60000", "--output", dir, "--parallelism", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got = append(got, strings.Fields(string(b))...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := nexmark.Generate(o.gen, o.gen.NumEvents)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range nexmark.Q2(evs) {
		want = append(want, queries.Format(r))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("part files hold %d lines, the reference %d", len(got), len(want))
	}
}
