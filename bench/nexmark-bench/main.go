// Command nexmark-bench runs the whole-job Nexmark benchmarks of flink-go and writes the results
// into docs/benchmarks.md (between the bench:results markers):
//
//   - throughput: every query through `flink-go run -t local -p 2` with the generator in the job,
//     a discard sink and a 100 ms buffer timeout; a short calibration run sizes each measured run
//     to about --seconds of job runtime; events/s = events / "Job Runtime";
//   - latency: q1 in process (goroutine TaskManagers) at --latency-rate events/s with a 5 ms
//     buffer timeout, p50/p99/max source-to-sink latency (see bench.RunLatency);
//   - rss: q5 with -D local.taskmanagers.processes=true, sampling VmRSS/VmHWM of the
//     TaskManager processes every 100 ms;
//   - profile: for queries that missed their target, a CPU profile of an in-process run and the
//     top functions of `go tool pprof -top` (with the checkpoint part: also of the runs with
//     checkpoints that missed the ratio target);
//   - checkpoint: --checkpoint-queries (q5, q7) on each of --checkpoint-backends (hashmap,
//     pebble), without checkpoints and with execution.checkpointing.interval=10s into a local
//     directory, interleaved (A, B, A, B ...) --checkpoint-repeat times, each run sized to about
//     --checkpoint-seconds; throughput of both sides, their ratio (target >= 0.85) and the
//     checkpoint count, duration p50/max and state size from REST /jobs/:id/checkpoints polled
//     while the job runs. Written between the bench:checkpoint markers of --doc; a run of only
//     this part leaves the bench:results section alone.
//
// Usage (scripts/bench.sh calls it after make build):
//
//	go run ./bench/nexmark-bench --parts throughput,latency,rss,profile,checkpoint --doc docs/benchmarks.md
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/bench"
	"github.com/flink-go/flink-go/examples/nexmark/queries"
)

type options struct {
	flinkGo, job    string
	queries         []string
	parts           map[string]bool
	seconds         time.Duration
	calibrate       int64
	repeat          int
	maxEvents       int64
	latencyRate     float64
	latencyWarmup   time.Duration
	latencyDuration time.Duration
	rssEvents       int64
	profileDir      string
	profileSeconds  time.Duration
	profileAlso     map[string]bool
	doc, micro      string
	// checkpoint part
	ckQueries  []string
	ckBackends []string
	ckSeconds  time.Duration
	ckInterval time.Duration
	ckDir      string
	ckRepeat   int
}

