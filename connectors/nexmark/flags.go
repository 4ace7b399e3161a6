package nexmark

import "flag"

// RegisterFlags binds the commonly tuned generator parameters to command-line flags on fs,
// using cfg's current values as defaults: --events, --rate, --rate-limited, --base-time,
// --out-of-order-group, --hot-auction-ratio, --hot-sellers-ratio, --hot-bidders-ratio,
// --avg-bid-bytes, --exact-extra, --source-watermarks. Call cfg.Validate after fs.Parse.
func RegisterFlags(fs *flag.FlagSet, cfg *Config) {
	fs.Int64Var(&cfg.NumEvents, "events", cfg.NumEvents, "number of Nexmark events over all subtasks (0 = unbounded)")
	fs.Float64Var(&cfg.FirstEventRate, "rate", cfg.FirstEventRate, "event rate in events/s (event time; also wall clock with --rate-limited)")
	fs.BoolVar(&cfg.RateLimited, "rate-limited", cfg.RateLimited, "emit at --rate events per wall-clock second instead of as fast as possible")
	fs.Int64Var(&cfg.BaseTime, "base-time", cfg.BaseTime, "event time of the first event, epoch ms")
	fs.Int64Var(&cfg.OutOfOrderGroupSize, "out-of-order-group", cfg.OutOfOrderGroupSize, "shuffle events within groups of this size (1 = in order)")
	fs.IntVar(&cfg.HotAuctionRatio, "hot-auction-ratio", cfg.HotAuctionRatio, "1 - 1/ratio of bids go to the hot auction")
	fs.IntVar(&cfg.HotSellersRatio, "hot-sellers-ratio", cfg.HotSellersRatio, "1 - 1/ratio of auctions are by the hot seller")
	fs.IntVar(&cfg.HotBiddersRatio, "hot-bidders-ratio", cfg.HotBiddersRatio, "1 - 1/ratio of bids are by the hot bidder")
	fs.IntVar(&cfg.AvgBidByteSize, "avg-bid-bytes", cfg.AvgBidByteSize, "average bid size the extra field pads to")
	fs.BoolVar(&cfg.ExactExtra, "exact-extra", cfg.ExactExtra, "generate the reference's exact extra padding characters (slower)")
	fs.BoolVar(&cfg.EmitWatermarks, "source-watermarks", cfg.EmitWatermarks, "emit the generator's own watermarks")
}
