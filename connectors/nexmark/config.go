package nexmark

import (
	"errors"
	"fmt"
)

// Identifier bases of the reference generator: ids start at these values so the queries find
// matches even on small data sets.
const (
	FirstPersonID   int64 = 1000
	FirstAuctionID  int64 = 1000
	FirstCategoryID int64 = 10
	// NumCategories is the number of auction categories (10..14).
	NumCategories = 5
)

// DefaultBaseTime is the event time of event 0 unless Config.BaseTime says otherwise:
// 2026-01-01T00:00:00Z. A fixed default keeps generated data (and window results) reproducible.
const DefaultBaseTime int64 = 1767225600000

// Config holds the generator parameters. Field names and defaults follow Beam's
// NexmarkConfiguration / nexmark-flink's NexmarkConfiguration; see docs/connectors.md.
type Config struct {
	// NumEvents is the total number of events over all subtasks; 0 = unbounded.
	NumEvents int64
	// FirstEventRate is the event rate in events per second of event time (and of wall-clock
	// time when RateLimited). Event n has timestamp BaseTime + n*1e6/FirstEventRate µs.
	FirstEventRate float64
	// RateLimited paces emission so the subtasks together emit FirstEventRate events per
	// wall-clock second; otherwise events are generated as fast as possible.
	RateLimited bool
	// BaseTime is the event time of event number 0 (epoch ms).
	BaseTime int64

	// PersonProportion, AuctionProportion, BidProportion: event n (after out-of-order
	// adjustment) is a person, auction or bid depending on n mod their sum (default 1:3:46).
	PersonProportion  int
	AuctionProportion int
	BidProportion     int

	// Average sizes in bytes that the Extra padding field brings events to.
	AvgPersonByteSize  int
	AvgAuctionByteSize int
	AvgBidByteSize     int

	// Hot key ratios: a bid goes to the hot auction with probability 1-1/HotAuctionRatio, is
	// made by the hot bidder with probability 1-1/HotBiddersRatio; an auction is sold by the hot
	// seller with probability 1-1/HotSellersRatio.
	HotAuctionRatio int
	HotSellersRatio int
	HotBiddersRatio int

	// NumInFlightAuctions / NumActivePeople: random auction/person references pick among the
	// last this many ids (plus a lead of 10 not-yet-generated ids).
	NumInFlightAuctions int
	NumActivePeople     int

	// OutOfOrderGroupSize: events inside each group of this many are emitted in a
	// pseudo-random order (1 = in order).
	OutOfOrderGroupSize int64
	// OccasionalDelaySec / ProbDelayedEvent: in RateLimited mode only, an event is held back by
	// 1..OccasionalDelaySec*1000 ms with probability ProbDelayedEvent (as Beam's unbounded
	// source). 0 disables.
	OccasionalDelaySec int64
	ProbDelayedEvent   float64

	// ExactExtra generates the Extra padding with the reference generator's exact characters
	// (one allocation per event). When false, Extra has the reference's length but its
	// characters come from a shared random-letter pool (no allocation for bids).
	ExactExtra bool
	// EmitWatermarks makes the source emit the generator's own watermarks (the timestamp of the
	// earliest event it may still emit, minus 1 ms) after every batch.
	EmitWatermarks bool
	// BatchSize is the maximum number of events one Poll emits (default 1024).
	BatchSize int
}

// DefaultConfig returns the reference defaults: rate 10 000 events/s, 1:3:46 proportions, sizes
// 200/500/100 bytes, hot ratios 2/4/4, 100 in-flight auctions, 1000 active people, in order,
// occasional delays 3 s with probability 0.1 (rate-limited mode only), unbounded.
func DefaultConfig() Config {
	return Config{
		FirstEventRate:      10_000,
		BaseTime:            DefaultBaseTime,
		PersonProportion:    1,
		AuctionProportion:   3,
		BidProportion:       46,
		AvgPersonByteSize:   200,
		AvgAuctionByteSize:  500,
		AvgBidByteSize:      100,
		HotAuctionRatio:     2,
		HotSellersRatio:     4,
		HotBiddersRatio:     4,
		NumInFlightAuctions: 100,
		NumActivePeople:     1000,
		OutOfOrderGroupSize: 1,
		OccasionalDelaySec:  3,
		ProbDelayedEvent:    0.1,
		BatchSize:           1024,
	}
}

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid nexmark configuration")

// Validate checks the configuration.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.NumEvents < 0:
		return bad("NumEvents %d is negative (use 0 for unbounded)", c.NumEvents)
	case !(c.FirstEventRate > 0) || c.FirstEventRate > 1e12:
		return bad("FirstEventRate %v must be in (0, 1e12] events/s", c.FirstEventRate)
	case c.PersonProportion < 1 || c.AuctionProportion < 1 || c.BidProportion < 1:
		return bad("proportions %d:%d:%d must all be >= 1", c.PersonProportion, c.AuctionProportion, c.BidProportion)
	case c.PersonProportion+c.AuctionProportion+c.BidProportion > 1<<20:
		return bad("proportions %d:%d:%d are too large", c.PersonProportion, c.AuctionProportion, c.BidProportion)
	case c.AvgPersonByteSize < 0 || c.AvgAuctionByteSize < 0 || c.AvgBidByteSize < 0:
		return bad("average byte sizes must not be negative")
	case c.AvgPersonByteSize > 1<<20 || c.AvgAuctionByteSize > 1<<20 || c.AvgBidByteSize > 1<<20:
		return bad("average byte sizes must not exceed 1 MiB")
	case c.HotAuctionRatio < 1 || c.HotSellersRatio < 1 || c.HotBiddersRatio < 1:
		return bad("hot ratios %d/%d/%d must be >= 1 (1 = no hot keys)", c.HotAuctionRatio, c.HotSellersRatio, c.HotBiddersRatio)
	case c.NumInFlightAuctions < 1 || c.NumActivePeople < 1:
		return bad("NumInFlightAuctions %d and NumActivePeople %d must be >= 1", c.NumInFlightAuctions, c.NumActivePeople)
	case c.NumInFlightAuctions > 1<<30 || c.NumActivePeople > 1<<30:
		return bad("NumInFlightAuctions/NumActivePeople must be < 2^30")
	case c.OutOfOrderGroupSize < 1:
		return bad("OutOfOrderGroupSize %d must be >= 1", c.OutOfOrderGroupSize)
	case c.OccasionalDelaySec < 0 || c.OccasionalDelaySec > 86400:
		return bad("OccasionalDelaySec %d must be in [0, 86400]", c.OccasionalDelaySec)
	case c.ProbDelayedEvent < 0 || c.ProbDelayedEvent > 1:
		return bad("ProbDelayedEvent %v must be in [0, 1]", c.ProbDelayedEvent)
	case c.BatchSize < 0:
		return bad("BatchSize %d is negative", c.BatchSize)
	}
	return nil
}
