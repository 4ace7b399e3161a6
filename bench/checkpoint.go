package bench

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// CheckpointRatioTarget is the lowest acceptable throughput with checkpoints every 10 s relative
// to the same query without checkpoints (issue 3: at most 15% below).
const CheckpointRatioTarget = 0.85

// CheckpointRun is one whole-job run of the checkpoint comparison: a query on a state backend,
// with or without periodic checkpoints.
type CheckpointRun struct {
	ThroughputResult
	// Figures from REST /jobs/:id/checkpoints (zero without checkpoints).
	Completed, Failed int64
	DurationP50       time.Duration // over the completed checkpoints in the history
	DurationMax       time.Duration
	StateSize         int64 // of the latest completed checkpoint, bytes
	CheckpointedSize  int64 // uploaded by the latest completed checkpoint, bytes
}

// CheckpointComparison is one query on one backend, measured without and with checkpoints in
// interleaved runs (A, B, A, B ...).
type CheckpointComparison struct {
	Query, Backend string
	Interval       time.Duration
	Without, With  []CheckpointRun
	Err            error
	// Profile is the top of a CPU profile of a run with checkpoints (when the target was
	// missed and profiling was asked for).
	Profile string
}

func best(runs []CheckpointRun) (CheckpointRun, bool) {
	var b CheckpointRun
	ok := false
	for _, r := range runs {
		if r.Err != nil {
			continue
		}
		if !ok || r.Rate() > b.Rate() {
			b, ok = r, true
		}
	}
	return b, ok
}

// BestWithout returns the fastest successful run without checkpoints.
func (c CheckpointComparison) BestWithout() (CheckpointRun, bool) { return best(c.Without) }

// BestWith returns the fastest successful run with checkpoints.
func (c CheckpointComparison) BestWith() (CheckpointRun, bool) { return best(c.With) }

// Ratio returns the best throughput with checkpoints divided by the best without (0 when
// either side has no successful run).
func (c CheckpointComparison) Ratio() float64 {
	a, ok1 := c.BestWithout()
	b, ok2 := c.BestWith()
	if !ok1 || !ok2 || a.Rate() <= 0 {
		return 0
	}
	return b.Rate() / a.Rate()
}

// Met reports whether the ratio reaches CheckpointRatioTarget and the runs with checkpoints
// completed at least one checkpoint.
func (c CheckpointComparison) Met() bool {
	b, ok := c.BestWith()
	return c.Err == nil && ok && b.Completed > 0 && c.Ratio() >= CheckpointRatioTarget
}

// restCheckpoints is the part of REST /jobs/:id/checkpoints the benchmark reads (Flink's
// field names; durations in ms, sizes in bytes).
type restCheckpoints struct {
	Counts struct {
		Completed int64 `json:"completed"`
		Failed    int64 `json:"failed"`
	} `json:"counts"`
	Summary struct {
		EndToEndDuration struct {
			Max int64 `json:"max"`
		} `json:"end_to_end_duration"`
	} `json:"summary"`
	Latest struct {
		Completed *struct {
			StateSize        int64 `json:"state_size"`
			CheckpointedSize int64 `json:"checkpointed_size"`
		} `json:"completed"`
	} `json:"latest"`
	History []struct {
		Status           string `json:"status"`
		IsSavepoint      bool   `json:"is_savepoint"`
		EndToEndDuration int64  `json:"end_to_end_duration"`
	} `json:"history"`
}

