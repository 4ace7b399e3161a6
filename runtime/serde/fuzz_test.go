package serde

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func FuzzUvarint(f *testing.F) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1 << 35, math.MaxUint64} {
		f.Add(AppendUvarint(nil, v))
	}
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Uvarint(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with n=%d", n)
			}
			return
		}
		// Accepted encodings are canonical: re-encoding gives exactly the bytes read.
		if enc := AppendUvarint(nil, v); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("Uvarint(% x) = %d but AppendUvarint gives % x", b[:n], v, enc)
		}
		if UvarintLen(v) != n {
			t.Fatalf("UvarintLen(%d) = %d, read %d bytes", v, UvarintLen(v), n)
		}
		s, m, err := Varint(b)
		if err != nil || m != n || !bytes.Equal(AppendVarint(nil, s), b[:n]) {
			t.Fatalf("Varint disagrees with Uvarint on % x", b[:n])
		}
	})
}

// fuzzRec is a struct with most kinds (no maps, so its encoding is deterministic).
type fuzzRec struct {
	A int32
	B []string
	C *Inner
	D [3]uint16
	E []byte
	F float64
	G bool
	H Tuple2[string, []int64]
	I int8
	J complex64
	K uint
	L [2]Bid
	T *fuzzRec
}

// fuzzDecode checks that decoding arbitrary bytes never panics, and that whatever decodes
// re-encodes to exactly the bytes consumed (one encoding per value).
func fuzzDecode[T any](t *testing.T, b []byte) {
	c := MustFor[T]()
	v, n, err := c.Decode(b)
	// Skip accepts exactly what Decode accepts (these types hold no maps).
	sn, serr := EncodedLen(c, b)
	if (err == nil) != (serr == nil) || sn != n {
		t.Fatalf("Decode: %d, %v but EncodedLen: %d, %v", n, err, sn, serr)
	}
	if err != nil {
		if n != 0 {
			t.Fatalf("error with n=%d", n)
		}
		return
	}
	if n < 0 || n > len(b) {
		t.Fatalf("consumed %d of %d bytes", n, len(b))
	}
	if enc := c.Append(nil, v); !bytes.Equal(enc, b[:n]) {
		t.Fatalf("decoded %+v from % x but it encodes as % x", v, b[:n], enc)
	}
}

func FuzzDecodeBid(f *testing.F) {
	c := MustFor[Bid]()
	f.Add(c.Append(nil, benchBid))
	f.Add(c.Append(nil, Bid{}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzDecode[Bid](t, b) })
}

func FuzzDecodeStruct(f *testing.F) {
	c := MustFor[fuzzRec]()
	g := newGen(99)
	for i := 0; i < 8; i++ {
		v := g.value(reflect.TypeFor[fuzzRec](), 2).Interface().(fuzzRec)
		f.Add(c.Append(nil, v))
	}
	f.Add(c.Append(nil, fuzzRec{}))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzDecode[fuzzRec](t, b) })
}

// FuzzDecodeMapsAndTrees covers maps and recursive types: decoding must not panic, and a
// decoded value must decode again from its own encoding to an equal value.
func FuzzDecodeMapsAndTrees(f *testing.F) {
	c := MustFor[Tree]()
	g := newGen(5)
	for i := 0; i < 8; i++ {
		f.Add(c.Append(nil, g.value(reflect.TypeFor[Tree](), 3).Interface().(Tree)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := c.Decode(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		w, _, err := c.Decode(c.Append(nil, v))
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzBidRoundTrip(f *testing.F) {
	f.Add(int64(1), int64(2), int64(3), "c", "u", int64(4), "e")
	f.Add(int64(math.MinInt64), int64(-1), int64(math.MaxInt64), "", "\x00\xff", int64(0), "long extra text")
	c := MustFor[Bid]()
	f.Fuzz(func(t *testing.T, a, b, p int64, ch, url string, dt int64, extra string) {
		v := Bid{a, b, p, ch, url, dt, extra}
		enc := c.Append(nil, v)
		got, n, err := c.Decode(enc)
		if err != nil || n != len(enc) || got != v {
			t.Fatalf("round trip of %+v: %+v, %d, %v", v, got, n, err)
		}
	})
}
