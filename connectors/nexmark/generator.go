package nexmark

import (
	"fmt"
	"math"
	"strings"
)

// Reference constants (Beam/nexmark-flink model generators).
const (
	hotAuctionRatio  = 100 // hot auction = first of the last batch of 100 auctions
	hotSellerRatio   = 100
	hotBidderRatio   = 100
	personIDLead     = 10
	auctionIDLead    = 10
	minStringLength  = 3
	extraPoolMinSize = 1 << 16
)

var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	// personNames[i*len(lastNames)+j] = firstNames[i] + " " + lastNames[j], built once.
	personNames = func() []string {
		out := make([]string, 0, len(firstNames)*len(lastNames))
		for _, f := range firstNames {
			for _, l := range lastNames {
				out = append(out, f+" "+l)
			}
		}
		return out
	}()
)

// Generator computes Nexmark events as a pure function of their event number, so any subset of
// event numbers can be generated independently, in any order, on any subtask. It is safe for
// concurrent use; the scratch buffers live in the caller's EventBuffer.
type Generator struct {
	cfg                  Config
	total                int64 // sum of proportions
	delayUs              float64
	numEventsForAuctions int64
	extraPool            string
}

// NewGenerator validates cfg and returns its generator.
func NewGenerator(cfg Config) (*Generator, error) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1024
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:     cfg,
		total:   int64(cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion),
		delayUs: 1e6 / cfg.FirstEventRate,
	}
	g.numEventsForAuctions = int64(cfg.NumInFlightAuctions) * g.total / int64(cfg.AuctionProportion)
	if !cfg.ExactExtra {
		maxAvg := max(cfg.AvgPersonByteSize, cfg.AvgAuctionByteSize, cfg.AvgBidByteSize)
		g.extraPool = buildExtraPool(max(extraPoolMinSize, 4*maxAvg))
	}
	return g, nil
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

func buildExtraPool(n int) string {
	r := newJavaRandom(0x4E45584D41524B) // fixed seed: the pool is the same in every process
	var sb strings.Builder
	sb.Grow(n)
	for sb.Len() < n {
		sb.WriteByte(byte('a' + r.nextIntn(26)))
	}
	return sb.String()
}

// Timestamp returns the event time (epoch ms) of event number n before out-of-order
// adjustment: BaseTime + trunc(n * 1e6/rate µs) / 1000, as the reference.
func (g *Generator) Timestamp(n int64) int64 {
	return g.cfg.BaseTime + int64(float64(n)*g.delayUs)/1000
}

// AdjustedNumber applies the out-of-order permutation inside groups of OutOfOrderGroupSize.
func (g *Generator) AdjustedNumber(n int64) int64 {
	s := g.cfg.OutOfOrderGroupSize
	if s == 1 {
		return n
	}
	return (n/s)*s + (n*953)%s
}

// WatermarkNumber returns the event number whose timestamp is a lower bound for the
// timestamps of event n and every later event number.
func (g *Generator) WatermarkNumber(n int64) int64 {
	s := g.cfg.OutOfOrderGroupSize
	return (n / s) * s
}

// EventTimestamp returns the event time that event number n carries (after adjustment).
func (g *Generator) EventTimestamp(n int64) int64 { return g.Timestamp(g.AdjustedNumber(n)) }

// TypeOf returns the type of event number n.
func (g *Generator) TypeOf(n int64) int64 {
	rem := g.AdjustedNumber(n) % g.total
	switch {
	case rem < int64(g.cfg.PersonProportion):
		return PersonType
	case rem < int64(g.cfg.PersonProportion+g.cfg.AuctionProportion):
		return AuctionType
	}
	return BidType
}

// EventBuffer holds the scratch space of one generating goroutine.
type EventBuffer struct {
	strs []byte
}

// Fill overwrites ev with event number n (0-based, global over all subtasks). buf may be nil
// (a temporary one is used).
func (g *Generator) Fill(n int64, ev *Event, buf *EventBuffer) {
	if buf == nil {
		buf = &EventBuffer{}
	}
	id := g.AdjustedNumber(n) // event id = first event id (0) + adjusted number
	ts := g.Timestamp(id)
	rnd := newJavaRandom(id) // seeded with the event id, as Beam
	rem := id % g.total
	switch {
	case rem < int64(g.cfg.PersonProportion):
		*ev = Event{Type: PersonType}
		g.person(id, &rnd, ts, &ev.Person, buf)
	case rem < int64(g.cfg.PersonProportion+g.cfg.AuctionProportion):
		*ev = Event{Type: AuctionType}
		g.auction(id, &rnd, ts, &ev.Auction, buf)
	default:
		*ev = Event{Type: BidType}
		g.bid(id, &rnd, ts, &ev.Bid, buf)
	}
}

