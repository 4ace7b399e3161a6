// Package nexmark implements the Nexmark benchmark's data model, a deterministic event
// generator that follows the reference generators (Apache Beam's NexmarkGenerator and the
// nexmark/nexmark Flink port), an op.Source of events, and straightforward reference
// implementations of queries q0–q5, q7 and q8 over an in-memory event slice.
//
// The types are plain structs of int64 and string fields (times are epoch milliseconds), so the
// engine's derived binary codecs handle them without user code.
package nexmark

// Event types, the value of Event.Type.
const (
	PersonType  int64 = 0
	AuctionType int64 = 1
	BidType     int64 = 2
)

// Person is a new user of the auction site.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // event time, epoch ms
	Extra        string
}

// Auction is an item put up for auction.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64 // event time, epoch ms
	Expires     int64 // epoch ms
	Seller      int64 // Person.ID
	Category    int64
	Extra       string
}

// Bid is a bid on an auction.
type Bid struct {
	Auction  int64 // Auction.ID
	Bidder   int64 // Person.ID
	Price    int64 // in cents
	DateTime int64 // event time, epoch ms
	Extra    string
}

// Event is the union of the three event types, like the reference's wide row
// (event_type, person, auction, bid): Type says which of the sub-structs is populated; the
// others are zero.
type Event struct {
	Type    int64
	Person  Person
	Auction Auction
	Bid     Bid
}

// Timestamp returns the event time of the populated sub-struct (epoch ms).
func (e *Event) Timestamp() int64 {
	switch e.Type {
	case PersonType:
		return e.Person.DateTime
	case AuctionType:
		return e.Auction.DateTime
	default:
		return e.Bid.DateTime
	}
}

// TypeName returns "person", "auction" or "bid".
func (e *Event) TypeName() string {
	switch e.Type {
	case PersonType:
		return "person"
	case AuctionType:
		return "auction"
	case BidType:
		return "bid"
	}
	return "unknown"
}
