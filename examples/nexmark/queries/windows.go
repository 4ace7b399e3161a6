package queries

import (
	"time"

	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/stream"
)

// ---------------------------------------------------------------------------------------------
// q5: hot items

// countAgg counts a window's records.
type countAgg struct{}

func (countAgg) CreateAccumulator() int64     { return 0 }
func (countAgg) Add(_ int64, acc int64) int64 { return acc + 1 }
func (countAgg) GetResult(acc int64) int64    { return acc }
func (countAgg) Merge(a, b int64) int64       { return a + b }

// q5Top is the running maximum of one window: the highest count and the auctions that have it.
type q5Top struct {
	Num      int64
	Auctions []int64
}

// Q5 is hot items: per sliding window of 10 s every 2 s (epoch-aligned), the auctions with the
// most bids (every auction with the maximum count, as the SQL's num >= maxn).
//
// Stage 1, keyed by auction (on the projected auction id, so only 8 bytes per bid cross the
// shuffle), counts bids per 2 s pane and, when the watermark passes a window's end, emits the
// window's count as the sum of its five panes: the slicing Flink SQL uses for HOP windows
// (slice-shared window aggregation), one state update per bid instead of five. Stage 2, keyed
// by window start, keeps the maximum and its auctions and emits them when the watermark passes
// the window's end (all stage-1 results of a window precede that watermark). Q5Windowed is the
// same query on the DataStream window operator.
func Q5(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q5Row] {
	counts := stream.KeyedProcess(stream.KeyBy(q5Auctions(events), func(a int64) int64 { return a }), q5Panes{}).
		Name("Q5: bids per auction and window (2 s panes)")
	return q5Max(counts)
}

// Q5Windowed is Q5 with the first stage on the engine's sliding event-time window operator
// (KeyBy(auction).Window(SlidingEventTimeWindows(10 s, 2 s)) with a count aggregate): every bid
// updates five windows. It gives the same rows as Q5 and measures the window operator.
func Q5Windowed(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q5Row] {
	size, slide := time.Duration(nexmark.Q5WindowSizeMs)*time.Millisecond, time.Duration(nexmark.Q5WindowSlideMs)*time.Millisecond
	counts := stream.AggregateWindow(
		stream.KeyBy(q5Auctions(events), func(a int64) int64 { return a }).Window(stream.SlidingEventTimeWindows(size, slide)),
		countAgg{},
		func(auction int64, w stream.TimeWindow, n int64, out stream.Collector[nexmark.Q5Row]) error {
			out.Collect(nexmark.Q5Row{Auction: auction, Num: n, WindowStart: w.Start, WindowEnd: w.End})
			return nil
		}).Name("Q5: bids per auction and window")
	return q5Max(counts)
}

func q5Auctions(events *stream.DataStream[nexmark.Event]) *stream.DataStream[int64] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[int64]) {
		if e.Type == nexmark.BidType {
			out.Collect(e.Bid.Auction)
		}
	}).Name("Q5: bid auctions")
}

// q5Pane is the bid count of one auction in one slide-sized pane [Start, Start+slide).
type q5Pane struct {
	Start int64
	Count int64
}

// q5Panes counts an auction's bids per pane and emits sliding-window counts from them. The
// key's state is its live panes in ascending order; while any pane is live exactly one timer
// is pending, at the end-1 of the next window to emit, and each firing schedules the next.
type q5Panes struct{}

func (q5Panes) ProcessElement(auction int64, ctx *stream.KeyedContext[int64], _ stream.Collector[nexmark.Q5Row]) error {
	const slide, size = nexmark.Q5WindowSlideMs, nexmark.Q5WindowSizeMs
	ts, wm := ctx.Timestamp(), ctx.CurrentWatermark()
	pane := nexmark.WindowStart(ts, slide)
	if pane+size-1 <= wm {
		return nil // every window of this bid has fired: late
	}
	st := stream.GetValueState[[]q5Pane](ctx, "panes")
	panes, _ := st.Value()
	if len(panes) == 0 {
		end := pane + slide // the first window that contains the bid ...
		for end-1 <= wm {
			end += slide // ... or the first one that has not fired yet
		}
		ctx.TimerService().RegisterEventTimeTimer(end - 1)
	}
	i := len(panes)
	for i > 0 && panes[i-1].Start > pane {
		i--
	}
	if i > 0 && panes[i-1].Start == pane {
		panes[i-1].Count++
	} else {
		panes = append(panes, q5Pane{})
		copy(panes[i+1:], panes[i:])
		panes[i] = q5Pane{Start: pane, Count: 1}
	}
	st.Update(panes)
	return nil
}

