// Package bench is the Nexmark benchmark harness of flink-go: the decision logic (targets,
// parsing a job's runtime, sizing runs, percentiles, the markdown report) plus the I/O around
// it (running jobs, sampling TaskManager memory, an in-process latency job). The command
// bench/nexmark-bench drives it; scripts/bench.sh (make bench) calls that command and writes
// docs/benchmarks.md.
package bench

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Target is the throughput a query must reach (events per second, parallelism 2 on a 2-core
// machine, generator in the job, discard sink). Zero means no target.
var Targets = map[string]float64{
	"q0": 1_500_000,
	"q1": 1_500_000,
	"q2": 1_500_000,
	"q5": 300_000,
	"q7": 90_000,
	"q8": 650_000,
}

// Latency and memory targets.
const (
	// LatencyP99Target is the p99 source-to-sink latency target of q1 at 100 000 events/s with
	// a 5 ms buffer timeout.
	LatencyP99Target = 20 * time.Millisecond
	// RSSTarget is the TaskManager resident set size target during q5.
	RSSTarget int64 = 256 << 20
)

var runtimeRE = regexp.MustCompile(`Job Runtime: (\d+) ms`)

// ErrNoRuntime is returned when a job's output holds no "Job Runtime" line (it failed or was
// not a local run).
var ErrNoRuntime = errors.New(`no "Job Runtime: N ms" line in the job output`)

// ParseJobRuntime finds the job runtime the local cluster prints when a job finished.
func ParseJobRuntime(output string) (time.Duration, error) {
	m := runtimeRE.FindAllStringSubmatch(output, -1)
	if len(m) == 0 {
		return 0, ErrNoRuntime
	}
	ms, err := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("job runtime %q: %w", m[len(m)-1][1], err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// SizeRun returns the number of events for a run of about want, given a calibration run of
// events that took took; the result is rounded to a multiple of 100 000 and clamped to
// [minEvents, maxEvents].
func SizeRun(events int64, took, want time.Duration, minEvents, maxEvents int64) int64 {
	if took <= 0 {
		took = time.Millisecond
	}
	n := int64(float64(events) * want.Seconds() / took.Seconds())
	n = (n + 50_000) / 100_000 * 100_000
	return max(minEvents, min(maxEvents, n))
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by the nearest-rank
// method; 0 when values is empty.
func Percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = max(1, min(len(sorted), rank))
	return sorted[rank-1]
}

// ThroughputResult is one whole-job run.
type ThroughputResult struct {
	Query   string
	Events  int64
	Runtime time.Duration
	// CPU is the user+system time of the whole run (CLI, planning, the job process and its
	// TaskManagers): less sensitive to other load on the machine than the runtime.
	CPU time.Duration
	Err error
}

// PerCPUSecond returns events per CPU-second of the run (0 when unknown).
func (r ThroughputResult) PerCPUSecond() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Events) / r.CPU.Seconds()
}

// Rate returns events per second of job runtime.
func (r ThroughputResult) Rate() float64 {
	if r.Runtime <= 0 {
		return 0
	}
	return float64(r.Events) / r.Runtime.Seconds()
}

// Met reports whether the run reached its query's target (true when there is none).
func (r ThroughputResult) Met() bool {
	t, ok := Targets[r.Query]
	return r.Err == nil && (!ok || r.Rate() >= t)
}

// LatencyResult summarizes a latency run.
type LatencyResult struct {
	Rate          float64       // events/s offered by the paced generator
	BufferTimeout time.Duration // execution.buffer-timeout.interval
	Samples       int           // measured records (after warm-up)
	P50, P99      time.Duration
	P999, Max     time.Duration
	Duration      time.Duration // measured period
	// Elapsed is the wall time of the whole job; close to warm-up + Duration when the paced
	// generator kept up with its schedule (the latency excludes any lag of the generator).
	Elapsed time.Duration
	Planned time.Duration // warm-up + Duration
	Err     error
}

// RSSResult is the memory of the TaskManager processes during a run.
type RSSResult struct {
	Query    string
	Events   int64
	Runtime  time.Duration
	PeakRSS  map[int]int64 // per TaskManager pid: highest VmHWM/VmRSS seen, bytes
	Samples  int
	Err      error
	Duration time.Duration
}

// Max returns the highest peak over the TaskManagers.
func (r RSSResult) Max() int64 {
	var m int64
	for _, v := range r.PeakRSS {
		m = max(m, v)
	}
	return m
}

// Machine describes where the benchmark ran.
type Machine struct {
	Date      time.Time
	CPUs      int
	Model     string
	Commit    string
	GoVersion string
	LoadAvg   string // /proc/loadavg at the start
}

// Report is everything one benchmark session measured.
type Report struct {
	Machine    Machine
	Throughput []ThroughputResult
	Latency    *LatencyResult
	RSS        *RSSResult
	// Profiles maps a query that missed its target (or was asked for) to the top of its CPU
	// profile.
	Profiles map[string]string
	// Micro is the output of the Go micro-benchmarks.
	Micro string
}

func mb(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// Markdown renders the report's results section.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Run of %s on %d CPUs (%s), commit `%s`, %s; load average at start: %s.\n\n",
		m.Date.UTC().Format("2006-01-02 15:04 MST"), m.CPUs, m.Model, m.Commit, m.GoVersion, m.LoadAvg)
	if len(r.Throughput) > 0 {
		b.WriteString("### Throughput (parallelism 2, generator in the job, discard sink, buffer timeout 100 ms)\n\n")
		b.WriteString("| query | events | job runtime | events/s | target | result | CPU (user+sys) | events per CPU-s |\n|---|---:|---:|---:|---:|---|---:|---:|\n")
		for _, t := range r.Throughput {
			target, has := Targets[t.Query]
			ts := "–"
			if has {
				ts = fmt.Sprintf("%.0f", target)
			}
			if t.Err != nil {
				fmt.Fprintf(&b, "| %s | %d | – | – | %s | failed: %s | – | – |\n", t.Query, t.Events, ts, oneLine(t.Err.Error()))
				continue
			}
			res := "–"
			if has {
				res = verdict(t.Met())
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f s | %.0f | %s | %s | %.2f s | %.0f |\n", t.Query, t.Events, t.Runtime.Seconds(), t.Rate(), ts, res,
				t.CPU.Seconds(), t.PerCPUSecond())
		}
		b.WriteString("\n")
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(&b, "### Latency (q1, %.0f events/s paced, buffer timeout %s)\n\n", l.Rate, l.BufferTimeout)
		if l.Err != nil {
			fmt.Fprintf(&b, "failed: %s\n\n", oneLine(l.Err.Error()))
		} else {
			b.WriteString("| samples | measured | p50 | p99 | p99.9 | max | target p99 | result |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
			fmt.Fprintf(&b, "| %d | %.0f s | %s | %s | %s | %s | %s | %s |\n\n", l.Samples, l.Duration.Seconds(), ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max),
				ms(LatencyP99Target), verdict(l.P99 <= LatencyP99Target))
			if l.Planned > 0 {
				fmt.Fprintf(&b, "The job ran %.1f s for %.1f s of paced events (the generator kept up when these are close).\n\n", l.Elapsed.Seconds(), l.Planned.Seconds())
			}
		}
	}
	if s := r.RSS; s != nil {
		fmt.Fprintf(&b, "### TaskManager memory during q5 (TaskManagers as processes)\n\n")
		if s.Err != nil {
			fmt.Fprintf(&b, "failed: %s\n\n", oneLine(s.Err.Error()))
		} else {
			b.WriteString("| TaskManager pid | peak RSS (VmHWM) |\n|---:|---:|\n")
			pids := make([]int, 0, len(s.PeakRSS))
			for p := range s.PeakRSS {
				pids = append(pids, p)
			}
			sort.Ints(pids)
			for _, p := range pids {
				fmt.Fprintf(&b, "| %d | %s |\n", p, mb(s.PeakRSS[p]))
			}
			fmt.Fprintf(&b, "\n%d events in %.2f s, %d samples; highest: %s, target %s: %s.\n\n", s.Events, s.Runtime.Seconds(), s.Samples,
				mb(s.Max()), mb(RSSTarget), verdict(s.Max() <= RSSTarget && s.Max() > 0))
		}
	}
	if len(r.Profiles) > 0 {
		b.WriteString("### CPU profiles (queries that missed their target, and those asked for)\n\n")
		qs := make([]string, 0, len(r.Profiles))
		for q := range r.Profiles {
			qs = append(qs, q)
		}
		sort.Strings(qs)
		for _, q := range qs {
			fmt.Fprintf(&b, "%s (in-process run, goroutine TaskManagers, `go tool pprof -top`):\n\n```\n%s\n```\n\n", q, strings.TrimSpace(r.Profiles[q]))
		}
	}
	if r.Micro != "" {
		b.WriteString("### Micro-benchmarks\n\n```\n" + strings.TrimSpace(r.Micro) + "\n```\n")
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Markers delimit the generated part of docs/benchmarks.md.
const (
	BeginMarker = "<!-- bench:results:begin -->"
	EndMarker   = "<!-- bench:results:end -->"
)

// ReplaceResults puts results between the markers of doc; without markers it appends them.
func ReplaceResults(doc, results string) string {
	return ReplaceSection(doc, BeginMarker, EndMarker, results)
}
