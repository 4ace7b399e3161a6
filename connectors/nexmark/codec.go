package nexmark

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/flink-go/flink-go/runtime/serde"
)

// EventCodec is a hand-written serde codec for Event that encodes only the populated
// sub-struct (a type byte, then its fields as zig-zag varints and length-prefixed strings).
// Decoding copies all strings of one event with a single allocation. Package nexmark registers
// it for Event in init, so serde.For[Event] returns it in every process of a job.
type EventCodec struct{}

var (
	_ serde.Codec[Event]       = EventCodec{}
	_ serde.IntoDecoder[Event] = EventCodec{}
)

func init() { serde.Register[Event](EventCodec{}) }

// ErrMalformedEvent is wrapped by decoding errors.
var ErrMalformedEvent = errors.New("malformed nexmark event encoding")

// Append implements serde.Codec.
func (EventCodec) Append(dst []byte, e Event) []byte {
	dst = append(dst, byte(e.Type))
	switch e.Type {
	case PersonType:
		p := &e.Person
		dst = serde.AppendVarint(dst, p.ID)
		dst = serde.AppendString(dst, p.Name)
		dst = serde.AppendString(dst, p.EmailAddress)
		dst = serde.AppendString(dst, p.CreditCard)
		dst = serde.AppendString(dst, p.City)
		dst = serde.AppendString(dst, p.State)
		dst = serde.AppendVarint(dst, p.DateTime)
		dst = serde.AppendString(dst, p.Extra)
	case AuctionType:
		a := &e.Auction
		dst = serde.AppendVarint(dst, a.ID)
		dst = serde.AppendString(dst, a.ItemName)
		dst = serde.AppendString(dst, a.Description)
		dst = serde.AppendVarint(dst, a.InitialBid)
		dst = serde.AppendVarint(dst, a.Reserve)
		dst = serde.AppendVarint(dst, a.DateTime)
		dst = serde.AppendVarint(dst, a.Expires)
		dst = serde.AppendVarint(dst, a.Seller)
		dst = serde.AppendVarint(dst, a.Category)
		dst = serde.AppendString(dst, a.Extra)
	default:
		b := &e.Bid
		dst = serde.AppendVarint(dst, b.Auction)
		dst = serde.AppendVarint(dst, b.Bidder)
		dst = serde.AppendVarint(dst, b.Price)
		dst = serde.AppendVarint(dst, b.DateTime)
		dst = serde.AppendString(dst, b.Extra)
	}
	return dst
}

// Decode implements serde.Codec.
func (c EventCodec) Decode(src []byte) (Event, int, error) {
	var e Event
	n, err := c.DecodeInto(src, &e)
	return e, n, err
}

// eventDecoder reads fields from src; strings are first collected as offsets and materialized
// from one string copy of the whole encoding at the end.
type eventDecoder struct {
	src  []byte
	off  int
	err  error
	strs [8][2]int32 // offsets of strings in src
	ns   int
}

func (d *eventDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n, err := serde.Varint(d.src[d.off:])
	if err != nil {
		d.err = err
		return 0
	}
	d.off += n
	return v
}

func (d *eventDecoder) str() {
	if d.err != nil {
		return
	}
	l, n, err := serde.Uvarint(d.src[d.off:])
	if err != nil {
		d.err = err
		return
	}
	start := d.off + n
	if l > uint64(len(d.src)-start) {
		d.err = fmt.Errorf("%w: string of %d bytes with %d left", ErrMalformedEvent, l, len(d.src)-start)
		return
	}
	d.strs[d.ns] = [2]int32{int32(start), int32(start + int(l))}
	d.ns++
	d.off = start + int(l)
}

// DecodeInto implements serde.IntoDecoder.
func (EventCodec) DecodeInto(src []byte, e *Event) (int, error) {
	if e == nil {
		return 0, fmt.Errorf("%w: nil destination", ErrMalformedEvent)
	}
	if len(src) == 0 {
		return 0, fmt.Errorf("%w: empty input", ErrMalformedEvent)
	}
	if len(src) > 1<<30 {
		return 0, fmt.Errorf("%w: input too large", ErrMalformedEvent)
	}
	d := eventDecoder{src: src, off: 1}
	typ := int64(src[0])
	*e = Event{Type: typ}
	var ints [8]int64
	switch typ {
	case PersonType:
		ints[0] = d.varint()
		d.str()
		d.str()
		d.str()
		d.str()
		d.str()
		ints[1] = d.varint()
		d.str()
	case AuctionType:
		ints[0] = d.varint()
		d.str()
		d.str()
		for i := 1; i <= 6; i++ {
			ints[i] = d.varint()
		}
		d.str()
	case BidType:
		for i := 0; i < 4; i++ {
			ints[i] = d.varint()
		}
		d.str()
	default:
		return 0, fmt.Errorf("%w: unknown event type %d", ErrMalformedEvent, typ)
	}
	if d.err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformedEvent, d.err)
	}
	// One allocation for all strings of the event.
	var all string
	if d.ns > 0 {
		lo, hi := d.strs[0][0], d.strs[d.ns-1][1]
		b := make([]byte, hi-lo)
		copy(b, src[lo:hi])
		all = unsafe.String(unsafe.SliceData(b), len(b))
		for i := 0; i < d.ns; i++ {
			d.strs[i][0] -= lo
			d.strs[i][1] -= lo
		}
	}
	s := func(i int) string { return all[d.strs[i][0]:d.strs[i][1]] }
	switch typ {
	case PersonType:
		e.Person = Person{ID: ints[0], Name: s(0), EmailAddress: s(1), CreditCard: s(2), City: s(3), State: s(4), DateTime: ints[1], Extra: s(5)}
	case AuctionType:
		e.Auction = Auction{ID: ints[0], ItemName: s(0), Description: s(1), InitialBid: ints[1], Reserve: ints[2],
			DateTime: ints[3], Expires: ints[4], Seller: ints[5], Category: ints[6], Extra: s(2)}
	case BidType:
		e.Bid = Bid{Auction: ints[0], Bidder: ints[1], Price: ints[2], DateTime: ints[3], Extra: s(0)}
	}
	return d.off, nil
}