func (q5Panes) OnTimer(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q5Row]) error {
	const slide, size = nexmark.Q5WindowSlideMs, nexmark.Q5WindowSizeMs
	end := ts + 1
	st := stream.GetValueState[[]q5Pane](ctx, "panes")
	panes, _ := st.Value()
	var n int64
	for _, p := range panes {
		if p.Start >= end-size && p.Start < end {
			n += p.Count
		}
	}
	if n > 0 {
		out.Collect(nexmark.Q5Row{Auction: ctx.CurrentKey(), Num: n, WindowStart: end - size, WindowEnd: end})
	}
	// Panes before the next window's start are in no later window.
	live := panes[:0]
	for _, p := range panes {
		if p.Start >= end+slide-size {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		st.Clear()
		return nil
	}
	st.Update(live)
	ctx.TimerService().RegisterEventTimeTimer(end + slide - 1)
	return nil
}

// q5Max is q5's second stage: per window the auctions with the highest count.
func q5Max(counts *stream.DataStream[nexmark.Q5Row]) *stream.DataStream[nexmark.Q5Row] {
	return stream.KeyedProcess(stream.KeyBy(counts, func(r nexmark.Q5Row) int64 { return r.WindowStart }),
		stream.ProcessFunc[int64, nexmark.Q5Row, nexmark.Q5Row]{
			Element: func(r nexmark.Q5Row, ctx *stream.KeyedContext[int64], _ stream.Collector[nexmark.Q5Row]) error {
				st := stream.GetValueState[q5Top](ctx, "top")
				top, ok := st.Value()
				switch {
				case !ok:
					top = q5Top{Num: r.Num, Auctions: []int64{r.Auction}}
					ctx.TimerService().RegisterEventTimeTimer(r.WindowEnd - 1)
				case r.Num > top.Num:
					top.Num, top.Auctions = r.Num, append(top.Auctions[:0], r.Auction)
				case r.Num == top.Num:
					top.Auctions = append(top.Auctions, r.Auction)
				default:
					return nil
				}
				st.Update(top)
				return nil
			},
			Timer: func(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q5Row]) error {
				st := stream.GetValueState[q5Top](ctx, "top")
				top, ok := st.Value()
				if !ok {
					return nil
				}
				start := ctx.CurrentKey()
				for _, a := range top.Auctions {
					out.Collect(nexmark.Q5Row{Auction: a, Num: top.Num, WindowStart: start, WindowEnd: start + nexmark.Q5WindowSizeMs})
				}
				st.Clear()
				return nil
			},
		}).Name("Q5: max per window")
}

// ---------------------------------------------------------------------------------------------
// q7: highest bid

// q7Buckets is the number of partial-aggregation buckets per window in q7's first stage.
const q7Buckets = 32

// q7Key addresses q7's first stage: a window (by its end) and a bucket of its bids.
type q7Key struct {
	End    int64
	Bucket int64
}

// q7Cand is a bid that may be a window's highest: JoinOnly marks a bid at exactly the start
// of its own window, which the SQL's inclusive BETWEEN also joins with the previous window's
// maximum (it does not take part in that window's MAX).
type q7Cand struct {
	Bid      nexmark.Bid
	End      int64
	JoinOnly bool
}

// q7Top holds a (partial) window's maximum price, the bids with it, and the join-only
// candidates that may match it.
type q7Top struct {
	Max      int64
	Has      bool
	Ties     []nexmark.Bid
	JoinOnly []nexmark.Bid
}

func (t *q7Top) add(b nexmark.Bid, joinOnly bool) bool {
	switch {
	case joinOnly:
		t.JoinOnly = append(t.JoinOnly, b)
	case !t.Has || b.Price > t.Max:
		t.Max, t.Has, t.Ties = b.Price, true, append(t.Ties[:0], b)
	case b.Price == t.Max:
		t.Ties = append(t.Ties, b)
	default:
		return false
	}
	return true
}

