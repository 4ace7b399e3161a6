package queries_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/examples/nexmark/queries"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/stream"
)

// testConfig is a bounded generator at 1 000 events/s of event time: 50 000 events span 50 s,
// so the windowed queries see several tumbling (10 s) and many sliding (2 s slide) windows.
func testConfig(events int64) nexmark.Config {
	cfg := nexmark.DefaultConfig()
	cfg.NumEvents = events
	cfg.FirstEventRate = 1000
	return cfg
}

// run executes query on the embedded cluster (goroutine TaskManagers) and returns the rows the
// collecting sink received. At parallelism > 1 two TaskManagers run, so keyed exchanges cross
// TCP between them.
func run[R any](t *testing.T, query string, cfg nexmark.Config, par int, ooo time.Duration) []R {
	t.Helper()
	env := stream.NewEnvironment().SetParallelism(par)
	env.Configure("rest.port", "0")
	tms := "1"
	if par > 1 {
		tms = "2"
	}
	env.Configure("local.taskmanagers", tms)
	env.Configure("pipeline.auto-watermark-interval", "20ms")
	events, err := queries.Source(env, cfg, ooo)
	if err != nil {
		t.Fatal(err)
	}
	name := "nexmark-test/" + t.Name()
	sinks.Reset(name)
	if _, err := queries.Apply(query, events, queries.SinkSpec{Kind: queries.SinkCollect, Name: name}); err != nil {
		t.Fatal(err)
	}
	g, reg, err := env.Graph(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cluster.RunLocal(ctx, g, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	got, err := sinks.Results[R](name)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sameMultiset compares rows as multisets (sorted by their printed form) and reports the
// first differences.
func sameMultiset[R any](t *testing.T, got, want []R) {
	t.Helper()
	key := func(r R) string { return fmt.Sprintf("%+v", r) }
	gs, ws := make([]string, len(got)), make([]string, len(want))
	for i, r := range got {
		gs[i] = key(r)
	}
	for i, r := range want {
		ws[i] = key(r)
	}
	slices.Sort(gs)
	slices.Sort(ws)
	if slices.Equal(gs, ws) {
		return
	}
	var diff []string
	i, j := 0, 0
	for (i < len(gs) || j < len(ws)) && len(diff) < 10 {
		switch {
		case j >= len(ws) || (i < len(gs) && gs[i] < ws[j]):
			diff = append(diff, "unexpected: "+gs[i])
			i++
		case i >= len(gs) || ws[j] < gs[i]:
			diff = append(diff, "missing:    "+ws[j])
			j++
		default:
			i++
			j++
		}
	}
	t.Fatalf("got %d rows, want %d; first differences:\n%s", len(got), len(want), strings.Join(diff, "\n"))
}

func generate(t *testing.T, cfg nexmark.Config) []nexmark.Event {
	t.Helper()
	evs, err := nexmark.Generate(cfg, cfg.NumEvents)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// check runs query at parallelism 1 and 4 and compares with the reference rows.
func check[R any](t *testing.T, query string, cfg nexmark.Config, ooo time.Duration, ref func([]nexmark.Event) []R, minRows int, view func([]R) []R) {
	want := ref(generate(t, cfg))
	if len(want) < minRows {
		t.Fatalf("the reference gives only %d rows for %s (want >= %d): the test data is too small to mean much", len(want), query, minRows)
	}
	for _, par := range []int{1, 4} {
		t.Run(fmt.Sprintf("p%d", par), func(t *testing.T) {
			got := run[R](t, query, cfg, par, ooo)
			if view != nil {
				got = view(got)
			}
			sameMultiset(t, got, want)
		})
	}
}

func TestQ0(t *testing.T) {
	check(t, "q0", testConfig(50_000), queries.OutOfOrderness, nexmark.Q0, 40_000, nil)
}

func TestQ1(t *testing.T) {
	check(t, "q1", testConfig(50_000), queries.OutOfOrderness, nexmark.Q1, 40_000, nil)
}

func TestQ2(t *testing.T) {
	check(t, "q2", testConfig(100_000), queries.OutOfOrderness, nexmark.Q2, 100, nil)
}

func TestQ3(t *testing.T) {
	check(t, "q3", testConfig(100_000), queries.OutOfOrderness, nexmark.Q3, 20, nil)
}

// latestPerCategory materializes q4's upsert stream: the row with the highest count per
// category is the final one.
func latestPerCategory(rows []nexmark.Q4Row) []nexmark.Q4Row {
	last := map[int64]nexmark.Q4Row{}
	for _, r := range rows {
		if cur, ok := last[r.Category]; !ok || r.Count > cur.Count {
			last[r.Category] = r
		}
	}
	out := make([]nexmark.Q4Row, 0, len(last))
	for _, r := range last {
		out = append(out, r)
	}
	return out
}

func TestQ4(t *testing.T) {
	check(t, "q4", testConfig(50_000), queries.OutOfOrderness, nexmark.Q4, nexmark.NumCategories, latestPerCategory)
}

func TestQ5(t *testing.T) {
	check(t, "q5", testConfig(50_000), queries.OutOfOrderness, nexmark.Q5, 25, nil)
}

func TestQ5Windowed(t *testing.T) {
	check(t, "q5-window", testConfig(50_000), queries.OutOfOrderness, nexmark.Q5, 25, nil)
}

func TestQ7(t *testing.T) {
	check(t, "q7", testConfig(50_000), queries.OutOfOrderness, nexmark.Q7, 5, nil)
}

func TestQ8(t *testing.T) {
	check(t, "q8", testConfig(50_000), queries.OutOfOrderness, nexmark.Q8, 5, nil)
}

// TestOutOfOrder runs the stateful queries on a generator that shuffles events within groups
// of 800 (0.8 s of event time, inside the 4 s watermark bound), at parallelism 4.
func TestOutOfOrder(t *testing.T) {
	cfg := testConfig(40_000)
	cfg.OutOfOrderGroupSize = 800
	evs := generate(t, cfg)
	t.Run("q4", func(t *testing.T) {
		sameMultiset(t, latestPerCategory(run[nexmark.Q4Row](t, "q4", cfg, 4, queries.OutOfOrderness)), nexmark.Q4(evs))
	})
	t.Run("q5", func(t *testing.T) {
		sameMultiset(t, run[nexmark.Q5Row](t, "q5", cfg, 4, queries.OutOfOrderness), nexmark.Q5(evs))
	})
	t.Run("q5-window", func(t *testing.T) {
		sameMultiset(t, run[nexmark.Q5Row](t, "q5-window", cfg, 4, queries.OutOfOrderness), nexmark.Q5(evs))
	})
	t.Run("q7", func(t *testing.T) {
		sameMultiset(t, run[nexmark.Q7Row](t, "q7", cfg, 4, queries.OutOfOrderness), nexmark.Q7(evs))
	})
	t.Run("q8", func(t *testing.T) {
		sameMultiset(t, run[nexmark.Q8Row](t, "q8", cfg, 4, queries.OutOfOrderness), nexmark.Q8(evs))
	})
	// The generator's own watermarks are exact for out-of-order groups.
	t.Run("q7-generator-watermarks", func(t *testing.T) {
		sameMultiset(t, run[nexmark.Q7Row](t, "q7", cfg, 4, -1), nexmark.Q7(evs))
	})
}

func TestApplyErrors(t *testing.T) {
	env := stream.NewEnvironment()
	events, err := queries.Source(env, testConfig(10), queries.OutOfOrderness)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"q6", "q99", ""} {
		if _, err := queries.Apply(q, events, queries.SinkSpec{Kind: queries.SinkDiscard}); err == nil {
			t.Errorf("Apply(%q) succeeded", q)
		}
	}
	if _, err := queries.Apply("q1", events, queries.SinkSpec{Kind: "kafka"}); err == nil {
		t.Error("unknown sink kind accepted")
	}
	if _, err := queries.Apply("q1", events, queries.SinkSpec{Kind: queries.SinkFile}); err == nil {
		t.Error("file sink without directory accepted")
	}
	bad := testConfig(10)
	bad.FirstEventRate = 0
	if _, err := queries.Source(stream.NewEnvironment(), bad, queries.OutOfOrderness); err == nil {
		t.Error("invalid generator config accepted")
	}
}

func TestFormat(t *testing.T) {
	cases := map[string]any{
		"1,2,3,4,x":     nexmark.Bid{Auction: 1, Bidder: 2, Price: 3, DateTime: 4, Extra: "x"},
		"1,2,0.908,4,x": queries.ToQ1(nexmark.Bid{Auction: 1, Bidder: 2, Price: 1, DateTime: 4, Extra: "x"}),
		"123,9":         nexmark.Q2Row{Auction: 123, Price: 9},
		"a,b,OR,7":      nexmark.Q3Row{Name: "a", City: "b", State: "OR", ID: 7},
		"10,37":         nexmark.Q4Row{Category: 10, Avg: 37},
		"5,3,0,10000":   nexmark.Q5Row{Auction: 5, Num: 3, WindowStart: 0, WindowEnd: 10000},
		"1000,Ann,0":    nexmark.Q8Row{ID: 1000, Name: "Ann", StartTime: 0},
	}
	for want, row := range cases {
		if got := queries.Format(row); got != want {
			t.Errorf("Format(%+v) = %q, want %q", row, got, want)
		}
	}
}

// sliceSource emits fixed events with their event time (for hand-made edge cases).
type sliceSource []nexmark.Event

func (s sliceSource) Bounded() bool { return true }
func (s sliceSource) CreateReader(ctx op.SourceContext) (op.SourceReader[nexmark.Event], error) {
	return &sliceReader{evs: s, next: ctx.Subtask(), step: ctx.Parallelism()}, nil
}

type sliceReader struct {
	evs        []nexmark.Event
	next, step int
}

func (r *sliceReader) Poll(_ context.Context, out op.SourceOutput[nexmark.Event]) (op.PollStatus, error) {
	for ; r.next < len(r.evs); r.next += r.step {
		if e := r.evs[r.next]; e.Type == wmMarker {
			out.EmitWatermark(e.Bid.DateTime)
		} else {
			out.CollectWithTimestamp(e, e.Timestamp())
		}
	}
	return op.End, nil
}
func (r *sliceReader) Snapshot(int64) ([]byte, error) { return nil, nil }
func (r *sliceReader) Close() error                   { return nil }

// wmMarker is the Type of a pseudo-event that makes sliceSource emit the watermark Bid.DateTime.
const wmMarker = -1

func watermark(ts int64) nexmark.Event {
	return nexmark.Event{Type: wmMarker, Bid: nexmark.Bid{DateTime: ts}}
}

func runSlice[R any](t *testing.T, query string, evs []nexmark.Event, par int) []R {
	t.Helper()
	env := stream.NewEnvironment().SetParallelism(par)
	env.Configure("rest.port", "0")
	strategy := stream.ForBoundedOutOfOrderness[nexmark.Event](queries.OutOfOrderness)
	if slices.ContainsFunc(evs, func(e nexmark.Event) bool { return e.Type == wmMarker }) {
		strategy = stream.NoWatermarks[nexmark.Event]() // the slice's own watermarks only
	}
	events := stream.FromSource[nexmark.Event](env, sliceSource(evs), strategy, "slice")
	name := "nexmark-test/" + t.Name()
	sinks.Reset(name)
	if _, err := queries.Apply(query, events, queries.SinkSpec{Kind: queries.SinkCollect, Name: name}); err != nil {
		t.Fatal(err)
	}
	g, reg, err := env.Graph(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.RunLocal(context.Background(), g, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	got, err := sinks.Results[R](name)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func bidEv(auction, bidder, price, ts int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.BidType, Bid: nexmark.Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts, Extra: "e"}}
}

// TestEdgeCases checks the semantic corners against the reference on hand-made input: q7's
// inclusive BETWEEN (a bid at exactly a window's start also joins the previous window's
// maximum) and ties, q5's ties and empty windows.
func TestEdgeCases(t *testing.T) {
	evs := []nexmark.Event{
		bidEv(1, 1, 500, 1_000), bidEv(2, 2, 700, 3_000), bidEv(3, 3, 700, 9_999), // window [0,10000): max 700 twice
		bidEv(4, 4, 700, 10_000), // at 10000: joins [0,10000)'s max 700 too; own window max
		bidEv(5, 5, 100, 12_000), bidEv(4, 6, 50, 19_000),
		bidEv(6, 7, 900, 40_000), // empty windows in between
		bidEv(6, 8, 900, 40_001), bidEv(7, 9, 900, 40_002),
	}
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("q7/p%d", par), func(t *testing.T) {
			want := nexmark.Q7(evs)
			if len(want) != 7 {
				t.Fatalf("reference changed: %d rows", len(want))
			}
			sameMultiset(t, runSlice[nexmark.Q7Row](t, "q7", evs, par), want)
		})
		for _, q := range []string{"q5", "q5-window"} {
			t.Run(fmt.Sprintf("%s/p%d", q, par), func(t *testing.T) {
				sameMultiset(t, runSlice[nexmark.Q5Row](t, q, evs, par), nexmark.Q5(evs))
			})
		}
	}
}

// TestLateBids checks that q5's pane implementation treats bids behind the watermark exactly as
// the window operator does: windows that already fired do not change, later windows count
// the bid, and a bid all of whose windows fired is dropped.
func TestLateBids(t *testing.T) {
	evs := []nexmark.Event{
		bidEv(1, 1, 1, 20_000), bidEv(2, 1, 1, 21_000), bidEv(1, 1, 1, 30_000),
		watermark(25_999),      // windows ending at 26 000 and earlier have fired
		bidEv(1, 1, 1, 15_000), // every window of it fired: dropped
		bidEv(2, 1, 1, 23_000), // windows ending 24 000, 26 000 fired; 28 000..32 000 count it
		bidEv(3, 1, 1, 27_000),
		watermark(31_999),
		bidEv(3, 1, 1, 24_500), // only the windows ending 32 000 and 34 000 remain
	}
	byPanes := runSlice[nexmark.Q5Row](t, "q5", evs, 1)
	byWindows := runSlice[nexmark.Q5Row](t, "q5-window", evs, 1)
	if len(byPanes) == 0 {
		t.Fatal("no rows")
	}
	sameMultiset(t, byPanes, byWindows)
	if len(byPanes) == len(nexmark.Q5(evs)) {
		t.Fatal("the late bids changed nothing: the watermarks of the test input did not take effect")
	}
	// And the in-order part agrees with the reference.
	inOrder := []nexmark.Event{evs[0], evs[1], evs[2], evs[6]}
	sameMultiset(t, runSlice[nexmark.Q5Row](t, "q5", inOrder, 1), nexmark.Q5(inOrder))
}

// TestPacedWithDelays runs q5 on a rate-limited generator with Beam's occasional delays (10 %
// of events held back by up to 1 s): the 4 s watermark bound covers them, so the result is
// the reference's.
func TestPacedWithDelays(t *testing.T) {
	if testing.Short() {
		t.Skip("paced run of ~3 s")
	}
	cfg := testConfig(40_000)
	cfg.FirstEventRate = 20_000
	cfg.RateLimited = true
	cfg.OccasionalDelaySec = 1
	cfg.ProbDelayedEvent = 0.1
	got := run[nexmark.Q5Row](t, "q5", cfg, 2, queries.OutOfOrderness)
	sameMultiset(t, got, nexmark.Q5(generate(t, cfg)))
}
