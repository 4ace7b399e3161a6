// Command nexmark runs one Nexmark benchmark query (q0–q5, q7, q8) on events from the built-in
// Nexmark generator.
//
//	flink-go run -t local -p 2 bin/examples/nexmark --query q5 --events 10000000 --sink discard
//	flink-go run -t local bin/examples/nexmark --query q1 --rate 100000        # unbounded, paced
//	bin/examples/nexmark --query q7 --events 1000000 --output /tmp/q7          # part files
//
// Bounded by --events N (generated as fast as possible; --rate then only spaces event times,
// add --rate-limited to pace), or unbounded at --rate R events per wall-clock second when
// --events is not given. Results are printed (default), written as text lines to part files
// under --output DIR, or dropped (--sink discard, Nexmark's blackhole). Event time comes from
// the generator; the watermark trails it by --watermark-delay (4 s, as the reference DDL).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/examples/nexmark/queries"
	"github.com/flink-go/flink-go/stream"
)

// options are the command line of the job.
type options struct {
	query      string
	sink       string
	output     string
	wmDelay    time.Duration
	cpuProfile string
	par        int
	gen        nexmark.Config
}

// parseArgs parses the command line; the decisions (bounded or paced, which sink) live here so
// they are testable without running a job.
func parseArgs(args []string) (*options, error) {
	o := &options{gen: nexmark.DefaultConfig()}
	fs := flag.NewFlagSet("nexmark", flag.ContinueOnError)
	fs.StringVar(&o.query, "query", "", "query to run: "+strings.Join(queries.Names, ", ")+" (required)")
	fs.StringVar(&o.sink, "sink", "", "result sink: print (default), discard, file (needs --output)")
	fs.StringVar(&o.output, "output", "", "write results as text lines into part files under this directory")
	fs.DurationVar(&o.wmDelay, "watermark-delay", queries.OutOfOrderness, "bounded out-of-orderness of the watermark; negative: use the generator's own watermarks")
	fs.IntVar(&o.par, "parallelism", 0, "parallelism of the job when run directly (0: from flink-go run -p, else 1)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client and goroutine TaskManagers) to this file")
	nexmark.RegisterFlags(fs, &o.gen)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.query == "" {
		return nil, fmt.Errorf("--query is required (one of %s)", strings.Join(queries.Names, ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rate"] && !set["events"] {
		o.gen.RateLimited = true // unbounded at --rate events per second
	}
	switch {
	case o.sink == "" && o.output != "":
		o.sink = string(queries.SinkFile)
	case o.sink == "":
		o.sink = string(queries.SinkPrint)
	case o.sink == string(queries.SinkFile) && o.output == "":
		return nil, errors.New("--sink file needs --output DIR")
	case o.sink != string(queries.SinkFile) && o.output != "":
		return nil, fmt.Errorf("--output is only used with the file sink, not --sink %s", o.sink)
	}
	switch queries.SinkKind(o.sink) {
	case queries.SinkPrint, queries.SinkDiscard, queries.SinkFile:
	default:
		return nil, fmt.Errorf("unknown --sink %q: use print, discard or file", o.sink)
	}
	if o.par < 0 {
		return nil, fmt.Errorf("--parallelism must not be negative, got %d", o.par)
	}
	if err := o.gen.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "nexmark:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "nexmark:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	env := stream.NewEnvironment()
	if o.par > 0 {
		env.SetParallelism(o.par)
	}
	events, err := queries.Source(env, o.gen, o.wmDelay)
	if err != nil {
		return err
	}
	res, err := queries.Apply(o.query, events, queries.SinkSpec{Kind: queries.SinkKind(o.sink), Dir: o.output})
	if err != nil {
		return err
	}
	// Only the process that runs the job (not the plan or TaskManager roles) profiles.
	role := os.Getenv(cluster.EnvRole)
	local := role == "" || role == cluster.RoleLocal
	if o.cpuProfile != "" && local {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("creating the CPU profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	start := time.Now()
	if err := env.Execute("Nexmark " + strings.ToUpper(o.query)); err != nil {
		return err
	}
	if local && o.gen.NumEvents > 0 {
		el := time.Since(start)
		msg := fmt.Sprintf("Nexmark %s: %d events in %.3f s (%.0f events/s, including cluster start-up)", o.query, o.gen.NumEvents, el.Seconds(), float64(o.gen.NumEvents)/el.Seconds())
		if res.Count != nil && env.Config("local.taskmanagers.processes") != "true" { // counted in this process only
			msg += fmt.Sprintf("; %d result rows", res.Count())
		}
		fmt.Fprintln(os.Stderr, msg)
	}
	return nil
}
