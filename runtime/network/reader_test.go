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

// Blocking a channel in the middle of a buffer holds the rest of that buffer, in order.
func TestBlockMidBuffer(t *testing.T) {
	buf := func(recs ...byte) *Buffer {
		var seg []byte
		for _, r := range recs {
			seg = append(seg, 1, r)
		}
		return &Buffer{seg: seg, kind: kindData}
	}
	a := &fakeChannel{bufs: []*Buffer{buf('a', 'b', 'c'), buf('d'), {kind: kindEOP}}}
	b := &fakeChannel{bufs: []*Buffer{buf('x'), buf('y'), {kind: kindEOP}}}
	r := NewRecordReader(fakeGate(a, b))
	ctx := context.Background()
	next := func() (int, string) {
		t.Helper()
		ch, rec, _, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return ch, string(rec)
	}
	if ch, rec := next(); ch != 0 || rec != "a" {
		t.Fatalf("first: %d %q", ch, rec)
	}
	r.Block(0)
	for _, want := range []string{"x", "y"} {
		if ch, rec := next(); ch != 1 || rec != want {
			t.Fatalf("while blocked: %d %q, want 1 %q", ch, rec, want)
		}
	}
	// Channel 1 ended; channel 0 is blocked: Next must wait, not return EOF.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, _, _, err := r.Next(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with only a blocked channel left: %v", err)
	}
	r.UnblockAll()
	for _, want := range []string{"b", "c", "d"} {
		if ch, rec := next(); ch != 0 || rec != want {
			t.Fatalf("after unblock: %d %q, want 0 %q", ch, rec, want)
		}
	}
	if _, _, _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if !r.Finished(0) || !r.Finished(1) {
		t.Fatal("channels not finished")
	}
}

func TestEndOfPartitionHandlerAndEvents(t *testing.T) {
	a := &fakeChannel{bufs: []*Buffer{{seg: []byte{2, 'h', 'i'}, kind: kindData}, {seg: []byte("wm"), kind: kindEvent}, {kind: kindEOP}}}
	r := NewRecordReader(fakeGate(a))
	var ended []int
	r.SetEndOfPartitionHandler(func(ch int) { ended = append(ended, ch) })
	ctx := context.Background()
	if _, rec, ev, err := r.Next(ctx); err != nil || string(rec) != "hi" || ev != nil {
		t.Fatalf("record: %q %q %v", rec, ev, err)
	}
	if _, rec, ev, err := r.Next(ctx); err != nil || rec != nil || string(ev) != "wm" {
		t.Fatalf("event: %q %q %v", rec, ev, err)
	}
	if ch, rec, ev, err := r.Next(ctx); err != nil || ch != 0 || rec != nil || ev != nil || len(ended) != 1 || ended[0] != 0 {
		t.Fatalf("end of partition: channel %d %q %q %v, handler saw %v", ch, rec, ev, err, ended)
	}
	if _, _, _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// An end of partition on the last unblocked channel, while every other channel is blocked for
// a barrier alignment, must reach the caller: the alignment may be waiting for exactly that
// channel. Before, Next called the handler and went on waiting for the blocked channels.
func TestEndOfPartitionReturnsWhileOthersBlocked(t *testing.T) {
	a := &fakeChannel{bufs: []*Buffer{{seg: []byte("barrier"), kind: kindEvent}, {kind: kindEOP}}}
	b := &fakeChannel{bufs: []*Buffer{{kind: kindEOP}}}
	g := fakeGate(a, b)
	r := NewRecordReader(g)
	var ended []int
	r.SetEndOfPartitionHandler(func(ch int) { ended = append(ended, ch) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, _, ev, err := r.Next(ctx)
	if err != nil || ch != 0 || string(ev) != "barrier" {
		t.Fatalf("first: channel %d %q %v, want the barrier of channel 0", ch, ev, err)
	}
	r.Block(0)
	ch, rec, ev, err := r.Next(ctx)
	if err != nil || ch != 1 || rec != nil || ev != nil {
		t.Fatalf("with channel 0 blocked: channel %d %q %q %v, want the end of channel 1", ch, rec, ev, err)
	}
	if !r.Finished(1) || len(ended) != 1 || ended[0] != 1 {
		t.Fatalf("channel 1 not reported finished (handler saw %v)", ended)
	}
	r.UnblockAll()
	if ch, _, _, err := r.Next(ctx); err != nil || ch != 0 {
		t.Fatalf("after unblock: channel %d %v, want the end of channel 0", ch, err)
	}
	if _, _, _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestTruncatedRecordIsAnError(t *testing.T) {
	a := &fakeChannel{bufs: []*Buffer{{seg: []byte{5, 'a', 'b'}, kind: kindData}, {kind: kindEOP}}}
	_, _, _, err := NewRecordReader(fakeGate(a)).Next(context.Background())
	mustContain(t, err, "truncated")
}
