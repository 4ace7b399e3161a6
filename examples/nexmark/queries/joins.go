package queries

import (
	"github.com/flink-go/flink-go/connectors/nexmark"
	"github.com/flink-go/flink-go/stream"
)

// ---------------------------------------------------------------------------------------------
// q3: local item suggestion

// q3Person is the part of a person q3 outputs.
type q3Person struct {
	ID    int64
	Name  string
	City  string
	State string
}

// q3Auction is the part of an auction q3 needs.
type q3Auction struct {
	ID     int64
	Seller int64
}

// Q3 is local item suggestion: auction ⋈ person on seller = id, for auctions of category 10 and
// persons in OR, ID or CA. It is an unbounded incremental join, as the SQL's regular join:
// both sides are kept in keyed state (persons projected to name, city, state; auctions to their
// id), and each arriving record is joined with everything the other side stored so far, so a
// person may arrive before or after the auction.
func Q3(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q3Row] {
	persons := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q3Person]) {
		if e.Type == nexmark.PersonType {
			if s := e.Person.State; s == "OR" || s == "ID" || s == "CA" {
				out.Collect(q3Person{ID: e.Person.ID, Name: e.Person.Name, City: e.Person.City, State: s})
			}
		}
	}).Name("Q3: persons in OR/ID/CA")
	auctions := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q3Auction]) {
		if e.Type == nexmark.AuctionType && e.Auction.Category == nexmark.Q3Category {
			out.Collect(q3Auction{ID: e.Auction.ID, Seller: e.Auction.Seller})
		}
	}).Name("Q3: auctions of category 10")
	return stream.KeyedCoProcess(
		stream.KeyBy(persons, func(p q3Person) int64 { return p.ID }),
		stream.KeyBy(auctions, func(a q3Auction) int64 { return a.Seller }),
		q3Join{}).Name("Q3: join")
}

type q3Join struct{}

func (q3Join) ProcessElement1(p q3Person, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q3Row]) error {
	for _, id := range stream.GetListState[int64](ctx, "auctions").Get() {
		out.Collect(nexmark.Q3Row{Name: p.Name, City: p.City, State: p.State, ID: id})
	}
	stream.GetListState[q3Person](ctx, "persons").Add(p)
	return nil
}

func (q3Join) ProcessElement2(a q3Auction, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q3Row]) error {
	for _, p := range stream.GetListState[q3Person](ctx, "persons").Get() {
		out.Collect(nexmark.Q3Row{Name: p.Name, City: p.City, State: p.State, ID: a.ID})
	}
	stream.GetListState[int64](ctx, "auctions").Add(a.ID)
	return nil
}

func (q3Join) OnTimer(int64, *stream.KeyedContext[int64], stream.Collector[nexmark.Q3Row]) error {
	return nil
}

// ---------------------------------------------------------------------------------------------
// q4: average price per category

// q4Auction is the part of an auction q4 needs.
type q4Auction struct {
	ID       int64
	DateTime int64
	Expires  int64
	Category int64
}

// q4Bid is the part of a bid q4 needs.
type q4Bid struct {
	Auction  int64
	Price    int64
	DateTime int64
}

// q4Open is an auction whose winning price is still being determined.
type q4Open struct {
	DateTime int64
	Expires  int64
	Category int64
	Max      int64
	Has      bool // a bid in [DateTime, Expires] was seen
}

// q4Final is the winning price of one auction.
type q4Final struct {
	Category int64
	Price    int64
}

// q4Acc is the running average state of one category.
type q4Acc struct {
	Sum   int64
	Count int64
}