// ApplyCheckpointStats fills the checkpoint figures of r from a REST /jobs/:id/checkpoints
// response body.
func (r *CheckpointRun) ApplyCheckpointStats(body []byte) error {
	var s restCheckpoints
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("decoding the checkpoint statistics (is this a /jobs/:id/checkpoints response?): %w", err)
	}
	r.Completed, r.Failed = s.Counts.Completed, s.Counts.Failed
	r.DurationMax = time.Duration(s.Summary.EndToEndDuration.Max) * time.Millisecond
	var ds []int64
	for _, h := range s.History {
		if h.Status == "COMPLETED" && !h.IsSavepoint {
			ds = append(ds, h.EndToEndDuration)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	r.DurationP50 = time.Duration(Percentile(ds, 50)) * time.Millisecond
	if c := s.Latest.Completed; c != nil {
		r.StateSize, r.CheckpointedSize = c.StateSize, c.CheckpointedSize
	}
	return nil
}

var (
	restAddrRE = regexp.MustCompile(`JobManager REST API at (http://[^\s]+)`)
	jobIDRE    = regexp.MustCompile(`submitted with JobID ([0-9a-fA-F]+)`)
)

// ParseLocalRun finds the REST base URL and the job id the local cluster prints at start;
// empty strings until they appear.
func ParseLocalRun(output string) (restURL, jobID string) {
	if m := restAddrRE.FindStringSubmatch(output); m != nil {
		restURL = strings.TrimRight(m[1], "/")
	}
	if m := jobIDRE.FindStringSubmatch(output); m != nil {
		jobID = m[1]
	}
	return restURL, jobID
}

func rates(runs []CheckpointRun) string {
	var s []string
	for _, r := range runs {
		if r.Err != nil {
			s = append(s, "failed")
			continue
		}
		s = append(s, fmt.Sprintf("%.0f", r.Rate()))
	}
	return strings.Join(s, ", ")
}

func bytesHuman(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// CheckpointMarkdown renders the checkpoint comparison section (machine line included).
func CheckpointMarkdown(m Machine, cs []CheckpointComparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s on %d CPUs (%s), commit `%s`, %s; load average at start: %s.\n\n",
		m.Date.UTC().Format("2006-01-02 15:04 MST"), m.CPUs, m.Model, m.Commit, m.GoVersion, m.LoadAvg)
	interval := 10 * time.Second
	if len(cs) > 0 && cs[0].Interval > 0 {
		interval = cs[0].Interval
	}
	fmt.Fprintf(&b, "### Throughput with checkpoints every %s vs. without (parallelism 2, discard sink, interleaved runs, the fastest of each side counts)\n\n", interval)
	b.WriteString("| query | backend | events | events/s without | events/s with | ratio | target | result | checkpoints (failed) | duration p50 / max | state size (latest) | runs without | runs with |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|\n")
	for _, c := range cs {
		if c.Err != nil {
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – | ≥ %.2f | failed: %s | – | – | – | – | – |\n", c.Query, c.Backend, CheckpointRatioTarget, oneLine(c.Err.Error()))
			continue
		}
		a, ok1 := c.BestWithout()
		w, ok2 := c.BestWith()
		if !ok1 || !ok2 {
			msg := "no successful run"
			for _, r := range append(append([]CheckpointRun{}, c.Without...), c.With...) {
				if r.Err != nil {
					msg = r.Err.Error()
					break
				}
			}
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – | ≥ %.2f | failed: %s | – | – | – | %s | %s |\n", c.Query, c.Backend, CheckpointRatioTarget, oneLine(msg), rates(c.Without), rates(c.With))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.0f | %.3f | ≥ %.2f | %s | %d (%d) | %s / %s | %s | %s | %s |\n",
			c.Query, c.Backend, w.Events, a.Rate(), w.Rate(), c.Ratio(), CheckpointRatioTarget, verdict(c.Met()),
			w.Completed, w.Failed, ms(w.DurationP50), ms(w.DurationMax), bytesHuman(w.StateSize), rates(c.Without), rates(c.With))
	}
	b.WriteString("\nCheckpoint figures are those of the fastest run with checkpoints, read from REST `/jobs/:id/checkpoints` while the job ran (polled every second; a checkpoint completing in the last second of a run may be missing).\n")
	for _, c := range cs {
		if c.Profile != "" {
			fmt.Fprintf(&b, "\n%s on %s with checkpoints (missed the target; in-process run, `go tool pprof -top`):\n\n```\n%s\n```\n", c.Query, c.Backend, strings.TrimSpace(c.Profile))
		}
	}
	return b.String()
}

// Markers delimit the generated checkpoint-comparison part of docs/benchmarks.md.
const (
	CheckpointBeginMarker = "<!-- bench:checkpoint:begin -->"
	CheckpointEndMarker   = "<!-- bench:checkpoint:end -->"
)

// ReplaceSection puts content between the begin and end markers of doc; without markers it
// appends them with content at the end.
func ReplaceSection(doc, begin, end, content string) string {
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	block := begin + "\n" + strings.TrimRight(content, "\n") + "\n" + end
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + block + "\n"
	}
	return doc[:i] + block + doc[j+len(end):]
}