// Event returns event number n.
func (g *Generator) Event(n int64) Event {
	var ev Event
	g.Fill(n, &ev, nil)
	return ev
}

// Generate returns events 0..count-1 (count <= 0 means cfg.NumEvents, which must then be > 0),
// the exact union of what the source emits over all subtasks for that many events.
func Generate(cfg Config, count int64) ([]Event, error) {
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	if count <= 0 {
		count = cfg.NumEvents
	}
	if count <= 0 || count > 1<<28 {
		return nil, fmt.Errorf("%w: event count %d must be in [1, 2^28] to generate a slice", ErrInvalidConfig, count)
	}
	out := make([]Event, count)
	var buf EventBuffer
	for i := range out {
		g.Fill(int64(i), &out[i], &buf)
	}
	return out, nil
}

// lastBase0PersonID is the last person id (base 0) generated at or before event id.
func (g *Generator) lastBase0PersonID(eventID int64) int64 {
	pp := int64(g.cfg.PersonProportion)
	epoch, offset := eventID/g.total, eventID%g.total
	if offset >= pp {
		offset = pp - 1
	}
	return epoch*pp + offset
}

// lastBase0AuctionID is the last auction id (base 0) generated at or before event id.
func (g *Generator) lastBase0AuctionID(eventID int64) int64 {
	pp, ap := int64(g.cfg.PersonProportion), int64(g.cfg.AuctionProportion)
	epoch, offset := eventID/g.total, eventID%g.total
	switch {
	case offset < pp:
		epoch--
		offset = ap - 1
	case offset >= pp+ap:
		offset = ap - 1
	default:
		offset -= pp
	}
	return epoch*ap + offset
}

func (g *Generator) nextBase0PersonID(eventID int64, r *javaRandom) int64 {
	numPeople := g.lastBase0PersonID(eventID) + 1
	active := min(numPeople, int64(g.cfg.NumActivePeople))
	n := r.nextLongN(active + personIDLead)
	return numPeople - active + n
}

func (g *Generator) nextBase0AuctionID(eventID int64, r *javaRandom) int64 {
	maxA := g.lastBase0AuctionID(eventID)
	minA := max(maxA-int64(g.cfg.NumInFlightAuctions), 0)
	return minA + r.nextLongN(maxA-minA+1+auctionIDLead)
}

func nextPrice(r *javaRandom) int64 {
	return int64(math.Floor(math.Pow(10.0, r.nextFloat64()*6.0)*100.0 + 0.5))
}

// appendString appends the reference's nextString(maxLength): 3..maxLength-1 characters,
// lowercase letters with a space in 1 of 13 positions, then trimmed of surrounding spaces.
func appendString(dst []byte, r *javaRandom, maxLength int32) []byte {
	n := minStringLength + r.nextIntn(maxLength-minStringLength)
	start := len(dst)
	for ; n > 0; n-- {
		if r.nextIntn(13) == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, byte('a'+r.nextIntn(26)))
		}
	}
	// trim (Java String.trim removes chars <= ' ' at both ends; only ' ' occurs here)
	s := dst[start:]
	lo, hi := 0, len(s)
	for lo < hi && s[lo] == ' ' {
		lo++
	}
	for hi > lo && s[hi-1] == ' ' {
		hi--
	}
	if lo > 0 {
		copy(s, s[lo:hi])
	}
	return dst[:start+hi-lo]
}

// extraSize is the reference nextExtra's length choice: uniform around desired-current ±20 %.
func extraSize(r *javaRandom, currentSize, avg int) int {
	if currentSize > avg {
		return 0
	}
	desired := avg - currentSize
	delta := int(math.Floor(float64(desired)*0.2 + 0.5))
	size := desired - delta
	if delta != 0 {
		size += int(r.nextIntn(int32(2 * delta)))
	}
	return size
}

// appendExactString is the reference nextExactString (including its handling of negative
// random ints, which yields characters below 'a').
func appendExactString(dst []byte, r *javaRandom, length int) []byte {
	var rnd, n int32
	for ; length > 0; length-- {
		if n == 0 {
			rnd = r.nextInt32()
			n = 6
		}
		dst = append(dst, byte(int32('a')+rnd%26))
		rnd /= 26
		n--
	}
	return dst
}

