package nexmark

import (
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

// TestEventCodecRoundTrip checks that the engine's derived codec handles the model types.
func TestEventCodecRoundTrip(t *testing.T) {
	c, err := serde.For[Event]()
	if err != nil {
		t.Fatalf("no derived codec for Event: %v", err)
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