func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("nexmark-bench", flag.ContinueOnError)
	fs.StringVar(&o.flinkGo, "flink-go", "bin/flink-go", "the flink-go CLI binary")
	fs.StringVar(&o.job, "job", "bin/examples/nexmark", "the Nexmark example job binary")
	qs := fs.String("queries", strings.Join(queries.Names, ",")+",q5-window", "queries to measure (q5-window: q5 on the window operator)")
	parts := fs.String("parts", "throughput,latency,rss,profile", "what to run: throughput, latency, rss, profile, checkpoint")
	ckq := fs.String("checkpoint-queries", "q5,q7", "checkpoint part: queries to compare with and without checkpoints")
	ckb := fs.String("checkpoint-backends", "hashmap,pebble", "checkpoint part: state.backend.type values")
	fs.DurationVar(&o.ckSeconds, "checkpoint-seconds", 40*time.Second, "checkpoint part: job runtime to aim for per run (several checkpoint intervals)")
	fs.DurationVar(&o.ckInterval, "checkpoint-interval", 10*time.Second, "checkpoint part: execution.checkpointing.interval")
	fs.IntVar(&o.ckRepeat, "checkpoint-repeat", 0, "checkpoint part: interleaved run pairs (without, with) per query and backend; 0: --repeat")
	fs.StringVar(&o.ckDir, "checkpoint-dir", "build/bench/checkpoints", "checkpoint part: local directory for the checkpoints (emptied after each run)")
	fs.DurationVar(&o.seconds, "seconds", 15*time.Second, "job runtime to aim for per throughput run")
	fs.IntVar(&o.repeat, "repeat", 1, "measured runs per query; the fastest is reported (less noise from other load)")
	fs.Int64Var(&o.calibrate, "calibrate-events", 2_000_000, "events of the calibration run that sizes each throughput run")
	fs.Int64Var(&o.maxEvents, "max-events", 400_000_000, "upper bound of events per run")
	fs.Float64Var(&o.latencyRate, "latency-rate", 100_000, "events/s of the latency run")
	fs.DurationVar(&o.latencyWarmup, "latency-warmup", 5*time.Second, "latency run: warm-up not measured")
	fs.DurationVar(&o.latencyDuration, "latency-duration", 20*time.Second, "latency run: measured period")
	fs.Int64Var(&o.rssEvents, "rss-events", 0, "events of the q5 memory run (0: the size of the q5 throughput run, else 20M)")
	fs.StringVar(&o.profileDir, "profile-dir", "build/bench", "directory for CPU profiles")
	fs.DurationVar(&o.profileSeconds, "profile-seconds", 6*time.Second, "job runtime to aim for per profiled run")
	also := fs.String("profile-also", "", "queries to profile even when they met their target (comma-separated)")
	fs.StringVar(&o.doc, "doc", "docs/benchmarks.md", "markdown file whose results section is replaced (empty: print only)")
	fs.StringVar(&o.micro, "micro", "", "file with Go micro-benchmark output to include")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		switch p = strings.TrimSpace(p); p {
		case "throughput", "latency", "rss", "profile", "checkpoint":
			o.parts[p] = true
		case "":
		default:
			return nil, fmt.Errorf("unknown part %q: use throughput, latency, rss, profile, checkpoint", p)
		}
	}
	o.profileAlso = map[string]bool{}
	for _, q := range strings.Split(*also, ",") {
		if q = strings.TrimSpace(q); q != "" {
			o.profileAlso[q] = true
		}
	}
	for _, q := range strings.Split(*qs, ",") {
		if q = strings.TrimSpace(q); q != "" {
			o.queries = append(o.queries, q)
		}
	}
	o.ckQueries = splitList(*ckq)
	o.ckBackends = splitList(*ckb)
	for _, b := range o.ckBackends {
		if b != "hashmap" && b != "pebble" {
			return nil, fmt.Errorf("unknown state backend %q in --checkpoint-backends: use hashmap, pebble", b)
		}
	}
	if o.parts["checkpoint"] && (len(o.ckQueries) == 0 || len(o.ckBackends) == 0) {
		return nil, errors.New("the checkpoint part needs at least one --checkpoint-queries and one --checkpoint-backends entry")
	}
	if o.ckRepeat < 0 {
		return nil, errors.New("--checkpoint-repeat must not be negative")
	}
	if o.ckRepeat == 0 {
		o.ckRepeat = o.repeat
	}
	if o.ckSeconds <= 0 || o.ckInterval <= 0 || o.ckSeconds < o.ckInterval {
		return nil, fmt.Errorf("--checkpoint-seconds (%s) and --checkpoint-interval (%s) must be positive, the runtime at least one interval", o.ckSeconds, o.ckInterval)
	}
	if o.seconds <= 0 || o.calibrate <= 0 || o.latencyRate <= 0 || o.latencyDuration <= 0 || o.repeat <= 0 {
		return nil, errors.New("--seconds, --calibrate-events, --repeat, --latency-rate and --latency-duration must be positive")
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "nexmark-bench:", err)
		os.Exit(2)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()
	if err := run(o, log); err != nil {
		log.Error().Err(err).Msg("benchmark failed")
		os.Exit(1)
	}
}