// Q4 is the average price per category: the highest bid of every auction among the bids with
// auction.dateTime <= bid.dateTime <= auction.expires, then the average of these prices per
// category (auctions without such a bid do not count, as the SQL's inner join).
//
// Stage 1, keyed by auction id, keeps the open auction and its running maximum; bids that
// arrive before their auction are buffered until the watermark passes their time (then every
// auction they could belong to has arrived). When the watermark passes an auction's expiry, its
// maximum is final and goes to stage 2, keyed by category, which keeps sum and count and emits
// the updated row. So the output is an upsert stream keyed by category, as Flink's changelog
// for the SQL's outer GROUP BY: the latest row of a category (the one with the highest Count)
// is the current result; once the input ended it equals the reference's row. Unlike Flink's
// changelog, which also revises the average while an auction is still open, an auction counts
// here once, when it closes and its maximum can no longer change (the watermark passed its
// expiry), so no row is ever retracted.
//
// Auction ids are unique (the generator never repeats one): a bid that arrives after its
// auction was seen joins the auctions seen so far for that id, and is not kept for later ones.
func Q4(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q4Row] {
	auctions := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q4Auction]) {
		if e.Type == nexmark.AuctionType {
			a := &e.Auction
			out.Collect(q4Auction{ID: a.ID, DateTime: a.DateTime, Expires: a.Expires, Category: a.Category})
		}
	}).Name("Q4: auctions")
	bids := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q4Bid]) {
		if e.Type == nexmark.BidType {
			out.Collect(q4Bid{Auction: e.Bid.Auction, Price: e.Bid.Price, DateTime: e.Bid.DateTime})
		}
	}).Name("Q4: bids")
	winners := stream.KeyedCoProcess(
		stream.KeyBy(auctions, func(a q4Auction) int64 { return a.ID }),
		stream.KeyBy(bids, func(b q4Bid) int64 { return b.Auction }),
		q4Winner{}).Name("Q4: winning price per auction")
	return stream.KeyedProcess(stream.KeyBy(winners, func(f q4Final) int64 { return f.Category }),
		stream.ProcessFunc[int64, q4Final, nexmark.Q4Row]{
			Element: func(f q4Final, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q4Row]) error {
				st := stream.GetValueState[q4Acc](ctx, "sum-count")
				acc, _ := st.Value()
				acc.Sum += f.Price
				acc.Count++
				st.Update(acc)
				out.Collect(nexmark.Q4Row{Category: f.Category, Avg: acc.Sum / acc.Count,
					AvgFloat: float64(acc.Sum) / float64(acc.Count), Sum: acc.Sum, Count: acc.Count})
				return nil
			},
		}).Name("Q4: average per category")
}

type q4Winner struct{}

// q4ClosedRetentionMs is how long (event time) q4 remembers that an auction id has expired.
const q4ClosedRetentionMs = 60_000

func (q4Winner) ProcessElement1(a q4Auction, ctx *stream.KeyedContext[int64], _ stream.Collector[q4Final]) error {
	stream.GetValueState[int64](ctx, "closed").Clear()
	o := q4Open{DateTime: a.DateTime, Expires: a.Expires, Category: a.Category}
	pending := stream.GetListState[q4Bid](ctx, "pending-bids")
	for _, b := range pending.Get() {
		if b.DateTime >= o.DateTime && b.DateTime <= o.Expires && (!o.Has || b.Price > o.Max) {
			o.Max, o.Has = b.Price, true
		}
	}
	pending.Clear()
	stream.GetListState[q4Open](ctx, "auctions").Add(o)
	ctx.TimerService().RegisterEventTimeTimer(a.Expires)
	return nil
}

func (q4Winner) ProcessElement2(b q4Bid, ctx *stream.KeyedContext[int64], _ stream.Collector[q4Final]) error {
	st := stream.GetListState[q4Open](ctx, "auctions")
	open := st.Get()
	if len(open) == 0 {
		if _, closed := stream.GetValueState[int64](ctx, "closed").Value(); closed {
			return nil // the auction has expired: with unique ids no later auction can match
		}
		// The auction has not arrived yet (bids may reference the next few auction ids, and
		// parallel sources interleave): keep the bid until the watermark passes its time.
		stream.GetListState[q4Bid](ctx, "pending-bids").Add(b)
		ctx.TimerService().RegisterEventTimeTimer(b.DateTime)
		return nil
	}
	changed := false
	for i := range open {
		o := &open[i]
		if b.DateTime >= o.DateTime && b.DateTime <= o.Expires && (!o.Has || b.Price > o.Max) {
			o.Max, o.Has = b.Price, true
			changed = true
		}
	}
	if changed {
		st.Update(open) // write back: a serializing state backend does not see in-place changes
	}
	return nil
}

