package nexmark

import (
	"cmp"
	"slices"
)

// Reference implementations of the Nexmark queries as nexmark/nexmark's Flink SQL defines them
// (nexmark-flink/src/main/resources/queries/q*.sql), written as plain loops over a finite event
// slice. They give the final result of the (bounded) input, which is what a streaming engine
// must have produced once every window fired and all updates were applied. Tests compare the
// engine's output with these as multisets; docs/connectors.md lists the semantic choices.

// Window sizes of the queries.
const (
	Q5WindowSizeMs  int64 = 10_000
	Q5WindowSlideMs int64 = 2_000
	Q7WindowSizeMs  int64 = 10_000
	Q8WindowSizeMs  int64 = 10_000
	// Q2Modulus: q2 keeps bids with auction % 123 == 0.
	Q2Modulus int64 = 123
	// Q3Category: q3 keeps auctions of this category.
	Q3Category int64 = 10
)

// Q3States are the person states q3 keeps.
var Q3States = []string{"OR", "ID", "CA"}

// WindowStart returns the start of the window of size/slide `slide` that ts falls into, aligned
// to the epoch (Flink's TimeWindow.getWindowStartWithOffset with offset 0; also correct for
// negative timestamps).
func WindowStart(ts, slide int64) int64 {
	m := ts % slide
	if m < 0 {
		m += slide
	}
	return ts - m
}

// Q0 (pass-through): every bid, unchanged, in input order.
func Q0(events []Event) []Bid {
	var out []Bid
	for i := range events {
		if events[i].Type == BidType {
			out = append(out, events[i].Bid)
		}
	}
	return out
}

// Q1Row is a bid with its price converted to euro.
type Q1Row struct {
	Auction  int64
	Bidder   int64
	Price    float64 // DollarToEuro(bid price)
	DateTime int64
	Extra    string
}

// DollarToEuro is q1's conversion: 0.908 * price. The SQL type is DECIMAL(23,3); price*908 is
// the exact value in thousandths, and float64(price)*0.908 is what this returns (engines should
// call this function so results compare exactly).
func DollarToEuro(price int64) float64 { return float64(price) * 0.908 }

// Q1 (currency conversion): every bid with its price in euro, in input order.
func Q1(events []Event) []Q1Row {
	var out []Q1Row
	for i := range events {
		if events[i].Type == BidType {
			b := &events[i].Bid
			out = append(out, Q1Row{Auction: b.Auction, Bidder: b.Bidder, Price: DollarToEuro(b.Price), DateTime: b.DateTime, Extra: b.Extra})
		}
	}
	return out
}

// Q2Row is q2's output.
type Q2Row struct {
	Auction int64
	Price   int64
}

// Q2 (selection): (auction, price) of bids with auction % 123 == 0, in input order.
func Q2(events []Event) []Q2Row {
	var out []Q2Row
	for i := range events {
		if events[i].Type == BidType && events[i].Bid.Auction%Q2Modulus == 0 {
			out = append(out, Q2Row{Auction: events[i].Bid.Auction, Price: events[i].Bid.Price})
		}
	}
	return out
}

// Q3Row is q3's output: the seller's name, city, state and the auction id.
type Q3Row struct {
	Name  string
	City  string
	State string
	ID    int64
}

func q3State(s string) bool { return s == "OR" || s == "ID" || s == "CA" }

// Q3 (local item suggestion): auction ⋈ person on seller = id, category 10, state in
// OR/ID/CA. An inner join over the whole input: the person may come before or after the
// auction. Sorted by auction id, then name.
func Q3(events []Event) []Q3Row {
	persons := map[int64][]*Person{}
	for i := range events {
		if p := &events[i].Person; events[i].Type == PersonType && q3State(p.State) {
			persons[p.ID] = append(persons[p.ID], p)
		}
	}
	var out []Q3Row
	for i := range events {
		a := &events[i].Auction
		if events[i].Type != AuctionType || a.Category != Q3Category {
			continue
		}
		for _, p := range persons[a.Seller] {
			out = append(out, Q3Row{Name: p.Name, City: p.City, State: p.State, ID: a.ID})
		}
	}
	slices.SortFunc(out, func(x, y Q3Row) int {
		return cmp.Or(cmp.Compare(x.ID, y.ID), cmp.Compare(x.Name, y.Name), cmp.Compare(x.City, y.City), cmp.Compare(x.State, y.State))
	})
	return out
}

// Q4Row is q4's output for one category.
type Q4Row struct {
	Category int64
	// Avg is AVG(final) as Flink computes it for BIGINT input: a BIGINT, sum/count truncated.
	Avg int64
	// AvgFloat is the exact mean, for engines that average in floating point.
	AvgFloat float64
	// Sum and Count of the winning prices (the number of auctions with at least one bid).
	Sum   int64
	Count int64
}

// Q4 (average price per category): for each auction the highest price among bids on it with
// auction.dateTime <= bid.dateTime <= auction.expires (both inclusive, SQL BETWEEN); auctions
// without such a bid are dropped (inner join); then the average of these maxima per category.
// Sorted by category.
func Q4(events []Event) []Q4Row {
	type key struct{ id, category int64 }
	auctions := map[int64][]*Auction{}
	for i := range events {
		if events[i].Type == AuctionType {
			a := &events[i].Auction
			auctions[a.ID] = append(auctions[a.ID], a)
		}
	}
	final := map[key]int64{}
	for i := range events {
		if events[i].Type != BidType {
			continue
		}
		b := &events[i].Bid
		for _, a := range auctions[b.Auction] {
			if b.DateTime >= a.DateTime && b.DateTime <= a.Expires {
				k := key{a.ID, a.Category}
				if cur, ok := final[k]; !ok || b.Price > cur {
					final[k] = b.Price
				}
			}
		}
	}
	byCat := map[int64]*Q4Row{}
	for k, price := range final {
		r := byCat[k.category]
		if r == nil {
			r = &Q4Row{Category: k.category}
			byCat[k.category] = r
		}
		r.Sum += price
		r.Count++
	}
	out := make([]Q4Row, 0, len(byCat))
	for _, r := range byCat {
		r.Avg = r.Sum / r.Count
		r.AvgFloat = float64(r.Sum) / float64(r.Count)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y Q4Row) int { return cmp.Compare(x.Category, y.Category) })
	return out
}