func run(o *options, log zerolog.Logger) error {
	rep := &bench.Report{Machine: bench.CurrentMachine(), Profiles: map[string]string{}}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rep.Machine.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			rep.Machine.Commit += " (work tree with uncommitted changes)"
		}
	}
	if o.micro != "" {
		b, err := os.ReadFile(o.micro)
		if err != nil {
			return fmt.Errorf("reading the micro-benchmark output: %w", err)
		}
		rep.Micro = string(b)
	}
	if o.parts["throughput"] || o.parts["rss"] || o.parts["profile"] || o.parts["checkpoint"] {
		for _, p := range []string{o.flinkGo, o.job} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("%s is missing (run make build first): %w", p, err)
			}
		}
	}
	sizes := map[string]int64{}
	if o.parts["throughput"] {
		for _, q := range o.queries {
			r := throughput(o, q, log)
			sizes[q] = r.Events
			rep.Throughput = append(rep.Throughput, r)
		}
	}
	if o.parts["latency"] {
		log.Info().Float64("rate", o.latencyRate).Dur("duration", o.latencyWarmup+o.latencyDuration).Msg("latency run (q1)")
		l := bench.RunLatency(context.Background(), bench.LatencyConfig{Rate: o.latencyRate, Warmup: o.latencyWarmup, Duration: o.latencyDuration,
			BufferTimeout: 5 * time.Millisecond, Parallelism: 2, TaskManagers: 2, Log: log.Level(zerolog.WarnLevel)})
		log.Info().Int("samples", l.Samples).Dur("p50", l.P50).Dur("p99", l.P99).Dur("max", l.Max).AnErr("error", l.Err).Msg("latency")
		rep.Latency = &l
	}
	if o.parts["rss"] {
		n := o.rssEvents
		if n == 0 {
			n = sizes["q5"]
		}
		if n == 0 {
			n = 20_000_000
		}
		r := rss(o, n, log)
		rep.RSS = &r
	}
	if o.parts["profile"] {
		for _, t := range rep.Throughput {
			if t.Err != nil || (t.Met() && !o.profileAlso[t.Query]) {
				continue
			}
			top, err := profile(o, t, log)
			if err != nil {
				top = "profiling failed: " + err.Error()
			}
			rep.Profiles[t.Query] = top
		}
	}
	var ckMD string
	if o.parts["checkpoint"] {
		var cs []bench.CheckpointComparison
		for _, q := range o.ckQueries {
			for _, b := range o.ckBackends {
				cs = append(cs, checkpointCompare(o, q, b, log))
			}
		}
		if o.parts["profile"] {
			for i, c := range cs {
				if c.Met() || c.Err != nil {
					continue
				}
				if w, ok := c.BestWith(); ok {
					top, err := profileCheckpoint(o, c, w, log)
					if err != nil {
						top = "profiling failed: " + err.Error()
					}
					cs[i].Profile = top
				}
			}
		}
		ckMD = bench.CheckpointMarkdown(rep.Machine, cs)
		fmt.Println(ckMD)
	}
	// The results section is rewritten only when a part that writes it ran (a checkpoint-only
	// run keeps the other results).
	others := o.parts["throughput"] || o.parts["latency"] || o.parts["rss"] || len(rep.Profiles) > 0
	var md string
	if others {
		md = rep.Markdown()
		fmt.Println(md)
	}
	if o.doc == "" {
		return nil
	}
	doc, err := os.ReadFile(o.doc)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", o.doc, err)
	}
	text := string(doc)
	if others {
		text = bench.ReplaceResults(text, md)
	}
	if ckMD != "" {
		text = bench.ReplaceSection(text, bench.CheckpointBeginMarker, bench.CheckpointEndMarker, ckMD)
	}
	if err := os.WriteFile(o.doc, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", o.doc, err)
	}
	log.Info().Str("doc", o.doc).Msg("results written")
	return nil
}

// runJob runs the Nexmark job through the CLI on the local target at parallelism 2 and returns
// its job runtime, the CPU time of the run (the CLI and its descendants) and the output.
func runJob(o *options, query string, events int64, extraD []string, jobArgs ...string) (time.Duration, time.Duration, string, error) {
	args := []string{"run", "-t", "local", "-p", "2", "-D", "execution.buffer-timeout.interval=100ms"}
	for _, d := range extraD {
		args = append(args, "-D", d)
	}
	args = append(args, o.job, "--query", query, "--events", fmt.Sprint(events), "--sink", "discard")
	args = append(args, jobArgs...)
	cmd := exec.Command(o.flinkGo, args...)
	cmd.Env = append(os.Environ(), "FLINK_GO_LOG_LEVEL=warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, string(out), fmt.Errorf("%s %s: %w: %s", o.flinkGo, strings.Join(args, " "), err, lastLines(string(out), 5))
	}
	// wait4's usage of the CLI includes the descendants it and they waited for (the job process).
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	d, err := bench.ParseJobRuntime(string(out))
	return d, cpu, string(out), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func throughput(o *options, q string, log zerolog.Logger) bench.ThroughputResult {
	cal := o.calibrate
	d, _, _, err := runJob(o, q, cal, nil)
	if err != nil {
		return bench.ThroughputResult{Query: q, Events: cal, Err: err}
	}
	n := bench.SizeRun(cal, d, o.seconds, cal, o.maxEvents)
	log.Info().Str("query", q).Int64("calibration_events", cal).Dur("calibration_runtime", d).Int64("events", n).Msg("measuring")
	var best bench.ThroughputResult
	for i := 0; i < o.repeat; i++ {
		d, cpu, _, err := runJob(o, q, n, nil)
		r := bench.ThroughputResult{Query: q, Events: n, Runtime: d, CPU: cpu, Err: err}
		log.Info().Str("query", q).Int("run", i+1).Int64("events", n).Dur("runtime", d).Dur("cpu", cpu).Float64("events_per_s", r.Rate()).Bool("target_met", r.Met()).AnErr("error", err).Msg("throughput")
		if err != nil {
			return r
		}
		if i == 0 || r.Rate() > best.Rate() {
			best = r
		}
	}
	return best
}

// waitTicking waits for the started cmd to exit, calling onTick every interval meanwhile (on
// this goroutine), and returns Wait's error.
func waitTicking(cmd *exec.Cmd, interval time.Duration, onTick func()) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			onTick()
		}
	}
}

