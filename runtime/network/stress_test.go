package network

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestRandomizedTopologies runs seeded random configurations (segment size, buffer timeout,
// credits, local/remote placement, record sizes, events, flushes) and checks every consumer
// receives each producer's sequence exactly. The seed is logged for replay.
func TestRandomizedTopologies(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	base := uint64(time.Now().UnixNano())
	for round := 0; round < rounds; round++ {
		seed := base + uint64(round)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			timeouts := []time.Duration{0, -1, time.Millisecond, 5 * time.Millisecond}
			cfg := Config{
				SegmentSize:            []int{64, 200, 1024, 4096}[rng.IntN(4)],
				TotalBuffers:           400,
				BufferTimeout:          timeouts[rng.IntN(len(timeouts))],
				BuffersPerChannel:      1 + rng.IntN(3),
				FloatingBuffersPerGate: rng.IntN(5) - 1,
			}
			producers, consumers := 1+rng.IntN(3), 1+rng.IntN(3)
			envs := []*Environment{newTestEnv(t, cfg), newTestEnv(t, cfg)}
			t.Logf("config %+v, %d producers, %d consumers", cfg, producers, consumers)
			type plan struct {
				recs   [][]int // per consumer: record sizes, -1 = event
				writer *RecordWriter
			}
			plans := make([]plan, producers)
			for p := range plans {
				env := envs[rng.IntN(2)]
				rp, err := env.CreatePartition(pid("rnd", p), consumers)
				if err != nil {
					t.Fatal(err)
				}
				plans[p].writer = NewRecordWriter(rp)
				plans[p].recs = make([][]int, consumers)
			}
			var gates []*InputGate
			for c := 0; c < consumers; c++ {
				specs := make([]ChannelSpec, producers)
				for p := range specs {
					specs[p] = ChannelSpec{Partition: pid("rnd", p), Subpartition: c, Addr: plans[p].writer.Partition().env.Addr()}
				}
				g, err := envs[rng.IntN(2)].CreateInputGate(context.Background(), specs)
				if err != nil {
					t.Fatal(err)
				}
				defer g.Close()
				gates = append(gates, g)
			}
			// Decide the script up front (the rng is not shared with goroutines).
			type op struct {
				kind, sub, size int // kind 0 record, 1 event, 2 flush
			}
			scripts := make([][]op, producers)
			for p := range scripts {
				n := 200 + rng.IntN(800)
				for i := 0; i < n; i++ {
					switch x := rng.IntN(100); {
					case x < 3:
						scripts[p] = append(scripts[p], op{kind: 1})
					case x < 6:
						scripts[p] = append(scripts[p], op{kind: 2})
					default:
						size := rng.IntN(64)
						if rng.IntN(10) == 0 {
							size = rng.IntN(3 * cfg.SegmentSize)
						}
						scripts[p] = append(scripts[p], op{kind: 0, sub: rng.IntN(consumers), size: size})
					}
				}
			}
			var wg sync.WaitGroup
			for p := range plans {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w := plans[p].writer
					for i, o := range scripts[p] {
						var err error
						switch o.kind {
						case 0:
							rec := record(p, i, o.size)
							if i%2 == 0 {
								err = w.EmitBytes(o.sub, rec)
							} else {
								err = w.Emit(o.sub, func(dst []byte) []byte { return append(dst, rec...) })
							}
						case 1:
							err = w.BroadcastEvent([]byte(fmt.Sprintf("ev%d", i)))
						case 2:
							err = w.Flush()
						}
						if err != nil {
							t.Errorf("producer %d op %d: %v", p, i, err)
							return
						}
					}
					if err := w.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				}()
			}
			results := make([][]item, consumers)
			for c, g := range gates {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[c] = readAll(t, NewRecordReader(g), 30*time.Second)
				}()
			}
			wg.Wait()
			for c := range gates {
				byCh := perChannel(results[c])
				for p := range plans {
					var want []item
					for i, o := range scripts[p] {
						switch {
						case o.kind == 0 && o.sub == c:
							want = append(want, item{ch: p, rec: record(p, i, o.size)})
						case o.kind == 1:
							want = append(want, item{ch: p, ev: []byte(fmt.Sprintf("ev%d", i))})
						}
					}
					got := byCh[p]
					if len(got) != len(want) {
						t.Fatalf("consumer %d channel %d: %d items, want %d", c, p, len(got), len(want))
					}
					for i := range got {
						if !bytes.Equal(got[i].rec, want[i].rec) || !bytes.Equal(got[i].ev, want[i].ev) {
							t.Fatalf("consumer %d channel %d item %d: %v, want %v", c, p, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}
