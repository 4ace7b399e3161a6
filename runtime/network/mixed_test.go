package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// A gate mixing local and remote channels, read with random Block/UnblockAll calls (as barrier
// alignment would), delivers every channel's records and events exactly once, in order.
func TestMixedGateRandomBlocking(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	cfg := Config{SegmentSize: 512, TotalBuffers: 256, BufferTimeout: 2 * time.Millisecond, FloatingBuffersPerGate: 3}
	a := newTestEnv(t, cfg)
	b := newTestEnv(t, cfg)
	const producers, records = 4, 3000
	envOf := func(p int) *Environment {
		if p%2 == 0 {
			return a
		}
		return b
	}
	specs := make([]ChannelSpec, producers)
	var writers []*RecordWriter
	for p := 0; p < producers; p++ {
		rp, err := envOf(p).CreatePartition(pid("mixed", p), 1)
		if err != nil {
			t.Fatal(err)
		}
		writers = append(writers, NewRecordWriter(rp))
		specs[p] = ChannelSpec{Partition: pid("mixed", p), Addr: envOf(p).Addr()}
	}
	g, err := b.CreateInputGate(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	sizes := make([][]int, producers)
	for p := range sizes {
		for i := 0; i < records; i++ {
			sizes[p] = append(sizes[p], rng.IntN(1500))
		}
	}
	for p, w := range writers {
		go func() {
			for i := 0; i < records; i++ {
				if i%250 == 0 {
					if err := w.BroadcastEvent([]byte(fmt.Sprintf("e%d", i))); err != nil {
						t.Errorf("event: %v", err)
						return
					}
				}
				if err := w.EmitBytes(0, record(p, i, sizes[p][i])); err != nil {
					t.Errorf("emit: %v", err)
					return
				}
			}
			w.Close()
		}()
	}
	r := NewRecordReader(g)
	next := make([]int, producers)
	events := make([]int, producers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		// Randomly block a channel or unblock all, never leaving every channel blocked for long.
		switch x := rng.IntN(100); {
		case x < 3:
			r.Block(rng.IntN(producers))
		case x < 8:
			r.UnblockAll()
		}
		if r.nBlocked == producers {
			r.UnblockAll()
		}
		short, c2 := context.WithTimeout(ctx, 50*time.Millisecond)
		ch, rec, ev, err := r.Next(short)
		c2()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			r.UnblockAll() // only blocked or finished channels left
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.IsBlocked(ch) {
			t.Fatalf("delivery from blocked channel %d", ch)
		}
		if ev != nil {
			if want := fmt.Sprintf("e%d", next[ch]); string(ev) != want {
				t.Fatalf("channel %d: event %q, want %q", ch, ev, want)
			}
			events[ch]++
			continue
		}
		i := next[ch]
		if i >= records || !bytes.Equal(rec, record(ch, i, sizes[ch][i])) {
			t.Fatalf("channel %d: record %d wrong (%d bytes)", ch, i, len(rec))
		}
		next[ch]++
	}
	for p := 0; p < producers; p++ {
		if next[p] != records || events[p] != records/250 {
			t.Fatalf("channel %d: %d records, %d events", p, next[p], events[p])
		}
	}
}
