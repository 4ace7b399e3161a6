package stream_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/stream"
)

type gEvent struct {
	Key   string
	TS    int64
	Value int64
	WM    bool
}

// scriptSource replays a golden file's events and watermarks in order (parallelism 1).
type scriptSource []gEvent

func (s scriptSource) Bounded() bool { return true }
func (s scriptSource) CreateReader(op.SourceContext) (op.SourceReader[gEvent], error) {
	return &scriptReader{evs: s}, nil
}

type scriptReader struct {
	evs []gEvent
	i   int
}

func (r *scriptReader) Poll(_ context.Context, out op.SourceOutput[gEvent]) (op.PollStatus, error) {
	if r.i >= len(r.evs) {
		return op.End, nil
	}
	e := r.evs[r.i]
	r.i++
	if e.WM {
		out.EmitWatermark(e.TS)
	} else {
		out.CollectWithTimestamp(e, e.TS)
	}
	return op.MoreAvailable, nil
}
func (r *scriptReader) Snapshot(int64) ([]byte, error) { return nil, nil }
func (r *scriptReader) Close() error                   { return nil }

type sumCount struct{ Sum, Count int64 }

type sumAgg struct{}

func (sumAgg) CreateAccumulator() sumCount       { return sumCount{} }
func (sumAgg) Add(e gEvent, a sumCount) sumCount { return sumCount{a.Sum + e.Value, a.Count + 1} }
func (sumAgg) GetResult(a sumCount) sumCount     { return a }
func (sumAgg) Merge(a, b sumCount) sumCount      { return sumCount{a.Sum + b.Sum, a.Count + b.Count} }

func parseGolden(t *testing.T, path string) (stream.WindowAssigner, time.Duration, []gEvent, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var assigner stream.WindowAssigner
	var lateness time.Duration
	var evs []gEvent
	var want []string
	expect := false
	sc := bufio.NewScanner(f)
	ms := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: bad number %q", path, s)
		}
		return n
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if expect {
			want = append(want, strings.Join(fs, " "))
			continue
		}
		switch fs[0] {
		case "window":
			switch fs[1] {
			case "tumbling":
				assigner = stream.TumblingEventTimeWindows(time.Duration(ms(fs[2])) * time.Millisecond)
			case "sliding":
				assigner = stream.SlidingEventTimeWindows(time.Duration(ms(fs[2]))*time.Millisecond, time.Duration(ms(fs[3]))*time.Millisecond)
			case "session":
				assigner = stream.EventTimeSessionWindows(time.Duration(ms(fs[2])) * time.Millisecond)
			}
		case "lateness":
			lateness = time.Duration(ms(fs[1])) * time.Millisecond
		case "e":
			evs = append(evs, gEvent{Key: fs[1], TS: ms(fs[2]), Value: ms(fs[3])})
		case "w":
			evs = append(evs, gEvent{TS: ms(fs[1]), WM: true})
		case "expect":
			expect = true
		default:
			t.Fatalf("%s: unknown line %q", path, line)
		}
	}
	return assigner, lateness, evs, want
}

// TestWindowGolden runs the golden files under testdata/windows: events and watermarks in,
// window results and late records out.
func TestWindowGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/windows/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range files {
		for _, par := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/p%d", filepath.Base(path), par), func(t *testing.T) {
				testGolden(t, path, par)
			})
		}
	}
}

func testGolden(t *testing.T, path string, par int) {
	assigner, lateness, evs, want := parseGolden(t, path)
	env := stream.NewEnvironment().SetParallelism(par)
	// The scripted source runs once (parallelism 1); windows run at par, so records and
	// watermarks cross the network to several key-group ranges.
	src := stream.FromSource[gEvent](env, scriptSource(evs), stream.NoWatermarks[gEvent](), "script").SetParallelism(1)
	lateTag := stream.NewOutputTag[gEvent]("late")
	type result struct {
		Key        string
		Start, End int64
		Sum, Count int64
	}
	ws := stream.KeyBy(src, func(e gEvent) string { return e.Key }).Window(assigner).AllowedLateness(lateness).SideOutputLateData(lateTag)
	results := stream.AggregateWindow(ws, stream.AggregateFunction[gEvent, sumCount, sumCount](sumAgg{}),
		func(k string, w stream.TimeWindow, r sumCount, out stream.Collector[result]) error {
			out.Collect(result{k, w.Start, w.End, r.Sum, r.Count})
			return nil
		})
	sink := &collectSink[result]{}
	results.SinkTo(sink, "results")
	lateSink := &collectSink[gEvent]{}
	stream.GetSideOutput(results, lateTag).SinkTo(lateSink, "late")
	if err := runLocal(t, env, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range sink.out {
		got = append(got, fmt.Sprintf("%s %d %d %d %d", r.Key, r.Start, r.End, r.Sum, r.Count))
	}
	for _, e := range lateSink.out {
		got = append(got, fmt.Sprintf("late %s %d %d", e.Key, e.TS, e.Value))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results differ\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
