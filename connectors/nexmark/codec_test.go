package nexmark

import (
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

// TestEventCodecRoundTrip checks the registered Event codec and the engine's derived codecs of
// the sub-types.
func TestEventCodecRoundTrip(t *testing.T) {
	c, err := serde.For[Event]()
	if err != nil {
		t.Fatalf("no codec for Event: %v", err)
	}
	if _, ok := c.(EventCodec); !ok {
		t.Fatalf("serde.For[Event] returned %T, not the registered EventCodec", c)
	}
	for _, sub := range []func() error{
		func() error { _, err := serde.For[Bid](); return err },
		func() error { _, err := serde.For[Person](); return err },
		func() error { _, err := serde.For[Auction](); return err },
	} {
		if err := sub(); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := Generate(DefaultConfig(), 2000)
	var buf []byte
	total := 0
	for i := range evs {
		buf = c.Append(buf[:0], evs[i])
		total += len(buf)
		got, n, err := c.Decode(buf)
		if err != nil || n != len(buf) || got != evs[i] {
			t.Fatalf("event %d: round trip failed (%v, %d/%d bytes)", i, err, n, len(buf))
		}
	}
	t.Logf("average encoded event: %.1f bytes", float64(total)/float64(len(evs)))
	// Malformed input: errors, never panics.
	enc := c.Append(nil, evs[1])
	for cut := 0; cut < len(enc); cut++ {
		if _, _, err := c.Decode(enc[:cut]); err == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) decoded", cut, len(enc))
		}
	}
	if _, _, err := c.Decode([]byte{7, 1, 2}); err == nil {
		t.Fatal("unknown type decoded")
	}
}

func FuzzEventCodecDecode(f *testing.F) {
	evs, _ := Generate(DefaultConfig(), 60)
	for i := range evs[:5] {
		f.Add(EventCodec{}.Append(nil, evs[i]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := EventCodec{}.Decode(b)
		if err != nil {
			return
		}
		again := EventCodec{}.Append(nil, e)
		e2, _, err := EventCodec{}.Decode(again)
		if err != nil || e2 != e || n > len(b) {
			t.Fatalf("re-encoding of decoded event differs")
		}
	})
}

func BenchmarkEventCodecAppend(b *testing.B) {
	c, err := serde.For[Event]()
	if err != nil {
		b.Fatal(err)
	}
	evs, _ := Generate(DefaultConfig(), 1000)
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = c.Append(buf[:0], evs[i%len(evs)])
		i++
	}
}

func BenchmarkEventCodecDecode(b *testing.B) {
	c, _ := serde.For[Event]()
	evs, _ := Generate(DefaultConfig(), 1000)
	var encs [][]byte
	for i := range evs {
		encs = append(encs, c.Append(nil, evs[i]))
	}
	var ev Event
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		serde.DecodeInto(c, encs[i%len(encs)], &ev)
		i++
	}
}

func BenchmarkBidCodecAppend(b *testing.B) {
	c, _ := serde.For[Bid]()
	evs, _ := Generate(DefaultConfig(), 1000)
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = c.Append(buf[:0], evs[(i%20)*50+10].Bid)
		i++
	}
}
