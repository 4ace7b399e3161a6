package serde

import (
	"math"
	"reflect"
)

// Built-in codecs for the common key and value types. They write exactly the bytes the derived
// codec writes for the same kind (so a field of type string and a top-level string encode the
// same), but skip the op interpreter.
var fastCodecs = map[reflect.Type]any{
	reflect.TypeFor[string]():  StringCodec{},
	reflect.TypeFor[[]byte]():  BytesCodec{},
	reflect.TypeFor[bool]():    BoolCodec{},
	reflect.TypeFor[int]():     IntCodec{},
	reflect.TypeFor[int32]():   Int32Codec{},
	reflect.TypeFor[int64]():   Int64Codec{},
	reflect.TypeFor[uint32]():  Uint32Codec{},
	reflect.TypeFor[uint64]():  Uint64Codec{},
	reflect.TypeFor[float64](): Float64Codec{},
}

// StringCodec encodes a string as uvarint(len) followed by its bytes.
type StringCodec struct{}

// Append implements Codec.
func (StringCodec) Append(dst []byte, v string) []byte {
	dst = appendUv(dst, uint64(len(v)))
	return append(dst, v...)
}

// Decode implements Codec. The string is a fresh copy (one allocation, none when empty).
func (StringCodec) Decode(src []byte) (string, int, error) { return DecodeString(src) }

// DecodeInto implements IntoDecoder.
func (c StringCodec) DecodeInto(src []byte, v *string) (int, error) { return decodeInto(c, src, v) }

// BytesCodec encodes a []byte as uvarint(len+1) followed by its bytes; nil is the single byte 0.
type BytesCodec struct{}

// Append implements Codec.
func (BytesCodec) Append(dst []byte, v []byte) []byte { return AppendBytes(dst, v) }

// Decode implements Codec. The slice is a fresh copy.
func (BytesCodec) Decode(src []byte) ([]byte, int, error) { return DecodeBytes(src) }

// DecodeInto implements IntoDecoder.
func (c BytesCodec) DecodeInto(src []byte, v *[]byte) (int, error) { return decodeInto(c, src, v) }

// BoolCodec encodes a bool as one byte, 0 or 1; other byte values are rejected.
type BoolCodec struct{}

// Append implements Codec.
func (BoolCodec) Append(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// Decode implements Codec.
func (BoolCodec) Decode(src []byte) (bool, int, error) {
	if len(src) < 1 {
		return false, 0, errFixedTruncated
	}
	if src[0] > 1 {
		return false, 0, errBadBool
	}
	return src[0] == 1, 1, nil
}

// DecodeInto implements IntoDecoder.
func (c BoolCodec) DecodeInto(src []byte, v *bool) (int, error) { return decodeInto(c, src, v) }

// IntCodec encodes an int as a zigzag varint of its 64-bit value.
type IntCodec struct{}

// Append implements Codec.
func (IntCodec) Append(dst []byte, v int) []byte { return appendUv(dst, zigzag(int64(v))) }

// Decode implements Codec.
func (IntCodec) Decode(src []byte) (int, int, error) {
	v, n, err := Varint(src)
	if err != nil {
		return 0, 0, err
	}
	if int64(int(v)) != v {
		return 0, 0, rangeError(v, "int")
	}
	return int(v), n, nil
}

// DecodeInto implements IntoDecoder.
func (c IntCodec) DecodeInto(src []byte, v *int) (int, error) { return decodeInto(c, src, v) }

// Int32Codec encodes an int32 as a zigzag varint.
type Int32Codec struct{}

// Append implements Codec.
func (Int32Codec) Append(dst []byte, v int32) []byte { return appendUv(dst, zigzag(int64(v))) }

// Decode implements Codec.
func (Int32Codec) Decode(src []byte) (int32, int, error) {
	v, n, err := Varint(src)
	if err != nil {
		return 0, 0, err
	}
	if int64(int32(v)) != v {
		return 0, 0, rangeError(v, "int32")
	}
	return int32(v), n, nil
}

// DecodeInto implements IntoDecoder.
func (c Int32Codec) DecodeInto(src []byte, v *int32) (int, error) { return decodeInto(c, src, v) }

// Int64Codec encodes an int64 as a zigzag varint.
type Int64Codec struct{}

// Append implements Codec.
func (Int64Codec) Append(dst []byte, v int64) []byte { return appendUv(dst, zigzag(v)) }

// Decode implements Codec.
func (Int64Codec) Decode(src []byte) (int64, int, error) { return Varint(src) }

// DecodeInto implements IntoDecoder.
func (c Int64Codec) DecodeInto(src []byte, v *int64) (int, error) { return decodeInto(c, src, v) }

// Uint32Codec encodes a uint32 as a uvarint.
type Uint32Codec struct{}

// Append implements Codec.
func (Uint32Codec) Append(dst []byte, v uint32) []byte { return appendUv(dst, uint64(v)) }

// Decode implements Codec.
func (Uint32Codec) Decode(src []byte) (uint32, int, error) {
	u, n, err := Uvarint(src)
	if err != nil {
		return 0, 0, err
	}
	if u > math.MaxUint32 {
		return 0, 0, rangeError(u, "uint32")
	}
	return uint32(u), n, nil
}

// DecodeInto implements IntoDecoder.
func (c Uint32Codec) DecodeInto(src []byte, v *uint32) (int, error) { return decodeInto(c, src, v) }

// Uint64Codec encodes a uint64 as a uvarint.
type Uint64Codec struct{}

// Append implements Codec.
func (Uint64Codec) Append(dst []byte, v uint64) []byte { return appendUv(dst, v) }

// Decode implements Codec.
func (Uint64Codec) Decode(src []byte) (uint64, int, error) { return Uvarint(src) }

// DecodeInto implements IntoDecoder.
func (c Uint64Codec) DecodeInto(src []byte, v *uint64) (int, error) { return decodeInto(c, src, v) }

// Float64Codec encodes a float64 as its IEEE-754 bits, 8 bytes little-endian.
type Float64Codec struct{}

// Append implements Codec.
func (Float64Codec) Append(dst []byte, v float64) []byte { return AppendFloat64(dst, v) }

// Decode implements Codec.
func (Float64Codec) Decode(src []byte) (float64, int, error) { return DecodeFloat64(src) }

// DecodeInto implements IntoDecoder.
func (c Float64Codec) DecodeInto(src []byte, v *float64) (int, error) { return decodeInto(c, src, v) }

// decodeInto adapts Decode to DecodeInto for the small built-in codecs.
func decodeInto[T any](c Codec[T], src []byte, v *T) (int, error) {
	x, n, err := c.Decode(src)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 0, errNilDest
	}
	*v = x
	return n, nil
}
