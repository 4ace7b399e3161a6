package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const restSample = `{"counts":{"restored":0,"total":5,"in_progress":1,"completed":3,"failed":1},
"summary":{"state_size":{"min":1,"max":3,"avg":2},"end_to_end_duration":{"min":100,"max":900,"avg":400}},
"latest":{"completed":{"id":4,"status":"COMPLETED","state_size":3145728,"checkpointed_size":1048576,"end_to_end_duration":900}},
"history":[{"id":5,"status":"IN_PROGRESS","end_to_end_duration":50},
{"id":4,"status":"COMPLETED","end_to_end_duration":900},
{"id":3,"status":"FAILED","end_to_end_duration":7000},
{"id":2,"status":"COMPLETED","end_to_end_duration":200},
{"id":6,"status":"COMPLETED","is_savepoint":true,"end_to_end_duration":5000},
{"id":1,"status":"COMPLETED","end_to_end_duration":100}]}`

func TestApplyCheckpointStats(t *testing.T) {
	var r CheckpointRun
	if err := r.ApplyCheckpointStats([]byte(restSample)); err != nil {
		t.Fatal(err)
	}
	if r.Completed != 3 || r.Failed != 1 {
		t.Errorf("counts %d/%d, want 3/1", r.Completed, r.Failed)
	}
	// p50 over the completed checkpoints 100, 200, 900 (not the savepoint, failed or running ones).
	if r.DurationP50 != 200*time.Millisecond || r.DurationMax != 900*time.Millisecond {
		t.Errorf("p50 %s max %s, want 200ms 900ms", r.DurationP50, r.DurationMax)
	}
	if r.StateSize != 3<<20 || r.CheckpointedSize != 1<<20 {
		t.Errorf("sizes %d %d", r.StateSize, r.CheckpointedSize)
	}
	if err := r.ApplyCheckpointStats([]byte("<html>not found</html>")); err == nil || !strings.Contains(err.Error(), "checkpoint statistics") {
		t.Errorf("bad body: %v", err)
	}
}

func TestApplyCheckpointStatsNoCheckpoint(t *testing.T) {
	var r CheckpointRun
	if err := r.ApplyCheckpointStats([]byte(`{"counts":{"completed":0},"latest":{"completed":null},"history":[]}`)); err != nil {
		t.Fatal(err)
	}
	if r.Completed != 0 || r.DurationP50 != 0 || r.StateSize != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestParseLocalRun(t *testing.T) {
	out := "Local cluster: JobManager REST API at http://127.0.0.1:40123\nJob has been submitted with JobID 8f3a0c0ffee1234567890abcdef01234\n"
	base, id := ParseLocalRun(out)
	if base != "http://127.0.0.1:40123" || id != "8f3a0c0ffee1234567890abcdef01234" {
		t.Fatalf("%q %q", base, id)
	}
	if b, i := ParseLocalRun("starting"); b != "" || i != "" {
		t.Fatalf("%q %q", b, i)
	}
}

func run(events int64, runtime time.Duration, completed int64) CheckpointRun {
	return CheckpointRun{ThroughputResult: ThroughputResult{Query: "q5", Events: events, Runtime: runtime}, Completed: completed}
}

func TestCheckpointComparisonRatio(t *testing.T) {
	c := CheckpointComparison{Query: "q5", Backend: "pebble",
		Without: []CheckpointRun{run(1000, time.Second, 0), run(1000, 800*time.Millisecond, 0)}, // best 1250/s
		With:    []CheckpointRun{run(1000, 1000*time.Millisecond, 4), {ThroughputResult: ThroughputResult{Err: errors.New("x")}}},
	}
	if got := c.Ratio(); got < 0.7999 || got > 0.8001 {
		t.Fatalf("ratio %v, want 0.8", got)
	}
	if c.Met() {
		t.Fatal("0.8 met the 0.85 target")
	}
	c.With = append(c.With, run(1000, 900*time.Millisecond, 4)) // 1111/s: 0.889
	if !c.Met() {
		t.Fatalf("ratio %v not met", c.Ratio())
	}
	c.With = []CheckpointRun{run(1000, 500*time.Millisecond, 0)}
	if c.Met() {
		t.Fatal("met without any completed checkpoint")
	}
	c.Without = nil
	if c.Ratio() != 0 || c.Met() {
		t.Fatal("ratio without a baseline")
	}
}

func TestCheckpointMarkdown(t *testing.T) {
	w := run(30_000_000, 40*time.Second, 4)
	w.DurationP50, w.DurationMax, w.StateSize = 250*time.Millisecond, 1200*time.Millisecond, 5<<20
	cs := []CheckpointComparison{
		{Query: "q5", Backend: "hashmap", Interval: 10 * time.Second, Without: []CheckpointRun{run(30_000_000, 37500*time.Millisecond, 0)}, With: []CheckpointRun{w}},
		{Query: "q7", Backend: "pebble", Err: errors.New("calibration run: boom | bad")},
		{Query: "q5", Backend: "pebble", Profile: "Showing nodes\n  flat  pebble.(*DB).Set\n", Without: []CheckpointRun{run(100, time.Second, 0)}, With: []CheckpointRun{run(100, 2*time.Second, 3)}},
		{Query: "q7", Backend: "hashmap", Without: []CheckpointRun{{ThroughputResult: ThroughputResult{Err: errors.New("exit 1")}}}},
	}
	md := CheckpointMarkdown(Machine{Date: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), CPUs: 2}, cs)
	for _, want := range []string{
		"every 10s vs. without",
		"| q5 | hashmap | 30000000 | 800000 | 750000 | 0.938 | ≥ 0.85 | met | 4 (0) | 250.00 ms / 1200.00 ms | 5.0 MiB | 800000 | 750000 |",
		"| q7 | pebble | – | – | – | – | ≥ 0.85 | failed: calibration run: boom / bad |",
		"| q7 | hashmap | – | – | – | – | ≥ 0.85 | failed: exit 1 |",
		"| q5 | pebble | 100 | 100 | 50 | 0.500 | ≥ 0.85 | **missed** |",
		"q5 on pebble with checkpoints (missed the target; in-process run, `go tool pprof -top`):\n\n```\nShowing nodes\n  flat  pebble.(*DB).Set\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# B\n\n" + CheckpointBeginMarker + "\nold\n" + CheckpointEndMarker + "\n\ntail\n"
	got := ReplaceSection(doc, CheckpointBeginMarker, CheckpointEndMarker, "new\n")
	if got != "# B\n\n"+CheckpointBeginMarker+"\nnew\n"+CheckpointEndMarker+"\n\ntail\n" {
		t.Fatalf("%q", got)
	}
	got = ReplaceSection("# B\n", CheckpointBeginMarker, CheckpointEndMarker, "x")
	if got != "# B\n\n"+CheckpointBeginMarker+"\nx\n"+CheckpointEndMarker+"\n" {
		t.Fatalf("%q", got)
	}
	// The results markers are left alone.
	both := BeginMarker + "\nr\n" + EndMarker + "\n" + CheckpointBeginMarker + "\nc\n" + CheckpointEndMarker
	if got := ReplaceSection(both, CheckpointBeginMarker, CheckpointEndMarker, "c2"); !strings.Contains(got, BeginMarker+"\nr\n"+EndMarker) || !strings.Contains(got, "\nc2\n") {
		t.Fatalf("%q", got)
	}
}
