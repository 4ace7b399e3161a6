package serde

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestUvarintVectors(t *testing.T) {
	cases := []struct {
		v    uint64
		wire []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{300, []byte{0xac, 0x02}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{math.MaxUint64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, c := range cases {
		got := AppendUvarint(nil, c.v)
		if string(got) != string(c.wire) {
			t.Errorf("AppendUvarint(%d) = % x, want % x", c.v, got, c.wire)
		}
		if UvarintLen(c.v) != len(c.wire) {
			t.Errorf("UvarintLen(%d) = %d, want %d", c.v, UvarintLen(c.v), len(c.wire))
		}
		v, n, err := Uvarint(append(c.wire, 0xee))
		if err != nil || v != c.v || n != len(c.wire) {
			t.Errorf("Uvarint(% x) = %d, %d, %v", c.wire, v, n, err)
		}
	}
}

func TestZigzagVectors(t *testing.T) {
	cases := []struct {
		v int64
		u uint64
	}{{0, 0}, {-1, 1}, {1, 2}, {-2, 3}, {2, 4}, {math.MaxInt64, math.MaxUint64 - 1}, {math.MinInt64, math.MaxUint64}}
	for _, c := range cases {
		if zigzag(c.v) != c.u || unzigzag(c.u) != c.v {
			t.Errorf("zigzag(%d) = %d (want %d), unzigzag back %d", c.v, zigzag(c.v), c.u, unzigzag(c.u))
		}
		b := AppendVarint(nil, c.v)
		if len(b) != VarintLen(c.v) {
			t.Errorf("VarintLen(%d) = %d, encoded %d bytes", c.v, VarintLen(c.v), len(b))
		}
		v, n, err := Varint(b)
		if err != nil || v != c.v || n != len(b) {
			t.Errorf("Varint round trip of %d: %d, %d, %v", c.v, v, n, err)
		}
	}
}

func TestUvarintErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"cut", []byte{0x80}, ErrTruncated},
		{"cut long", []byte{0xff, 0xff, 0xff}, ErrTruncated},
		{"overlong zero", []byte{0x80, 0x00}, ErrMalformed},
		{"overlong one", []byte{0x81, 0x80, 0x00}, ErrMalformed},
		{"eleven bytes", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
		{"above 2^64", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, ErrMalformed},
	}
	for _, c := range cases {
		_, n, err := Uvarint(c.in)
		if !errors.Is(err, c.want) || n != 0 {
			t.Errorf("%s: Uvarint(% x) = n %d, err %v; want %v", c.name, c.in, n, err, c.want)
		}
	}
}

// TestUvarintMatchesStdlib checks the wire form against encoding/binary for random values of
// every magnitude (the format is plain LEB128, as protobuf and encoding/binary write it).
func TestUvarintMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		v := r.Uint64() >> (r.Uint64() % 64)
		got := AppendUvarint(nil, v)
		want := binary.AppendUvarint(nil, v)
		if string(got) != string(want) {
			t.Fatalf("AppendUvarint(%d) = % x, encoding/binary gives % x", v, got, want)
		}
		d, n, err := Uvarint(got)
		if err != nil || d != v || n != len(got) {
			t.Fatalf("Uvarint(% x) = %d, %d, %v", got, d, n, err)
		}
		s := int64(v)
		if r.IntN(2) == 0 {
			s = -s
		}
		sb := AppendVarint(nil, s)
		if string(sb) != string(binary.AppendVarint(nil, s)) {
			t.Fatalf("AppendVarint(%d) differs from encoding/binary", s)
		}
	}
}

func TestStringAndBytesHelpers(t *testing.T) {
	b := AppendString(nil, "héllo")
	if b[0] != 6 {
		t.Fatalf("length prefix %d, want 6 bytes of UTF-8", b[0])
	}
	s, n, err := DecodeString(b)
	if err != nil || s != "héllo" || n != len(b) {
		t.Fatalf("DecodeString = %q, %d, %v", s, n, err)
	}
	if _, _, err := DecodeString([]byte{5, 'a'}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short string: err %v, want ErrTruncated", err)
	}
	// A huge length prefix must be rejected before any allocation.
	huge := AppendUvarint(nil, math.MaxUint64-5)
	if _, _, err := DecodeString(huge); !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge string length: err %v", err)
	}
	if _, _, err := DecodeBytes(huge); !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge bytes length: err %v", err)
	}
	for _, in := range [][]byte{nil, {}, {1, 2, 3}} {
		enc := AppendBytes(nil, in)
		out, n, err := DecodeBytes(enc)
		if err != nil || n != len(enc) || (in == nil) != (out == nil) || string(in) != string(out) {
			t.Fatalf("bytes %v: got %v (nil=%v), %d, %v", in, out, out == nil, n, err)
		}
	}
	f, n, err := DecodeFloat64(AppendFloat64(nil, -2.5))
	if err != nil || f != -2.5 || n != 8 {
		t.Fatalf("float64 round trip: %v %d %v", f, n, err)
	}
	if _, _, err := DecodeFloat64([]byte{1, 2, 3}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short float: %v", err)
	}
}
