package nexmark_test

import (
	"fmt"

	"github.com/flink-go/flink-go/connectors/nexmark"
)

// The same configuration always yields the same events; the reference queries run over them.
func ExampleGenerate() {
	cfg := nexmark.DefaultConfig()
	events, err := nexmark.Generate(cfg, 50)
	if err != nil {
		panic(err)
	}
	first := events[0].Person
	fmt.Println(events[0].TypeName(), first.ID, first.Name, first.State)
	fmt.Println(events[1].TypeName(), events[1].Auction.ID, events[1].Auction.Seller)
	fmt.Println(len(nexmark.Q0(events)), "bids")
	// Output:
	// person 1000 Peter Jones WY
	// auction 1000 1000
	// 46 bids
}
