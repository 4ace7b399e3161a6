package nexmark

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestJavaRandomMatchesJDK(t *testing.T) {
	// Values printed by java.util.Random on OpenJDK for these seeds (see docs/connectors.md).
	cases := []struct {
		seed                int64
		i32, n10, n100, n64 int32
		l64                 int64
		d                   float64
		nBig                int32
		price               int64
	}{
		{0, -1155484576, 8, 29, 38, -6688467811848818630, 0.5504370051176339, 1552565, 4888862},
		{42, -1170105035, 3, 48, 3, 5694868678511409995, 0.27707849007413665, 922757, 353},
		{1000, -1244746321, 5, 76, 29, -988390996874898054, 0.039405954311386604, 1224348, 13886},
		{123456789, -1442945365, 0, 83, 16, 7203573180470058788, 0.8933411602003871, 1510607, 38550},
		{-7, 1155869324, 7, 90, 60, -8826958116857042465, 0.8518782305056931, 801985, 1544},
	}
	for _, c := range cases {
		r := newJavaRandom(c.seed)
		got := []any{r.nextInt32(), r.nextIntn(10), r.nextIntn(100), r.nextIntn(64), r.nextInt64(), r.nextFloat64(), r.nextIntn(1666666), nextPrice(&r)}
		want := []any{c.i32, c.n10, c.n100, c.n64, c.l64, c.d, c.nBig, c.price}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("seed %d: got %v want %v", c.seed, got, want)
		}
	}
}

// refLine formats an event like the golden file written by an independent Java statement of
// the reference rules (testdata/reference_400.txt).
func refLine(e *Event) string {
	switch e.Type {
	case PersonType:
		p := e.Person
		return fmt.Sprintf("P|%d|%s|%s|%s|%s|%s|%d|%s", p.ID, p.Name, p.EmailAddress, p.CreditCard, p.City, p.State, p.DateTime, p.Extra)
	case AuctionType:
		a := e.Auction
		return fmt.Sprintf("A|%d|%s|%s|%d|%d|%d|%d|%d|%d|%s", a.ID, a.ItemName, a.Description, a.InitialBid, a.Reserve, a.DateTime, a.Expires, a.Seller, a.Category, a.Extra)
	}
	b := e.Bid
	return fmt.Sprintf("B|%d|%d|%d|%d|%s", b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra)
}

