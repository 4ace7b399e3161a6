package nexmark

import (
	"reflect"
	"testing"
)

func bid(auction, bidder, price, ts int64) Event {
	return Event{Type: BidType, Bid: Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts, Extra: "x"}}
}

func person(id int64, name, state string, ts int64) Event {
	return Event{Type: PersonType, Person: Person{ID: id, Name: name, City: "c", State: state, DateTime: ts}}
}

func auction(id, seller, category, ts, expires int64) Event {
	return Event{Type: AuctionType, Auction: Auction{ID: id, Seller: seller, Category: category, DateTime: ts, Expires: expires}}
}

func TestQ0Q1Q2(t *testing.T) {
	evs := []Event{bid(1230, 1, 1000, 5), person(1, "a", "OR", 6), bid(1231, 2, 3, 7), bid(246, 3, 7, 8)}
	if q0 := Q0(evs); len(q0) != 3 || q0[1].Auction != 1231 {
		t.Fatalf("q0 %+v", q0)
	}
	q1 := Q1(evs)
	if len(q1) != 3 || q1[0].Price != 908 || q1[2].Price != DollarToEuro(7) {
		t.Fatalf("q1 %+v", q1)
	}
	if q2 := Q2(evs); !reflect.DeepEqual(q2, []Q2Row{{1230, 1000}, {246, 7}}) {
		t.Fatalf("q2 %+v", q2)
	}
}

func TestQ3(t *testing.T) {
	evs := []Event{
		auction(1, 10, 10, 0, 100), // person 10 comes later: still joins
		person(10, "ten", "OR", 5),
		person(11, "eleven", "WA", 5), // wrong state
		auction(2, 11, 10, 6, 100),
		auction(3, 10, 11, 7, 100), // wrong category
		auction(4, 12, 10, 8, 100),
		person(12, "twelve", "CA", 9),
	}
	want := []Q3Row{{"ten", "c", "OR", 1}, {"twelve", "c", "CA", 4}}
	if got := Q3(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("q3 %+v", got)
	}
}

func TestQ4(t *testing.T) {
	evs := []Event{
		auction(1, 0, 10, 100, 200),
		auction(2, 0, 10, 100, 200),
		auction(3, 0, 11, 100, 200),
		auction(4, 0, 12, 100, 200),                                 // no bids in range -> dropped
		bid(1, 0, 50, 100), bid(1, 0, 70, 200), bid(1, 0, 999, 201), // 999 after expiry
		bid(2, 0, 5, 150),
		bid(3, 0, 8, 99), bid(3, 0, 9, 150),
		bid(4, 0, 1000, 99),
	}
	want := []Q4Row{{Category: 10, Avg: 37, AvgFloat: 37.5, Sum: 75, Count: 2}, {Category: 11, Avg: 9, AvgFloat: 9, Sum: 9, Count: 1}}
	if got := Q4(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("q4 %+v", got)
	}
}

func TestQ5(t *testing.T) {
	// Bids at t=1000 (auction 1, twice) and t=9500 (auction 2, twice) and t=10500 (auction 2).
	evs := []Event{bid(1, 0, 1, 1000), bid(1, 0, 1, 1500), bid(2, 0, 1, 9500), bid(2, 0, 1, 9600), bid(2, 0, 1, 10500)}
	got := Q5(evs)
	// Windows: starts -8000..0 contain t=1000,1500; starts 0..8000 contain 9500/9600;
	// starts 2000..10000 contain 10500.
	byStart := map[int64][]Q5Row{}
	for _, r := range got {
		if r.WindowEnd-r.WindowStart != 10000 || r.WindowStart%2000 != 0 {
			t.Fatalf("bad window %+v", r)
		}
		byStart[r.WindowStart] = append(byStart[r.WindowStart], r)
	}
	check := func(start int64, want ...Q5Row) {
		t.Helper()
		if !reflect.DeepEqual(byStart[start], want) {
			t.Fatalf("window %d: got %+v want %+v", start, byStart[start], want)
		}
	}
	check(-8000, Q5Row{1, 2, -8000, 2000})
	check(0, Q5Row{1, 2, 0, 10000}, Q5Row{2, 2, 0, 10000}) // tie: both
	check(2000, Q5Row{2, 3, 2000, 12000})
	check(10000, Q5Row{2, 1, 10000, 20000})
	if len(byStart) != 10 { // starts -8000..10000
		t.Fatalf("windows %v", len(byStart))
	}
}

func TestQ7(t *testing.T) {
	evs := []Event{
		bid(1, 1, 50, 0),     // window [0,10000): max 50 (tie with next)
		bid(2, 2, 50, 9999),  // tie
		bid(3, 3, 10, 5000),  // not max
		bid(4, 4, 70, 10000), // window [10000,20000) max 70; also BETWEEN 0 and 10000 of window end 10000, but 70 != 50
		bid(5, 5, 50, 20000), // window [20000,30000) max 50; also in window ending 20000? max there is 70: no
		bid(6, 6, 70, 20000), // matches both window end 20000 (max 70, BETWEEN inclusive) and its own (max 70)
	}
	got := Q7(evs)
	type k struct{ auction, end int64 }
	var keys []k
	for _, r := range got {
		keys = append(keys, k{r.Auction, r.WindowEnd})
	}
	want := []k{{1, 10000}, {2, 10000}, {4, 20000}, {6, 20000}, {6, 30000}}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("q7 got %v want %v", keys, want)
	}
}

func TestQ8(t *testing.T) {
	evs := []Event{
		person(1, "one", "OR", 1000), auction(100, 1, 10, 9999, 0), auction(101, 1, 10, 5000, 0), // two auctions: one row
		person(2, "two", "OR", 9999), auction(102, 2, 10, 10000, 0), // next window: no
		person(3, "three", "OR", 25000), auction(103, 3, 10, 20000, 0),
		auction(104, 4, 10, 1000, 0), // no person
	}
	want := []Q8Row{{1, "one", 0}, {3, "three", 20000}}
	if got := Q8(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("q8 %+v", got)
	}
}

func TestWindowStartNegative(t *testing.T) {
	if WindowStart(-1, 10) != -10 || WindowStart(-10, 10) != -10 || WindowStart(19, 10) != 10 {
		t.Fatal("WindowStart alignment")
	}
}

// TestQueriesOnGeneratedData checks that the generated data exercise every query.
func TestQueriesOnGeneratedData(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 1000 // 200k events span 200 s: 20 tumbling windows
	evs, err := Generate(cfg, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{
		"q0": len(Q0(evs)), "q2": len(Q2(evs)), "q3": len(Q3(evs)), "q4": len(Q4(evs)),
		"q5": len(Q5(evs)), "q7": len(Q7(evs)), "q8": len(Q8(evs)),
	}
	for q, n := range counts {
		if n == 0 {
			t.Errorf("%s produced nothing on 200k generated events", q)
		}
	}
	if counts["q4"] != NumCategories {
		t.Errorf("q4 has %d categories", counts["q4"])
	}
	t.Logf("result sizes: %v", counts)
}
