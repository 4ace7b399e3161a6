// Package queries builds the Nexmark queries q0–q5, q7 and q8 as flink-go pipelines. Each query
// function takes the stream of generator events and returns its result stream, so the example
// job (examples/nexmark), the correctness tests and the benchmark harness share one
// implementation.
//
// The queries follow nexmark/nexmark's Flink SQL (nexmark-flink/src/main/resources/queries) and
// produce what the reference implementations in connectors/nexmark (nexmark.Q0 ... nexmark.Q8)
// compute over a finite input: the same rows, window alignment and tie-breaking. Results use the
// reference's row types. Windowed queries emit a window's rows when the event-time watermark
// passes the window's end; records that arrive after that (late beyond the watermark strategy's
// bound) are dropped, as Flink's window operators drop them.
//
// Streaming plans ("⇒ key" is a hash exchange, "→" a chained or forward step):
//
//	q0  source → bids                                                      (pass-through)
//	q1  source → bids → 0.908·price                                         (projection)
//	q2  source → bids with auction % 123 = 0 → (auction, price)            (selection)
//	q3  persons(state OR/ID/CA) ⇒ id, auctions(category 10) ⇒ seller → incremental join (state)
//	q4  auctions ⇒ id, bids ⇒ auction → max price per auction at expiry (state, timers)
//	    ⇒ category → running average per category (an upsert stream: see Q4)
//	q5  bids ⇒ auction → count per (auction, 2 s pane), summed per sliding window 10 s / 2 s
//	    ⇒ window → auctions with the window's maximum count (timers)
//	q7  bids ⇒ (window end, bucket) → local max and ties per bucket (timers)
//	    ⇒ window end → global max, bids with that price (timers)
//	q8  persons ⇒ id, auctions ⇒ seller → window join on 10 s tumbling windows (state, timers)
package queries

import (
	"fmt"
	"strings"
	"time"

	"github.com/flink-go/flink-go/connectors/file"
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

// Names lists the queries this package implements, in order. Apply also accepts "q5-window",
// q5 on the DataStream window operator (Q5Windowed).
var Names = []string{"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8"}

// OutOfOrderness is the bound of the watermark strategy Source uses by default, as the
// reference DDL: WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND.
const OutOfOrderness = 4 * time.Second

// Source adds a Nexmark generator source to env. Records carry the generator's event time. The
// watermark trails the highest timestamp seen by outOfOrderness (Flink's
// BoundedOutOfOrdernessWatermarks); with outOfOrderness < 0 the source emits the generator's own
// watermarks instead (cfg.EmitWatermarks), which are exact for the generator's
// out-of-order groups but do not cover the occasional delays of a rate-limited run.
func Source(env *stream.Environment, cfg nexmark.Config, outOfOrderness time.Duration) (*stream.DataStream[nexmark.Event], error) {
	strategy := stream.ForBoundedOutOfOrderness[nexmark.Event](outOfOrderness)
	if outOfOrderness < 0 {
		cfg.EmitWatermarks = true
		strategy = stream.NoWatermarks[nexmark.Event]()
	}
	src, err := nexmark.NewSource(cfg)
	if err != nil {
		return nil, fmt.Errorf("nexmark source: %w", err)
	}
	return stream.FromSource[nexmark.Event](env, src, strategy, "Nexmark").UID("nexmark-source"), nil
}

// Bids is the "bid" view: the bids among the events.
func Bids(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Bid] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[nexmark.Bid]) {
		if e.Type == nexmark.BidType {
			out.Collect(e.Bid)
		}
	}).Name("Bids")
}

// Q0 is the pass-through query: every bid, unchanged.
func Q0(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Bid] {
	return Bids(events).Name("Q0: bids")
}

// ToQ1 converts a bid's price to euro (q1's projection).
func ToQ1(b nexmark.Bid) nexmark.Q1Row {
	return nexmark.Q1Row{Auction: b.Auction, Bidder: b.Bidder, Price: nexmark.DollarToEuro(b.Price), DateTime: b.DateTime, Extra: b.Extra}
}

// Q1 is currency conversion: every bid with its price in euro.
func Q1(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q1Row] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[nexmark.Q1Row]) {
		if e.Type == nexmark.BidType {
			out.Collect(ToQ1(e.Bid))
		}
	}).Name("Q1: currency conversion")
}

// Q2 is selection: (auction, price) of the bids with auction % 123 = 0.
func Q2(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q2Row] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[nexmark.Q2Row]) {
		if e.Type == nexmark.BidType && e.Bid.Auction%nexmark.Q2Modulus == 0 {
			out.Collect(nexmark.Q2Row{Auction: e.Bid.Auction, Price: e.Bid.Price})
		}
	}).Name("Q2: selection")
}

// SinkKind selects the sink Apply attaches to a query's result.
type SinkKind string