func TestGeneratorMatchesReference(t *testing.T) {
	f, err := os.Open("testdata/reference_400.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := DefaultConfig()
	cfg.ExactExtra = true
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := int64(0)
	for sc.Scan() {
		ev := g.Event(n)
		if got := refLine(&ev); got != sc.Text() {
			t.Fatalf("event %d:\n got %q\nwant %q", n, got, sc.Text())
		}
		n++
	}
	if n != 400 {
		t.Fatalf("golden file has %d lines", n)
	}
}

// TestGeneratorMatchesReferenceLong compares a digest of 3000 events with the Java output.
func TestGeneratorMatchesReferenceLong(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ExactExtra = true
	evs, err := Generate(cfg, 3000)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	for i := range evs {
		fmt.Fprintln(h, refLine(&evs[i]))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != "a292ba172b8b46ecfff8be6d3a4f4ac7" {
		t.Fatalf("digest of 3000 events = %s", got)
	}
}

func TestPooledExtraKeepsEverythingButExtraContent(t *testing.T) {
	exact := DefaultConfig()
	exact.ExactExtra = true
	a, _ := Generate(exact, 2000)
	b, _ := Generate(DefaultConfig(), 2000)
	for i := range a {
		ea, eb := a[i], b[i]
		if len(ea.Person.Extra) != len(eb.Person.Extra) || len(ea.Auction.Extra) != len(eb.Auction.Extra) || len(ea.Bid.Extra) != len(eb.Bid.Extra) {
			t.Fatalf("event %d: extra lengths differ", i)
		}
		ea.Person.Extra, eb.Person.Extra = "", ""
		ea.Auction.Extra, eb.Auction.Extra = "", ""
		ea.Bid.Extra, eb.Bid.Extra = "", ""
		if ea != eb {
			t.Fatalf("event %d differs beyond extra: %+v vs %+v", i, ea, eb)
		}
		if s := b[i].Bid.Extra; strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("pooled extra has non-letters: %q", s)
		}
	}
}

func TestProportionsAndSizes(t *testing.T) {
	evs, err := Generate(DefaultConfig(), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var counts [3]int
	var bytes [3]int
	var hot int
	for i := range evs {
		e := &evs[i]
		counts[e.Type]++
		switch e.Type {
		case PersonType:
			p := e.Person
			bytes[0] += 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
		case AuctionType:
			a := e.Auction
			bytes[1] += 8 + len(a.ItemName) + len(a.Description) + 40 + len(a.Extra)
			if a.Category < 10 || a.Category > 14 {
				t.Fatalf("category %d", a.Category)
			}
		case BidType:
			b := e.Bid
			bytes[2] += 32 + len(b.Extra)
			if b.Auction == ((int64(i)/50*3+2)/100)*100+FirstAuctionID {
				hot++
			}
		}
		if e.Timestamp() != DefaultBaseTime+int64(i)/10 {
			t.Fatalf("event %d timestamp %d", i, e.Timestamp())
		}
	}
	if counts != [3]int{2000, 6000, 92000} {
		t.Fatalf("counts %v, want 2000/6000/92000", counts)
	}
	avg := []float64{float64(bytes[0]) / 2000, float64(bytes[1]) / 6000, float64(bytes[2]) / 92000}
	for i, want := range []float64{200, 500, 100} {
		if avg[i] < want*0.9 || avg[i] > want*1.1 {
			t.Errorf("type %d average size %.1f, want ≈%v", i, avg[i], want)
		}
	}
	// P(hot) = 1/2 + 1/2 * P(random pick hits it) -> a bit over half.
	if frac := float64(hot) / 92000; frac < 0.5 || frac > 0.56 {
		t.Errorf("hot auction fraction %.3f, want ≈0.5", frac)
	}
}

func TestOutOfOrderGroups(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutOfOrderGroupSize = 7
	g, _ := NewGenerator(cfg)
	seen := map[int64]bool{}
	for n := int64(0); n < 700; n++ {
		a := g.AdjustedNumber(n)
		if a/7 != n/7 || seen[a] {
			t.Fatalf("adjusted(%d)=%d leaves its group or repeats", n, a)
		}
		seen[a] = true
		if g.EventTimestamp(n) < g.Timestamp(g.WatermarkNumber(n)) {
			t.Fatalf("event %d earlier than its watermark", n)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"rate":       func(c *Config) { c.FirstEventRate = 0 },
		"proportion": func(c *Config) { c.BidProportion = 0 },
		"hot":        func(c *Config) { c.HotAuctionRatio = 0 },
		"group":      func(c *Config) { c.OutOfOrderGroupSize = 0 },
		"prob":       func(c *Config) { c.ProbDelayedEvent = 2 },
		"events":     func(c *Config) { c.NumEvents = -1 },
	} {
		c := DefaultConfig()
		mut(&c)
		if _, err := NewGenerator(c); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	g, _ := NewGenerator(DefaultConfig())
	var ev Event
	var buf EventBuffer
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		g.Fill(n, &ev, &buf)
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGenerateExactExtra(b *testing.B) {
	cfg := DefaultConfig()
	cfg.ExactExtra = true
	g, _ := NewGenerator(cfg)
	var ev Event
	var buf EventBuffer
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		g.Fill(n, &ev, &buf)
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestRegisterFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	RegisterFlags(fs, &cfg)
	if err := fs.Parse([]string{"--events", "500", "--rate", "2e6", "--rate-limited"}); err != nil {
		t.Fatal(err)
	}
	if cfg.NumEvents != 500 || cfg.FirstEventRate != 2e6 || !cfg.RateLimited || cfg.BidProportion != 46 {
		t.Fatalf("%+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