// Q7 is highest bid: per 10 s tumbling window the bids with the window's highest price. As the
// SQL joins bids to MAX(price) with dateTime BETWEEN window_end - 10 s AND window_end (both
// inclusive), a bid at exactly a window's start also matches the previous window's maximum.
//
// One global maximum per window would put all of a window's bids on one subtask, so the plan
// aggregates in two phases: stage 1, keyed by (window end, bucket of 32), keeps the local
// maximum and its ties; stage 2, keyed by window end, merges the buckets' candidates and emits
// the bids with the global maximum. Both fire when the watermark reaches the window's end
// (not end-1: a bid at exactly the end may still join the window).
func Q7(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q7Row] {
	cands := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q7Cand]) {
		if e.Type != nexmark.BidType {
			return
		}
		b := e.Bid
		start := nexmark.WindowStart(b.DateTime, nexmark.Q7WindowSizeMs)
		out.Collect(q7Cand{Bid: b, End: start + nexmark.Q7WindowSizeMs})
		if b.DateTime == start {
			out.Collect(q7Cand{Bid: b, End: start, JoinOnly: true})
		}
	}).Name("Q7: bids with windows")
	local := stream.KeyedProcess(stream.KeyBy(cands, func(c q7Cand) q7Key {
		return q7Key{End: c.End, Bucket: (c.Bid.Bidder*31 + c.Bid.Price) & (q7Buckets - 1)}
	}), stream.ProcessFunc[q7Key, q7Cand, q7Cand]{
		Element: func(c q7Cand, ctx *stream.KeyedContext[q7Key], _ stream.Collector[q7Cand]) error {
			return q7Add(c, c.End, ctx)
		},
		Timer: func(ts int64, ctx *stream.KeyedContext[q7Key], out stream.Collector[q7Cand]) error {
			st := stream.GetValueState[q7Top](ctx, "top")
			top, ok := st.Value()
			if !ok {
				return nil
			}
			for _, b := range top.Ties {
				out.Collect(q7Cand{Bid: b, End: ts})
			}
			for _, b := range top.JoinOnly {
				if !top.Has || b.Price >= top.Max { // lower prices cannot match the global max
					out.Collect(q7Cand{Bid: b, End: ts, JoinOnly: true})
				}
			}
			st.Clear()
			return nil
		},
	}).Name("Q7: local max per bucket")
	return stream.KeyedProcess(stream.KeyBy(local, func(c q7Cand) int64 { return c.End }),
		stream.ProcessFunc[int64, q7Cand, nexmark.Q7Row]{
			Element: func(c q7Cand, ctx *stream.KeyedContext[int64], _ stream.Collector[nexmark.Q7Row]) error {
				return q7Add(c, c.End, ctx)
			},
			Timer: func(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q7Row]) error {
				st := stream.GetValueState[q7Top](ctx, "top")
				top, ok := st.Value()
				if !ok || !top.Has {
					st.Clear()
					return nil
				}
				emit := func(b nexmark.Bid) {
					out.Collect(nexmark.Q7Row{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra, WindowEnd: ts})
				}
				for _, b := range top.Ties {
					emit(b)
				}
				for _, b := range top.JoinOnly {
					if b.Price == top.Max {
						emit(b)
					}
				}
				st.Clear()
				return nil
			},
		}).Name("Q7: max per window")
}

// q7Add adds a candidate to the current key's window state; the first one registers the
// timer at the window's end. Candidates of windows that already fired are dropped (late).
func q7Add[K comparable](c q7Cand, end int64, ctx *stream.KeyedContext[K]) error {
	if end <= ctx.CurrentWatermark() {
		return nil
	}
	st := stream.GetValueState[q7Top](ctx, "top")
	top, ok := st.Value()
	if !top.add(c.Bid, c.JoinOnly) {
		return nil
	}
	st.Update(top)
	if !ok {
		ctx.TimerService().RegisterEventTimeTimer(end)
	}
	return nil
}
