package security

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrTruncated reports input that ends in the middle of a Hadoop Writable value.
var ErrTruncated = errors.New("truncated Hadoop Writable data")

// AppendVLong appends v in Hadoop's variable-length encoding (WritableUtils.writeVLong). This is not a
// protobuf varint: values in [-112, 127] take one byte; otherwise a length/sign marker byte is
// followed by the big-endian magnitude (one's complement for negative numbers).
func AppendVLong(dst []byte, v int64) []byte {
	if v >= -112 && v <= 127 {
		return append(dst, byte(int8(v)))
	}
	marker := int64(-112)
	if v < 0 {
		v = ^v
		marker = -120
	}
	for tmp := v; tmp != 0; tmp >>= 8 {
		marker--
	}
	dst = append(dst, byte(int8(marker)))
	var n int64
	if marker < -120 {
		n = -(marker + 120)
	} else {
		n = -(marker + 112)
	}
	for i := n; i > 0; i-- {
		dst = append(dst, byte(v>>((i-1)*8)))
	}
	return dst
}

// ReadVLong decodes a Hadoop VLong from the front of b and returns the value and the number of bytes
// consumed.
func ReadVLong(b []byte) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("reading VLong: %w", ErrTruncated)
	}
	first := int8(b[0])
	if first >= -112 {
		return int64(first), 1, nil
	}
	var n int
	negative := first < -120
	if negative {
		n = int(-119 - int(first))
	} else {
		n = int(-111 - int(first))
	}
	// n counts the marker byte too; at most 8 magnitude bytes follow.
	if len(b) < n {
		return 0, 0, fmt.Errorf("reading %d-byte VLong from %d bytes: %w", n, len(b), ErrTruncated)
	}
	var v int64
	for i := 1; i < n; i++ {
		v = v<<8 | int64(b[i])
	}
	if negative {
		v = ^v
	}
	return v, n, nil
}

// reader decodes Writable values from a byte slice, refusing lengths beyond what is left so that
// corrupt input can never cause a large allocation.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) vint(what string) (int, error) {
	v, n, err := ReadVLong(r.b[r.off:])
	if err != nil {
		return 0, fmt.Errorf("%s at offset %d: %w", what, r.off, err)
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, fmt.Errorf("%s at offset %d: value %d does not fit a VInt", what, r.off, v)
	}
	r.off += n
	return int(v), nil
}

// length reads a VInt length and checks that that many bytes remain.
func (r *reader) length(what string) (int, error) {
	n, err := r.vint(what)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%s at offset %d: negative length %d", what, r.off, n)
	}
	if n > r.remaining() {
		return 0, fmt.Errorf("%s at offset %d: length %d exceeds the %d bytes left: %w", what, r.off, n, r.remaining(), ErrTruncated)
	}
	return n, nil
}

func (r *reader) bytes(what string) ([]byte, error) {
	n, err := r.length(what)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	copy(out, r.b[r.off:r.off+n])
	r.off += n
	return out, nil
}

// text reads a Hadoop Text: a VInt byte length and UTF-8 bytes.
func (r *reader) text(what string) (string, error) {
	n, err := r.length(what)
	if err != nil {
		return "", err
	}
	s := r.b[r.off : r.off+n]
	if !utf8.Valid(s) {
		return "", fmt.Errorf("%s at offset %d: not valid UTF-8", what, r.off)
	}
	r.off += n
	return string(s), nil
}

func appendBytes(dst, b []byte) []byte {
	dst = AppendVLong(dst, int64(len(b)))
	return append(dst, b...)
}

func appendText(dst []byte, s string) []byte {
	dst = AppendVLong(dst, int64(len(s)))
	return append(dst, s...)
}
