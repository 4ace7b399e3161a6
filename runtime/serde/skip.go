package serde

import (
	"fmt"
	"math"
	"reflect"
)

// skipFn measures the encoded value at the start of src without decoding it.
type skipFn func(src []byte, depth int) (int, error)

// Skipper is implemented by codecs that can measure an encoded value without decoding it (no
// allocation for derived and built-in codecs). State backends use it to find where a serialized
// key ends inside a composite key.
type Skipper interface {
	// Skip returns the length of the encoded value at the start of src. It accepts exactly
	// what Decode accepts, except that duplicate map keys are not detected.
	Skip(src []byte) (int, error)
}

// EncodedLen returns the length of the value c encoded at the start of src, using c's Skip
// when it has one and Decode otherwise.
func EncodedLen[T any](c Codec[T], src []byte) (int, error) {
	if s, ok := c.(Skipper); ok {
		return s.Skip(src)
	}
	_, n, err := c.Decode(src)
	return n, err
}

// Skip implements Skipper.
func (c *derivedCodec[T]) Skip(src []byte) (int, error) {
	n, err := c.e.skip(src, 0)
	if err != nil {
		return 0, fmt.Errorf("serde: skip %s: %w", c.e.typ, err)
	}
	return n, nil
}

// skipOps walks the op list over src and returns the bytes the value occupies, applying the
// same checks as decode.
func (e *engine) skipOps(src []byte, depth int) (int, error) {
	i := 0
	for j := range e.ops {
		o := &e.ops[j]
		switch o.k {
		case kCall:
			n, err := o.e.skip(src[i:], depth)
			if err != nil {
				return 0, fieldError(e.pathOf(j), err)
			}
			i += n
		case kBool:
			if i >= len(src) {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			if src[i] > 1 {
				return 0, fieldError(e.pathOf(j), errBadBool)
			}
			i++
		case kInt8, kUint8:
			if i >= len(src) {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			i++
		case kInt, kInt16, kInt32, kInt64, kUint, kUint16, kUint32, kUint64, kUintptr:
			u, n, err := readUvSlow(src, i)
			if err != nil {
				return 0, fieldError(e.pathOf(j), err)
			}
			if err := checkIntRange(o.k, u); err != nil {
				return 0, fieldError(e.pathOf(j), err)
			}
			i = n
		case kFloat32:
			i += 4
		case kFloat64, kComplex64:
			i += 8
		case kComplex128:
			i += 16
		case kString, kBytes:
			u, n, err := readUvSlow(src, i)
			if err != nil {
				return 0, fieldError(e.pathOf(j), err)
			}
			i = n
			if o.k == kBytes {
				if u == 0 {
					continue
				}
				u--
			}
			if u > uint64(len(src)-i) {
				return 0, fieldError(e.pathOf(j), lengthError("string", u, len(src)-i))
			}
			i += int(u)
		}
		if i > len(src) {
			return 0, fieldError(e.pathOf(j), errFixedTruncated)
		}
	}
	return i, nil
}

// checkIntRange applies decode's range checks for integer kinds narrower than 64 bits.
func checkIntRange(k kind, u uint64) error {
	switch k {
	case kInt, kInt16, kInt32:
		v := unzigzag(u)
		switch {
		case k == kInt && int64(int(v)) != v:
			return rangeError(v, "int")
		case k == kInt32 && int64(int32(v)) != v:
			return rangeError(v, "int32")
		case k == kInt16 && int64(int16(v)) != v:
			return rangeError(v, "int16")
		}
	case kUint:
		if uint64(uint(u)) != u {
			return rangeError(u, "uint")
		}
	case kUintptr:
		if uint64(uintptr(u)) != u {
			return rangeError(u, "uintptr")
		}
	case kUint32:
		if u > math.MaxUint32 {
			return rangeError(u, "uint32")
		}
	case kUint16:
		if u > math.MaxUint16 {
			return rangeError(u, "uint16")
		}
	}
	return nil
}

func byteArraySkip(n int) skipFn {
	return func(src []byte, _ int) (int, error) {
		if len(src) < n {
			return 0, errFixedTruncated
		}
		return n, nil
	}
}

func arraySkip(n int, elem *engine) skipFn {
	return func(src []byte, depth int) (int, error) {
		i := 0
		for k := 0; k < n; k++ {
			m, err := elem.skip(src[i:], depth)
			if err != nil {
				return 0, fieldError("["+itoa(k)+"]", err)
			}
			i += m
		}
		return i, nil
	}
}

func sliceSkip(elem *engine) skipFn {
	return func(src []byte, depth int) (int, error) {
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		u, i, err := readLen(src)
		if err != nil {
			return 0, err
		}
		if u == 0 {
			return i, nil
		}
		u--
		if u > maxElems(len(src)-i, elem.minSize, elem.free()) {
			return 0, lengthError("slice", u, len(src)-i)
		}
		if elem.empty {
			return i, nil
		}
		for k := uint64(0); k < u; k++ {
			m, err := elem.skip(src[i:], depth+1)
			if err != nil {
				return 0, fieldError("["+itoa(int(k))+"]", err)
			}
			i += m
		}
		return i, nil
	}
}

func pointerSkip(elem *engine) skipFn {
	return func(src []byte, depth int) (int, error) {
		if len(src) < 1 {
			return 0, errFixedTruncated
		}
		switch src[0] {
		case 0:
			return 1, nil
		case 1:
		default:
			return 0, errBadNilFlag
		}
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		n, err := elem.skip(src[1:], depth+1)
		if err != nil {
			return 0, err
		}
		return 1 + n, nil
	}
}

func mapSkip(ke, ve *engine) skipFn {
	return func(src []byte, depth int) (int, error) {
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		u, i, err := readLen(src)
		if err != nil {
			return 0, err
		}
		if u == 0 {
			return i, nil
		}
		u--
		limit := maxElems(len(src)-i, ke.minSize+ve.minSize, ke.free() && ve.free())
		if ke.empty && limit > 1 {
			limit = 1
		}
		if u > limit {
			return 0, lengthError("map", u, len(src)-i)
		}
		for c := uint64(0); c < u; c++ {
			a, err := ke.skip(src[i:], depth+1)
			if err != nil {
				return 0, fieldError("[key]", err)
			}
			i += a
			b, err := ve.skip(src[i:], depth+1)
			if err != nil {
				return 0, fieldError("[value]", err)
			}
			i += b
		}
		return i, nil
	}
}

// userSkip measures a registered codec's encoding by decoding it (registered codecs have no
// skip of their own).
func userSkip(t reflect.Type, dec decFn) skipFn {
	return func(src []byte, depth int) (int, error) {
		return dec(src, reflect.New(t).UnsafePointer(), depth)
	}
}

// skipVarint measures a varint and applies the range check of integer kind k.
func skipVarint(src []byte, k kind) (int, error) {
	u, n, err := readUvSlow(src, 0)
	if err != nil {
		return 0, err
	}
	if err := checkIntRange(k, u); err != nil {
		return 0, err
	}
	return n, nil
}

// Skip implements Skipper.
func (StringCodec) Skip(src []byte) (int, error) {
	u, i, err := readLen(src)
	if err != nil {
		return 0, err
	}
	if u > uint64(len(src)-i) {
		return 0, lengthError("string", u, len(src)-i)
	}
	return i + int(u), nil
}

// Skip implements Skipper.
func (BytesCodec) Skip(src []byte) (int, error) {
	u, i, err := readLen(src)
	if err != nil || u == 0 {
		return i, err
	}
	if u-1 > uint64(len(src)-i) {
		return 0, lengthError("bytes", u-1, len(src)-i)
	}
	return i + int(u-1), nil
}

// Skip implements Skipper.
func (c BoolCodec) Skip(src []byte) (int, error) { _, n, err := c.Decode(src); return n, err }

// Skip implements Skipper.
func (IntCodec) Skip(src []byte) (int, error) { return skipVarint(src, kInt) }

// Skip implements Skipper.
func (Int32Codec) Skip(src []byte) (int, error) { return skipVarint(src, kInt32) }

// Skip implements Skipper.
func (Int64Codec) Skip(src []byte) (int, error) { return skipVarint(src, kInt64) }

// Skip implements Skipper.
func (Uint32Codec) Skip(src []byte) (int, error) { return skipVarint(src, kUint32) }

// Skip implements Skipper.
func (Uint64Codec) Skip(src []byte) (int, error) { return skipVarint(src, kUint64) }

// Skip implements Skipper.
func (Float64Codec) Skip(src []byte) (int, error) {
	if len(src) < 8 {
		return 0, errFixedTruncated
	}
	return 8, nil
}

// Skip implements Skipper.
func (c TimeCodec) Skip(src []byte) (int, error) { _, n, err := c.Decode(src); return n, err }

// Skip implements Skipper.
func (c tuple2Codec[A, B]) Skip(src []byte) (int, error) {
	n, err := EncodedLen(c.a, src)
	if err != nil {
		return 0, err
	}
	m, err := EncodedLen(c.b, src[n:])
	return n + m, err
}

// Skip implements Skipper.
func (c tuple3Codec[A, B, C]) Skip(src []byte) (int, error) {
	n, err := EncodedLen(c.a, src)
	if err != nil {
		return 0, err
	}
	m, err := EncodedLen(c.b, src[n:])
	if err != nil {
		return 0, err
	}
	k, err := EncodedLen(c.c, src[n+m:])
	return n + m + k, err
}

// Skip implements Skipper.
func (s sliceCodec[T]) Skip(src []byte) (int, error) {
	u, i, err := readLen(src)
	if err != nil || u == 0 {
		return i, err
	}
	u--
	if u > maxElems(len(src)-i, 1, s.free) {
		return 0, lengthError("slice", u, len(src)-i)
	}
	if s.free {
		return i, nil
	}
	for k := uint64(0); k < u; k++ {
		n, err := EncodedLen(s.c, src[i:])
		if err != nil {
			return 0, err
		}
		i += n
	}
	return i, nil
}