func (q4Winner) OnTimer(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[q4Final]) error {
	st := stream.GetListState[q4Open](ctx, "auctions")
	open := st.Get()
	keep := open[:0]
	for _, o := range open {
		if o.Expires <= ts {
			if o.Has {
				out.Collect(q4Final{Category: o.Category, Price: o.Max})
			}
			continue
		}
		keep = append(keep, o)
	}
	if len(keep) != len(open) {
		st.Update(keep)
		if len(keep) == 0 {
			// Remember for a while that this id's auction is over, so bids still arriving for
			// it (the hot auction keeps getting half of all bids for some time) are dropped
			// at once instead of waiting in state for the watermark. Without the marker they
			// would still be dropped, only later.
			stream.GetValueState[int64](ctx, "closed").Update(ts + q4ClosedRetentionMs)
			ctx.TimerService().RegisterEventTimeTimer(ts + q4ClosedRetentionMs)
		}
	}
	closed := stream.GetValueState[int64](ctx, "closed")
	if until, ok := closed.Value(); ok && until <= ts {
		closed.Clear()
	}
	pending := stream.GetListState[q4Bid](ctx, "pending-bids")
	if bids := pending.Get(); len(bids) > 0 {
		// Every auction these bids could belong to (dateTime <= bid time <= watermark) has
		// arrived by now, so bids up to ts can never match.
		rest := bids[:0]
		for _, b := range bids {
			if b.DateTime > ts {
				rest = append(rest, b)
			}
		}
		pending.Update(rest)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// q8: monitor new users

// q8Person is the part of a person q8 needs.
type q8Person struct {
	ID       int64
	Name     string
	DateTime int64
}

// q8Auction is the part of an auction q8 needs.
type q8Auction struct {
	Seller   int64
	DateTime int64
}

// q8Window is one key's content of one tumbling window.
type q8Window struct {
	Names   []string // distinct person names with this id in the window
	Auction bool     // the id opened an auction in the window
}

// Q8 is "monitor new users": persons who opened an auction in the same 10 s tumbling window
// in which they registered, one row per (id, name, window). It is a window join keyed by
// person id = seller: per key and window the state holds the distinct names and whether an
// auction was seen; an event-time timer at the window's end emits the join and clears it.
func Q8(events *stream.DataStream[nexmark.Event]) *stream.DataStream[nexmark.Q8Row] {
	persons := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q8Person]) {
		if e.Type == nexmark.PersonType {
			out.Collect(q8Person{ID: e.Person.ID, Name: e.Person.Name, DateTime: e.Person.DateTime})
		}
	}).Name("Q8: persons")
	auctions := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q8Auction]) {
		if e.Type == nexmark.AuctionType {
			out.Collect(q8Auction{Seller: e.Auction.Seller, DateTime: e.Auction.DateTime})
		}
	}).Name("Q8: auctions")
	return stream.KeyedCoProcess(
		stream.KeyBy(persons, func(p q8Person) int64 { return p.ID }),
		stream.KeyBy(auctions, func(a q8Auction) int64 { return a.Seller }),
		q8Join{}).Name("Q8: window join")
}

type q8Join struct{}

// window returns the start of ts's window, or false when the window already fired (late).
func (q8Join) window(ts int64, ctx *stream.KeyedContext[int64]) (int64, bool) {
	start := nexmark.WindowStart(ts, nexmark.Q8WindowSizeMs)
	return start, start+nexmark.Q8WindowSizeMs-1 > ctx.CurrentWatermark()
}

func (j q8Join) ProcessElement1(p q8Person, ctx *stream.KeyedContext[int64], _ stream.Collector[nexmark.Q8Row]) error {
	start, ok := j.window(p.DateTime, ctx)
	if !ok {
		return nil
	}
	st := stream.GetMapState[int64, q8Window](ctx, "windows")
	w, seen := st.Get(start)
	for _, n := range w.Names {
		if n == p.Name {
			return nil
		}
	}
	w.Names = append(w.Names, p.Name)
	st.Put(start, w)
	if !seen {
		ctx.TimerService().RegisterEventTimeTimer(start + nexmark.Q8WindowSizeMs - 1)
	}
	return nil
}

func (j q8Join) ProcessElement2(a q8Auction, ctx *stream.KeyedContext[int64], _ stream.Collector[nexmark.Q8Row]) error {
	start, ok := j.window(a.DateTime, ctx)
	if !ok {
		return nil
	}
	st := stream.GetMapState[int64, q8Window](ctx, "windows")
	w, seen := st.Get(start)
	if w.Auction {
		return nil
	}
	w.Auction = true
	st.Put(start, w)
	if !seen {
		ctx.TimerService().RegisterEventTimeTimer(start + nexmark.Q8WindowSizeMs - 1)
	}
	return nil
}

func (q8Join) OnTimer(ts int64, ctx *stream.KeyedContext[int64], out stream.Collector[nexmark.Q8Row]) error {
	start := ts + 1 - nexmark.Q8WindowSizeMs
	st := stream.GetMapState[int64, q8Window](ctx, "windows")
	w, ok := st.Get(start)
	if !ok {
		return nil
	}
	if w.Auction {
		for _, n := range w.Names {
			out.Collect(nexmark.Q8Row{ID: ctx.CurrentKey(), Name: n, StartTime: start})
		}
	}
	st.Remove(start)
	return nil
}
