package network

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// fakeChannel feeds prepared buffers into a gate.
type fakeChannel struct {
	bufs []*Buffer
}

func (f *fakeChannel) poll() (*Buffer, bool, error) {
	if len(f.bufs) == 0 {
		return nil, false, nil
	}
	b := f.bufs[0]
	f.bufs = f.bufs[1:]
	return b, len(f.bufs) > 0, nil
}

func (f *fakeChannel) release() {}

func fakeGate(chans ...*fakeChannel) *InputGate {
	g := &InputGate{
		specs:  make([]ChannelSpec, len(chans)),
		chans:  make([]inputChannel, len(chans)),
		queued: make([]bool, len(chans)),
		notify: make(chan struct{}, 1),
	}
	for i, c := range chans {
		g.chans[i] = c
		if len(c.bufs) > 0 {
			g.queued[i] = true
			g.avail = append(g.avail, i)
		}
	}
	return g
}

// splitBuffers cuts stream into data buffers at the given sizes, then EndOfPartition.
func splitBuffers(stream []byte, cuts []byte) []*Buffer {
	var out []*Buffer
	for i := 0; len(stream) > 0; i++ {
		n := 1
		if len(cuts) > 0 {
			n = int(cuts[i%len(cuts)])%17 + 1
		}
		if n > len(stream) {
			n = len(stream)
		}
		out = append(out, &Buffer{seg: stream[:n:n], kind: kindData})
		stream = stream[n:]
	}
	return append(out, &Buffer{kind: kindEOP})
}

// FuzzRecordReader: any byte stream cut anywhere either yields the records it encodes or an
// error, never a panic; valid streams round-trip.
func FuzzRecordReader(f *testing.F) {
	f.Add([]byte{3, 'a', 'b', 'c', 0, 1, 'x'}, []byte{1, 2, 3})
	f.Add([]byte{0x80, 0x01}, []byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{5})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		// Decode the stream directly to know what to expect.
		var want [][]byte
		valid := true
		for rest := stream; len(rest) > 0; {
			v, k := binary.Uvarint(rest)
			if k <= 0 || v > uint64(len(rest)-k) {
				valid = false
				break
			}
			want = append(want, rest[k:k+int(v)])
			rest = rest[k+int(v):]
		}
		r := NewRecordReader(fakeGate(&fakeChannel{bufs: splitBuffers(stream, cuts)}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var got [][]byte
		for {
			_, rec, _, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if valid {
					t.Fatalf("valid stream rejected: %v", err)
				}
				return
			}
			got = append(got, append([]byte{}, rec...))
		}
		if !valid {
			t.Fatalf("invalid stream accepted")
		}
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs", i)
			}
		}
	})
}

func TestRecordReaderRoundRobinsChannels(t *testing.T) {
	mk := func(tag byte) *fakeChannel {
		var bufs []*Buffer
		for i := 0; i < 3; i++ {
			bufs = append(bufs, &Buffer{seg: []byte{1, tag, 1, tag}, kind: kindData})
		}
		return &fakeChannel{bufs: append(bufs, &Buffer{kind: kindEOP})}
	}
	r := NewRecordReader(fakeGate(mk('a'), mk('b')))
	var order []int
	for {
		ch, _, _, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, ch)
	}
	// Whole buffers per turn, alternating channels.
	want := []int{0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1}
	if len(order) != len(want) {
		t.Fatalf("order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}