// Sink kinds.
const (
	// SinkDiscard drops every row (Nexmark's blackhole connector) and counts them.
	SinkDiscard SinkKind = "discard"
	// SinkPrint prints every row as a line (Format) to standard output.
	SinkPrint SinkKind = "print"
	// SinkFile writes rows as lines (Format) into rolling part files under SinkSpec.Dir.
	SinkFile SinkKind = "file"
	// SinkCollect keeps rows in memory under SinkSpec.Name (sinks.Results; in-process tests).
	SinkCollect SinkKind = "collect"
)

// SinkSpec says where Apply sends the query result.
type SinkSpec struct {
	Kind SinkKind
	Dir  string // SinkFile: output directory
	Name string // SinkCollect: collection name
}

// Result describes the pipeline Apply built.
type Result struct {
	// Count returns how many rows the discard sink received (nil for other sinks).
	Count func() int64
}

// Apply builds query name (one of Names) on events and attaches the sink spec describes. It is
// the type-erased entry point of the example job and the benchmark harness.
func Apply(name string, events *stream.DataStream[nexmark.Event], spec SinkSpec) (Result, error) {
	switch strings.ToLower(name) {
	case "q0":
		return attach(Q0(events), name, spec)
	case "q1":
		return attach(Q1(events), name, spec)
	case "q2":
		return attach(Q2(events), name, spec)
	case "q3":
		return attach(Q3(events), name, spec)
	case "q4":
		return attach(Q4(events), name, spec)
	case "q5":
		return attach(Q5(events), name, spec)
	case "q5-window":
		return attach(Q5Windowed(events), name, spec)
	case "q7":
		return attach(Q7(events), name, spec)
	case "q8":
		return attach(Q8(events), name, spec)
	case "q6":
		return Result{}, fmt.Errorf("query q6 is not part of Flink's Nexmark suite (FLINK-19059: not supported by Flink SQL); use one of %s", strings.Join(Names, ", "))
	}
	return Result{}, fmt.Errorf("unknown query %q: use one of %s", name, strings.Join(Names, ", "))
}

func attach[R any](s *stream.DataStream[R], query string, spec SinkSpec) (Result, error) {
	line := func(r R) []byte { return []byte(Format(r)) }
	switch spec.Kind {
	case SinkDiscard, "":
		d := sinks.Discard[R]()
		s.SinkTo(d, query+"-discard")
		return Result{Count: d.Count}, nil
	case SinkPrint:
		lines := stream.Map(s, func(r R) string { return Format(r) }).Name("Format")
		lines.SinkTo(sinks.Print[string](""), query+"-print")
		return Result{}, nil
	case SinkFile:
		if spec.Dir == "" {
			return Result{}, fmt.Errorf("file sink: no output directory given")
		}
		fs, err := file.NewFileSink(spec.Dir, line)
		if err != nil {
			return Result{}, fmt.Errorf("file sink for %s: %w", query, err)
		}
		s.SinkTo(fs, query+"-file")
		return Result{}, nil
	case SinkCollect:
		c, err := sinks.Collect[R](spec.Name)
		if err != nil {
			return Result{}, fmt.Errorf("collect sink for %s: %w", query, err)
		}
		s.SinkTo(c, query+"-collect")
		return Result{}, nil
	}
	return Result{}, fmt.Errorf("unknown sink kind %q: use discard, print, file or collect", spec.Kind)
}

// Format renders a result row as one text line (for print and file sinks): the SQL's output
// columns, comma-separated, plus window bounds where the reference rows carry them.
func Format(row any) string {
	switch r := row.(type) {
	case nexmark.Bid:
		return fmt.Sprintf("%d,%d,%d,%d,%s", r.Auction, r.Bidder, r.Price, r.DateTime, r.Extra)
	case nexmark.Q1Row:
		return fmt.Sprintf("%d,%d,%.3f,%d,%s", r.Auction, r.Bidder, r.Price, r.DateTime, r.Extra)
	case nexmark.Q2Row:
		return fmt.Sprintf("%d,%d", r.Auction, r.Price)
	case nexmark.Q3Row:
		return fmt.Sprintf("%s,%s,%s,%d", r.Name, r.City, r.State, r.ID)
	case nexmark.Q4Row:
		return fmt.Sprintf("%d,%d", r.Category, r.Avg)
	case nexmark.Q5Row:
		return fmt.Sprintf("%d,%d,%d,%d", r.Auction, r.Num, r.WindowStart, r.WindowEnd)
	case nexmark.Q7Row:
		return fmt.Sprintf("%d,%d,%d,%d,%s", r.Auction, r.Bidder, r.Price, r.DateTime, r.Extra)
	case nexmark.Q8Row:
		return fmt.Sprintf("%d,%s,%d", r.ID, r.Name, r.StartTime)
	}
	return fmt.Sprint(row)
}
