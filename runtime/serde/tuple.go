package serde

import "fmt"

// Tuple2 is a pair, for composite keys (keyBy on two fields) and aggregation results. Its codec
// is derived like any struct: F0 then F1.
type Tuple2[A, B any] struct {
	F0 A
	F1 B
}

// NewTuple2 returns Tuple2{a, b}.
func NewTuple2[A, B any](a A, b B) Tuple2[A, B] { return Tuple2[A, B]{F0: a, F1: b} }

// Tuple3 is a triple; its codec writes F0, F1, F2.
type Tuple3[A, B, C any] struct {
	F0 A
	F1 B
	F2 C
}

// NewTuple3 returns Tuple3{a, b, c}.
func NewTuple3[A, B, C any](a A, b B, c C) Tuple3[A, B, C] {
	return Tuple3[A, B, C]{F0: a, F1: b, F2: c}
}

// Tuple2Of builds a Tuple2 codec from the codecs of its fields, for fields whose codecs are not
// registered. It writes the same bytes as the derived Tuple2 codec.
func Tuple2Of[A, B any](ca Codec[A], cb Codec[B]) Codec[Tuple2[A, B]] {
	return tuple2Codec[A, B]{ca, cb}
}

type tuple2Codec[A, B any] struct {
	a Codec[A]
	b Codec[B]
}

func (c tuple2Codec[A, B]) Append(dst []byte, v Tuple2[A, B]) []byte {
	return c.b.Append(c.a.Append(dst, v.F0), v.F1)
}

func (c tuple2Codec[A, B]) Decode(src []byte) (Tuple2[A, B], int, error) {
	var t Tuple2[A, B]
	a, n, err := c.a.Decode(src)
	if err != nil {
		return t, 0, fmt.Errorf("serde: decode Tuple2 field F0: %w", err)
	}
	b, m, err := c.b.Decode(src[n:])
	if err != nil {
		return t, 0, fmt.Errorf("serde: decode Tuple2 field F1: %w", err)
	}
	return Tuple2[A, B]{a, b}, n + m, nil
}

// Tuple3Of builds a Tuple3 codec from the codecs of its fields.
func Tuple3Of[A, B, C any](ca Codec[A], cb Codec[B], cc Codec[C]) Codec[Tuple3[A, B, C]] {
	return tuple3Codec[A, B, C]{ca, cb, cc}
}

type tuple3Codec[A, B, C any] struct {
	a Codec[A]
	b Codec[B]
	c Codec[C]
}

func (c tuple3Codec[A, B, C]) Append(dst []byte, v Tuple3[A, B, C]) []byte {
	return c.c.Append(c.b.Append(c.a.Append(dst, v.F0), v.F1), v.F2)
}

func (c tuple3Codec[A, B, C]) Decode(src []byte) (Tuple3[A, B, C], int, error) {
	var t Tuple3[A, B, C]
	a, n, err := c.a.Decode(src)
	if err != nil {
		return t, 0, fmt.Errorf("serde: decode Tuple3 field F0: %w", err)
	}
	b, m, err := c.b.Decode(src[n:])
	if err != nil {
		return t, 0, fmt.Errorf("serde: decode Tuple3 field F1: %w", err)
	}
	n += m
	x, m, err := c.c.Decode(src[n:])
	if err != nil {
		return t, 0, fmt.Errorf("serde: decode Tuple3 field F2: %w", err)
	}
	return Tuple3[A, B, C]{a, b, x}, n + m, nil
}

// SliceOf builds a []T codec from T's codec, writing the same bytes as the derived []T codec:
// uvarint(len+1) (0 for nil), then the elements. Decoded lengths are bounded by the input size
// (each element is assumed to take at least one byte unless c is a derived codec of a
// zero-size type).
func SliceOf[T any](c Codec[T]) Codec[[]T] {
	free := false
	if d, ok := c.(*derivedCodec[T]); ok {
		free = d.e.free()
	}
	return sliceCodec[T]{c: c, free: free}
}

type sliceCodec[T any] struct {
	c    Codec[T]
	free bool // elements cost neither input nor memory
}

func (s sliceCodec[T]) Append(dst []byte, v []T) []byte {
	if v == nil {
		return append(dst, 0)
	}
	dst = appendUv(dst, uint64(len(v))+1)
	for i := range v {
		dst = s.c.Append(dst, v[i])
	}
	return dst
}

func (s sliceCodec[T]) Decode(src []byte) ([]T, int, error) {
	u, i, err := readLen(src)
	if err != nil {
		return nil, 0, fmt.Errorf("serde: decode slice length: %w", err)
	}
	if u == 0 {
		return nil, i, nil
	}
	u--
	if u > maxElems(len(src)-i, 1, s.free) {
		return nil, 0, fmt.Errorf("serde: decode slice: %w", lengthError("slice", u, len(src)-i))
	}
	out := make([]T, int(u))
	for k := range out {
		v, n, err := s.c.Decode(src[i:])
		if err != nil {
			return nil, 0, fmt.Errorf("serde: decode slice element %d: %w", k, err)
		}
		if n < 0 || n > len(src)-i {
			return nil, 0, fmt.Errorf("serde: element codec reported %d bytes consumed of %d (codec bug): %w", n, len(src)-i, ErrMalformed)
		}
		out[k] = v
		i += n
	}
	return out, i, nil
}
