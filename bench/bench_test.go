package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParseJobRuntime(t *testing.T) {
	out := "Local cluster: ...\nJob abc (Nexmark Q5) finished. Job Runtime: 15234 ms\nNexmark q5: ...\n"
	d, err := ParseJobRuntime(out)
	if err != nil || d != 15234*time.Millisecond {
		t.Fatalf("got %v %v", d, err)
	}
	if _, err := ParseJobRuntime("job failed: boom"); !errors.Is(err, ErrNoRuntime) {
		t.Fatalf("missing line: %v", err)
	}
}

func TestSizeRun(t *testing.T) {
	// 2M events in 1 s -> 15 s needs 30M.
	if n := SizeRun(2_000_000, time.Second, 15*time.Second, 1, 1<<40); n != 30_000_000 {
		t.Fatalf("got %d", n)
	}
	if n := SizeRun(2_000_000, time.Second, 15*time.Second, 1, 10_000_000); n != 10_000_000 {
		t.Fatalf("max clamp: %d", n)
	}
	if n := SizeRun(1000, time.Hour, time.Second, 500_000, 1<<40); n != 500_000 {
		t.Fatalf("min clamp: %d", n)
	}
	if n := SizeRun(1000, 0, time.Second, 1, 1<<40); n <= 0 {
		t.Fatalf("zero calibration time: %d", n)
	}
}

func TestPercentile(t *testing.T) {
	v := make([]int64, 100)
	for i := range v {
		v[i] = int64(i + 1)
	}
	for p, want := range map[float64]int64{50: 50, 99: 99, 99.9: 100, 100: 100, 1: 1} {
		if got := Percentile(v, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if Percentile(nil, 99) != 0 {
		t.Error("empty input")
	}
	if Percentile([]int64{7}, 99) != 7 {
		t.Error("single value")
	}
}

func TestProcParsing(t *testing.T) {
	st := []byte("Name:\tnexmark\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n")
	if v, ok := ParseStatusKB(st, "VmRSS"); !ok || v != 100<<20 {
		t.Fatalf("VmRSS %d %v", v, ok)
	}
	if v, ok := ParseStatusKB(st, "VmHWM"); !ok || v != 200<<20 {
		t.Fatalf("VmHWM %d %v", v, ok)
	}
	if _, ok := ParseStatusKB(st, "VmSwap"); ok {
		t.Fatal("absent field found")
	}
	if p, ok := parentOf([]byte("42 (a (weird) name) S 17 42 42 0 -1")); !ok || p != 17 {
		t.Fatalf("parent %d %v", p, ok)
	}
	if _, ok := parentOf([]byte("garbage")); ok {
		t.Fatal("garbage parsed")
	}
	if m := cpuModel([]byte("processor\t: 0\nmodel name\t: Test CPU @ 3.0GHz\n")); m != "Test CPU @ 3.0GHz" {
		t.Fatalf("model %q", m)
	}
}

func TestDescendantsAndRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if !slices.Contains(Descendants(os.Getpid()), cmd.Process.Pid) {
		t.Fatalf("child %d not among the descendants", cmd.Process.Pid)
	}
	rss, hwm, err := ReadRSS(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if IsTaskManager(cmd.Process.Pid) {
		t.Fatal("sleep is no TaskManager")
	}
	s := &RSSSampler{Root: os.Getpid()}
	s.Sample()
	if len(s.Peak) != 0 || s.Samples != 0 {
		t.Fatalf("sampled non-TaskManagers: %+v", s)
	}
	if _, _, err := ReadRSS(1 << 30); err == nil {
		t.Fatal("nonexistent pid read")
	}
}

func TestReplaceResults(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\nnotes\n"
	got := ReplaceResults(doc, "new table\n")
	if !strings.Contains(got, BeginMarker+"\nnew table\n"+EndMarker) || strings.Contains(got, "old") || !strings.HasSuffix(got, "notes\n") || !strings.HasPrefix(got, "# Benchmarks") {
		t.Fatalf("replaced:\n%s", got)
	}
	got = ReplaceResults("# B\n", "x")
	if !strings.HasSuffix(got, BeginMarker+"\nx\n"+EndMarker+"\n") {
		t.Fatalf("appended:\n%s", got)
	}
}

func TestMarkdown(t *testing.T) {
	r := &Report{
		Machine: Machine{Date: time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC), CPUs: 2, Model: "X", Commit: "abc", GoVersion: "go1.26", LoadAvg: "1 1 1"},
		Throughput: []ThroughputResult{
			{Query: "q0", Events: 30_000_000, Runtime: 15 * time.Second, CPU: 30 * time.Second},
			{Query: "q5", Events: 3_000_000, Runtime: 15 * time.Second},
			{Query: "q4", Events: 1_000_000, Runtime: 10 * time.Second},
			{Query: "q7", Events: 1_000, Err: errors.New("boom | bang")},
		},
		Latency: &LatencyResult{Rate: 100000, BufferTimeout: 5 * time.Millisecond, Samples: 10, P50: time.Millisecond, P99: 30 * time.Millisecond, Max: time.Second, Duration: 20 * time.Second,
			Elapsed: 26 * time.Second, Planned: 25 * time.Second},
		RSS:      &RSSResult{Events: 10, Runtime: time.Second, PeakRSS: map[int]int64{10: 100 << 20, 11: 300 << 20}, Samples: 3},
		Profiles: map[string]string{"q5": "flat  flat%"},
		Micro:    "BenchmarkX 1 ns/op",
	}
	md := r.Markdown()
	for _, want := range []string{
		"| q0 | 30000000 | 15.00 s | 2000000 | 1500000 | met | 30.00 s | 1000000 |",
		"| q5 | 3000000 | 15.00 s | 200000 | 300000 | **missed** |",
		"| q4 | 1000000 | 10.00 s | 100000 | – | – |",
		"| q7 | 1000 | – | – | 90000 | failed: boom / bang | – | – |",
		"failed: boom / bang",
		"| 30.00 ms |", "**missed** |",
		"highest: 300.0 MiB",
		"The job ran 26.0 s for 25.0 s of paced events",
		"q5 (in-process run", "BenchmarkX",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestRunLatency runs a short latency job: every row is measured once, latencies are positive
// and bounded by the run.
func TestRunLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a paced job for ~1.5 s")
	}
	res := RunLatency(context.Background(), LatencyConfig{Rate: 20_000, Warmup: 300 * time.Millisecond, Duration: time.Second,
		BufferTimeout: 5 * time.Millisecond, Parallelism: 2, TaskManagers: 2, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	// 26 000 events, 92 % bids; those emitted after the warm-up (about 1 s of 1.3 s) count.
	if res.Samples < 10_000 || res.Samples > 26_000 {
		t.Fatalf("%d samples", res.Samples)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.Max > 5*time.Second {
		t.Fatalf("implausible latencies %+v", res)
	}
	t.Logf("p50 %v p99 %v max %v (%d samples)", res.P50, res.P99, res.Max, res.Samples)
}