// Q5Row is q5's output: an auction with the most bids in a sliding window.
type Q5Row struct {
	Auction     int64
	Num         int64
	WindowStart int64
	WindowEnd   int64
}

// Q5 (hot items): sliding windows of 10 s every 2 s (epoch-aligned, [start, end)); per window
// the bid count per auction; output every auction whose count equals the window's maximum
// (ties: all of them). Only windows that contain bids exist. Sorted by window, then auction.
// The SQL's output columns are (auction, num); the window bounds are included for checking.
func Q5(events []Event) []Q5Row {
	type wk struct{ start, auction int64 }
	counts := map[wk]int64{}
	for i := range events {
		if events[i].Type != BidType {
			continue
		}
		b := &events[i].Bid
		last := WindowStart(b.DateTime, Q5WindowSlideMs)
		for s := last; s > b.DateTime-Q5WindowSizeMs; s -= Q5WindowSlideMs {
			counts[wk{s, b.Auction}]++
		}
	}
	maxn := map[int64]int64{}
	for k, n := range counts {
		maxn[k.start] = max(maxn[k.start], n)
	}
	var out []Q5Row
	for k, n := range counts {
		if n >= maxn[k.start] {
			out = append(out, Q5Row{Auction: k.auction, Num: n, WindowStart: k.start, WindowEnd: k.start + Q5WindowSizeMs})
		}
	}
	slices.SortFunc(out, func(x, y Q5Row) int {
		return cmp.Or(cmp.Compare(x.WindowStart, y.WindowStart), cmp.Compare(x.Auction, y.Auction))
	})
	return out
}

// Q7Row is q7's output: a bid with the highest price of a window. WindowEnd is the end of the
// window whose maximum it matched (not an SQL output column).
type Q7Row struct {
	Auction   int64
	Bidder    int64
	Price     int64
	DateTime  int64
	Extra     string
	WindowEnd int64
}

// Q7 (highest bid): the maximum price per 10 s tumbling window (epoch-aligned, [start, end)),
// joined back to the bids with price = maxprice AND dateTime BETWEEN end-10 s AND end (both
// inclusive, exactly as the SQL). So a bid at exactly a window end can also match the window
// that ends there, and every bid with the maximum price is output (ties: all). Sorted by
// window end, then auction, bidder, dateTime.
func Q7(events []Event) []Q7Row {
	maxPrice := map[int64]int64{} // window end -> max price
	for i := range events {
		if events[i].Type != BidType {
			continue
		}
		b := &events[i].Bid
		end := WindowStart(b.DateTime, Q7WindowSizeMs) + Q7WindowSizeMs
		if cur, ok := maxPrice[end]; !ok || b.Price > cur {
			maxPrice[end] = b.Price
		}
	}
	var out []Q7Row
	for i := range events {
		if events[i].Type != BidType {
			continue
		}
		b := &events[i].Bid
		own := WindowStart(b.DateTime, Q7WindowSizeMs) + Q7WindowSizeMs
		ends := []int64{own}
		if b.DateTime == own-Q7WindowSizeMs { // also BETWEEN the previous window's bounds
			ends = append(ends, b.DateTime)
		}
		for _, end := range ends {
			if m, ok := maxPrice[end]; ok && m == b.Price {
				out = append(out, Q7Row{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra, WindowEnd: end})
			}
		}
	}
	slices.SortFunc(out, func(x, y Q7Row) int {
		return cmp.Or(cmp.Compare(x.WindowEnd, y.WindowEnd), cmp.Compare(x.Auction, y.Auction),
			cmp.Compare(x.Bidder, y.Bidder), cmp.Compare(x.DateTime, y.DateTime), cmp.Compare(x.Extra, y.Extra))
	})
	return out
}

// Q8Row is q8's output: a person who opened an auction in the tumbling window they joined.
type Q8Row struct {
	ID        int64
	Name      string
	StartTime int64 // window start
}

// Q8 (monitor new users): persons grouped by (id, name, 10 s tumbling window) joined with
// auctions grouped by (seller, window) on id = seller and the same window bounds. Each
// (id, name, window) appears once however many auctions matched. Sorted by window, id, name.
func Q8(events []Event) []Q8Row {
	type sk struct{ seller, start int64 }
	sellers := map[sk]bool{}
	for i := range events {
		if events[i].Type == AuctionType {
			a := &events[i].Auction
			sellers[sk{a.Seller, WindowStart(a.DateTime, Q8WindowSizeMs)}] = true
		}
	}
	seen := map[Q8Row]bool{}
	var out []Q8Row
	for i := range events {
		if events[i].Type != PersonType {
			continue
		}
		p := &events[i].Person
		r := Q8Row{ID: p.ID, Name: p.Name, StartTime: WindowStart(p.DateTime, Q8WindowSizeMs)}
		if sellers[sk{p.ID, r.StartTime}] && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(x, y Q8Row) int {
		return cmp.Or(cmp.Compare(x.StartTime, y.StartTime), cmp.Compare(x.ID, y.ID), cmp.Compare(x.Name, y.Name))
	})
	return out
}
