package serde

import (
	"encoding"
	"fmt"
	"reflect"
	"unsafe"
)

var (
	binaryAppenderType    = reflect.TypeFor[encoding.BinaryAppender]()
	binaryMarshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// usesMarshaler reports whether t is encoded through its own binary marshaling methods: *t has
// UnmarshalBinary, and t or *t has AppendBinary or MarshalBinary. Such types (netip.Addr,
// url.URL, UUID types, ...) often hold internal pointers whose identity matters, which a
// structural codec would not preserve, so their own encoding wins over derivation, as in
// encoding/gob.
func usesMarshaler(t reflect.Type) bool {
	if t.Kind() == reflect.Interface || t.Kind() == reflect.Pointer {
		return false
	}
	pt := reflect.PointerTo(t)
	if !pt.Implements(binaryUnmarshalerType) {
		return false
	}
	return pt.Implements(binaryAppenderType) || pt.Implements(binaryMarshalerType)
}

// marshalerEngine encodes t as uvarint(len) ‖ the bytes of its AppendBinary (or MarshalBinary)
// method and decodes with UnmarshalBinary on a copy of exactly those bytes.
func marshalerEngine(t reflect.Type) *engine {
	e := &engine{typ: t, minSize: 1, ready: true}
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		// Work on a heap copy: p may point into the caller's stack and the methods are user
		// code that must not be handed such a pointer.
		v := reflect.New(t)
		v.Elem().Set(reflect.NewAt(t, p).Elem())
		start := len(dst)
		dst = append(dst, 0) // one-byte length placeholder, widened below if needed
		var err error
		if a, ok := v.Interface().(encoding.BinaryAppender); ok {
			dst, err = a.AppendBinary(dst)
		} else {
			var b []byte
			b, err = v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
			dst = append(dst, b...)
		}
		if err != nil {
			// Codec.Append cannot return an error; a value that cannot marshal itself is a bug
			// in that type, reported loudly rather than written as corrupt bytes.
			panic(fmt.Sprintf("serde: %s.AppendBinary/MarshalBinary failed: %v (register a codec with serde.Register to handle it)", t, err))
		}
		n := len(dst) - start - 1
		if w := UvarintLen(uint64(n)); w > 1 {
			dst = append(dst, make([]byte, w-1)...)
			copy(dst[start+w:], dst[start+1:start+1+n])
			AppendUvarint(dst[start:start], uint64(n))
		} else {
			dst[start] = byte(n)
		}
		return dst
	}
	e.dec = func(src []byte, p unsafe.Pointer, _ int) (int, error) {
		u, i, err := readLen(src)
		if err != nil {
			return 0, err
		}
		if u > uint64(len(src)-i) {
			return 0, lengthError(t.String(), u, len(src)-i)
		}
		end := i + int(u)
		v := reflect.New(t)
		if err := v.Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(src[i:end:end]); err != nil {
			return 0, fmt.Errorf("%s.UnmarshalBinary: %v: %w", t, err, ErrMalformed)
		}
		reflect.NewAt(t, p).Elem().Set(v.Elem())
		return end, nil
	}
	e.skip = func(src []byte, depth int) (int, error) {
		return e.dec(src, reflect.New(t).UnsafePointer(), depth)
	}
	e.ops = []op{{k: kCall, e: e}}
	return e
}
