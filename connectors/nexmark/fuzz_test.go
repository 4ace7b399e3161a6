package nexmark

import (
	"testing"

	"github.com/flink-go/flink-go/connectors/connectortest"
)

// FuzzRestoreState: arbitrary snapshot bytes give an error or a working reader, never a panic.
func FuzzRestoreState(f *testing.F) {
	src, _ := NewSource(Config{NumEvents: 100, FirstEventRate: 1000, PersonProportion: 1, AuctionProportion: 3, BidProportion: 46,
		HotAuctionRatio: 2, HotSellersRatio: 4, HotBiddersRatio: 4, NumInFlightAuctions: 100, NumActivePeople: 1000, OutOfOrderGroupSize: 1})
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	st, _ := r.Snapshot(1)
	f.Add(st)
	f.Add([]byte{1, 3, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := src.CreateReader(connectortest.NewContext(0, 1).WithRestored([][]byte{b}))
		if err != nil {
			return
		}
		out := &connectortest.CountingOutput[Event]{}
		rd.Poll(t.Context(), out)
		rd.Snapshot(2)
	})
}
