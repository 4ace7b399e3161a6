package serde

import (
	"encoding/binary"
	"testing"
)

var benchBid = Bid{
	Auction:  1017,
	Bidder:   2043,
	Price:    1_234_567,
	Channel:  "Google",
	URL:      "https://www.nexmark.com/bmp/jvi/item.htm?query=1&channel_id=1493172224",
	DateTime: 1_700_000_000_123,
	Extra:    "xqmkzpwnwuvgsabdoeyh",
}

var sink int

func BenchmarkInt64Append(b *testing.B) {
	c := MustFor[int64]()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = c.Append(buf[:0], int64(i)*7919)
	}
	sink += len(buf)
}

func BenchmarkInt64Decode(b *testing.B) {
	c := MustFor[int64]()
	enc := c.Append(nil, 1_700_000_000_123)
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := c.Decode(enc)
		sink += int(v)
	}
}

func BenchmarkStringAppend(b *testing.B) {
	c := MustFor[string]()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], "user-123456789")
	}
	sink += len(buf)
}

func BenchmarkStringDecode(b *testing.B) {
	c := MustFor[string]()
	enc := c.Append(nil, "user-123456789")
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := c.Decode(enc)
		sink += len(v)
	}
}

func BenchmarkBidAppend(b *testing.B) {
	c := MustFor[Bid]()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], benchBid)
	}
	b.SetBytes(int64(len(buf)))
	sink += len(buf)
}

func BenchmarkBidDecode(b *testing.B) {
	c := MustFor[Bid]()
	enc := c.Append(nil, benchBid)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := c.Decode(enc)
		sink += int(v.Price)
	}
}

func BenchmarkBidDecodeInto(b *testing.B) {
	c := MustFor[Bid]().(IntoDecoder[Bid])
	enc := MustFor[Bid]().Append(nil, benchBid)
	var v Bid
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.DecodeInto(enc, &v)
	}
	sink += int(v.Price)
}

// BenchmarkBidHandWritten is the floor: the same wire bytes written by straight-line code.
func BenchmarkBidHandWritten(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		d := buf[:0]
		v := &benchBid
		d = binary.AppendUvarint(d, zigzag(v.Auction))
		d = binary.AppendUvarint(d, zigzag(v.Bidder))
		d = binary.AppendUvarint(d, zigzag(v.Price))
		d = AppendString(d, v.Channel)
		d = AppendString(d, v.URL)
		d = binary.AppendUvarint(d, zigzag(v.DateTime))
		d = AppendString(d, v.Extra)
		buf = d
	}
	sink += len(buf)
}

func BenchmarkTuple2StringInt64Append(b *testing.B) {
	c := MustFor[Tuple2[string, int64]]()
	buf := make([]byte, 0, 64)
	v := NewTuple2("auction-42", int64(1017))
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], v)
	}
	sink += len(buf)
}

func BenchmarkKeyGroupOf(b *testing.B) {
	key := MustFor[string]().Append(nil, "user-123456789")
	b.ReportAllocs()
	for b.Loop() {
		sink += KeyGroupOf(key, 128)
	}
}