// extra returns the padding string. In exact mode the characters are appended to buf.strs at
// [off:] and the caller slices them out of the final string; otherwise a slice of the shared
// pool is returned directly.
func (g *Generator) extra(r *javaRandom, id int64, currentSize, avg int, buf *EventBuffer) (pooled string, exactLen int) {
	size := extraSize(r, currentSize, avg)
	if size == 0 {
		return "", 0
	}
	if g.cfg.ExactExtra {
		buf.strs = appendExactString(buf.strs, r, size)
		return "", size
	}
	h := uint64(id) * 0x9E3779B97F4A7C15
	off := int((h >> 33) % uint64(len(g.extraPool)-size+1))
	return g.extraPool[off : off+size], 0
}

func (g *Generator) person(id int64, r *javaRandom, ts int64, p *Person, buf *EventBuffer) {
	p.ID = g.lastBase0PersonID(id) + FirstPersonID
	fi := r.nextIntn(int32(len(firstNames)))
	li := r.nextIntn(int32(len(lastNames)))
	p.Name = personNames[int(fi)*len(lastNames)+int(li)]
	// email and credit card share one allocation
	b := buf.strs[:0]
	b = appendString(b, r, 7)
	b = append(b, '@')
	b = appendString(b, r, 5)
	b = append(b, ".com"...)
	emailLen := len(b)
	for i := 0; i < 4; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		v := r.nextIntn(10000)
		b = append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	ccLen := len(b) - emailLen
	p.City = usCities[r.nextIntn(int32(len(usCities)))]
	p.State = usStates[r.nextIntn(int32(len(usStates)))]
	p.DateTime = ts
	cur := 8 + len(p.Name) + emailLen + ccLen + len(p.City) + len(p.State)
	buf.strs = b
	pooled, exact := g.extra(r, id, cur, g.cfg.AvgPersonByteSize, buf)
	s := string(buf.strs)
	p.EmailAddress = s[:emailLen]
	p.CreditCard = s[emailLen : emailLen+ccLen]
	if exact > 0 {
		p.Extra = s[emailLen+ccLen:]
	} else {
		p.Extra = pooled
	}
}

func (g *Generator) auction(id int64, r *javaRandom, ts int64, a *Auction, buf *EventBuffer) {
	a.ID = g.lastBase0AuctionID(id) + FirstAuctionID
	var seller int64
	if r.nextIntn(int32(g.cfg.HotSellersRatio)) > 0 {
		seller = (g.lastBase0PersonID(id) / hotSellerRatio) * hotSellerRatio
	} else {
		seller = g.nextBase0PersonID(id, r)
	}
	a.Seller = seller + FirstPersonID
	a.Category = FirstCategoryID + int64(r.nextIntn(NumCategories))
	a.InitialBid = nextPrice(r)
	// auction length: average time until NumInFlightAuctions more auctions exist
	future := g.Timestamp(id + g.numEventsForAuctions)
	horizon := future - ts
	a.Expires = ts + 1 + r.nextLongN(max(horizon*2, 1))
	b := buf.strs[:0]
	b = appendString(b, r, 20)
	nameLen := len(b)
	b = appendString(b, r, 100)
	descLen := len(b) - nameLen
	a.Reserve = a.InitialBid + nextPrice(r)
	a.DateTime = ts
	cur := 8 + nameLen + descLen + 8 + 8 + 8 + 8 + 8
	buf.strs = b
	pooled, exact := g.extra(r, id, cur, g.cfg.AvgAuctionByteSize, buf)
	s := string(buf.strs)
	a.ItemName = s[:nameLen]
	a.Description = s[nameLen : nameLen+descLen]
	if exact > 0 {
		a.Extra = s[nameLen+descLen:]
	} else {
		a.Extra = pooled
	}
}

func (g *Generator) bid(id int64, r *javaRandom, ts int64, b *Bid, buf *EventBuffer) {
	var auction int64
	if r.nextIntn(int32(g.cfg.HotAuctionRatio)) > 0 {
		auction = (g.lastBase0AuctionID(id) / hotAuctionRatio) * hotAuctionRatio
	} else {
		auction = g.nextBase0AuctionID(id, r)
	}
	b.Auction = auction + FirstAuctionID
	var bidder int64
	if r.nextIntn(int32(g.cfg.HotBiddersRatio)) > 0 {
		bidder = (g.lastBase0PersonID(id)/hotBidderRatio)*hotBidderRatio + 1
	} else {
		bidder = g.nextBase0PersonID(id, r)
	}
	b.Bidder = bidder + FirstPersonID
	b.Price = nextPrice(r)
	b.DateTime = ts
	if g.cfg.ExactExtra {
		buf.strs = buf.strs[:0]
		if _, exact := g.extra(r, id, 32, g.cfg.AvgBidByteSize, buf); exact > 0 {
			b.Extra = string(buf.strs)
		}
		return
	}
	b.Extra, _ = g.extra(r, id, 32, g.cfg.AvgBidByteSize, buf)
}
