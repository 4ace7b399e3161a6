package stream_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/stream"
)

// TestWindowGoldenPebble replays the window golden scripts (tumbling, sliding and session
// windows, allowed lateness, late side output) with the pebble state backend: window contents
// and session lists live in Pebble under their window namespaces; the results equal the golden
// files, as with the heap backend.
func TestWindowGoldenPebble(t *testing.T) {
	files, _ := filepath.Glob("testdata/windows/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			assigner, lateness, evs, want := parseGolden(t, path)
			env := stream.NewEnvironment().SetParallelism(2)
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
			tmp := t.TempDir()
			if err := runLocal(t, env, map[string]string{"state.backend.type": "pebble", "io.tmp.dirs": tmp}); err != nil {
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
			if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
				t.Errorf("local state left behind: %v", left)
			}
		})
	}
}
