package serde

import (
	"fmt"
	"time"
)

// TimeCodec is the built-in codec for time.Time, registered at init so struct fields of type
// time.Time do not derive through the unexported *time.Location. Wire form: zigzag varint of
// the Unix seconds, uvarint of the nanoseconds within the second (0..999 999 999), zigzag
// varint of the zone offset in seconds east of UTC. The location is reduced to that fixed
// offset (UTC when it is 0) and the monotonic clock reading is dropped, so compare decoded
// times with Equal.
type TimeCodec struct{}

// Append implements Codec.
func (TimeCodec) Append(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	dst = AppendVarint(dst, t.Unix())
	dst = AppendUvarint(dst, uint64(t.Nanosecond()))
	return AppendVarint(dst, int64(off))
}

// Decode implements Codec.
func (TimeCodec) Decode(src []byte) (time.Time, int, error) {
	sec, i, err := Varint(src)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("time seconds: %w", err)
	}
	nsec, n, err := Uvarint(src[i:])
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("time nanoseconds: %w", err)
	}
	i += n
	if nsec >= 1e9 {
		return time.Time{}, 0, fmt.Errorf("time nanoseconds %d not below 1e9: %w", nsec, ErrMalformed)
	}
	off, n, err := Varint(src[i:])
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("time zone offset: %w", err)
	}
	i += n
	// Real offsets are within ±26 hours; anything else is not something Append wrote.
	if off < -26*3600 || off > 26*3600 {
		return time.Time{}, 0, fmt.Errorf("time zone offset %d s out of range: %w", off, ErrMalformed)
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if off != 0 {
		t = t.In(time.FixedZone("", int(off)))
	}
	return t, i, nil
}

// DecodeInto implements IntoDecoder.
func (c TimeCodec) DecodeInto(src []byte, v *time.Time) (int, error) { return decodeInto(c, src, v) }

func init() {
	Register[time.Time](TimeCodec{})
}