// rss runs q5 with TaskManager processes and samples their memory until the job ends.
func rss(o *options, events int64, log zerolog.Logger) bench.RSSResult {
	res := bench.RSSResult{Query: "q5", Events: events}
	args := []string{"run", "-t", "local", "-p", "2", "-D", "execution.buffer-timeout.interval=100ms", "-D", "local.taskmanagers.processes=true",
		o.job, "--query", "q5", "--events", fmt.Sprint(events), "--sink", "discard"}
	cmd := exec.Command(o.flinkGo, args...)
	cmd.Env = append(os.Environ(), "FLINK_GO_LOG_LEVEL=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	log.Info().Int64("events", events).Msg("memory run (q5, TaskManager processes)")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.Err = fmt.Errorf("starting %s: %w", o.flinkGo, err)
		return res
	}
	s := &bench.RSSSampler{Root: cmd.Process.Pid}
	err := waitTicking(cmd, 100*time.Millisecond, s.Sample)
	res.Duration = time.Since(start)
	res.PeakRSS, res.Samples = s.Peak, s.Samples
	if err != nil {
		res.Err = fmt.Errorf("q5 memory run: %w: %s", err, lastLines(out.String(), 5))
		return res
	}
	res.Runtime, res.Err = bench.ParseJobRuntime(out.String())
	if res.Err == nil && len(res.PeakRSS) == 0 {
		res.Err = errors.New("no TaskManager process was found under the job (was local.taskmanagers.processes honoured?)")
	}
	log.Info().Int("taskmanagers", len(res.PeakRSS)).Int64("max_bytes", res.Max()).AnErr("error", res.Err).Msg("memory")
	return res
}

// profile reruns a query with a CPU profile of the job process (goroutine TaskManagers, so
// the profile covers every task) and returns the top of `go tool pprof -top`.
func profile(o *options, t bench.ThroughputResult, log zerolog.Logger) (string, error) {
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", o.profileDir, err)
	}
	path, err := filepath.Abs(filepath.Join(o.profileDir, t.Query+".cpu.prof"))
	if err != nil {
		return "", err
	}
	n := bench.SizeRun(t.Events, t.Runtime, o.profileSeconds, 100_000, o.maxEvents)
	log.Info().Str("query", t.Query).Int64("events", n).Str("profile", path).Msg("profiling")
	if _, _, _, err := runJob(o, t.Query, n, nil, "--cpuprofile", path); err != nil {
		return "", err
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, lastLines(string(out), 3))
	}
	return trimPprof(string(out)), nil
}

var shapeRE = regexp.MustCompile(`go\.shape\.struct \{[^{}]*\}`)

// trimPprof drops pprof's header lines up to "Showing nodes ..." and shortens the names:
// generic shapes of struct types become struct{…}, the module path is dropped.
func trimPprof(s string) string {
	if i := strings.Index(s, "Showing nodes"); i >= 0 {
		s = s[i:]
	}
	s = shapeRE.ReplaceAllString(s, "struct{…}")
	return strings.ReplaceAll(s, "github.com/flink-go/flink-go/", "")
}
