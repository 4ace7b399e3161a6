package serde

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"
)

// registry holds user codecs and the caches of derived engines and handed-out codecs.
type registry struct {
	mu      sync.RWMutex
	user    map[reflect.Type]userCodec
	engines map[reflect.Type]*engine
	codecs  map[reflect.Type]any // Codec[T] per T
	log     zerolog.Logger
}

// userCodec is a registered Codec[T] with its type-erased adapters for derived engines.
type userCodec struct {
	codec any
	enc   encFn
	dec   decFn
}

var reg = &registry{
	user:    map[reflect.Type]userCodec{},
	engines: map[reflect.Type]*engine{},
	codecs:  map[reflect.Type]any{},
	log:     zerolog.Nop(),
}

// SetLogger sets the logger the package reports codec derivations and registrations to (debug
// level). The default discards everything.
func SetLogger(l zerolog.Logger) {
	reg.mu.Lock()
	reg.log = l
	reg.mu.Unlock()
}

// Register makes c the codec for T: For[T] returns it, and derived codecs of structs, slices,
// maps, arrays and pointers that contain a T use it for those values. It wins over derivation
// and over the built-in fast paths. Register(nil) removes a registration.
//
// Register before the first For call that reaches T (typically in an init function): codecs
// For already returned keep using what they were built with. Registering clears the cache of
// derived codecs so later For calls see the new codec.
//
// A registered codec's Decode must report how many bytes it consumed; it is assumed to write at
// least one byte per value (this bounds the lengths of slices of T accepted from input).
func Register[T any](c Codec[T]) {
	t := reflect.TypeFor[T]()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	clear(reg.engines)
	clear(reg.codecs)
	if c == nil {
		delete(reg.user, t)
		reg.log.Debug().Stringer("type", t).Msg("serde: codec registration removed")
		return
	}
	reg.user[t] = userCodec{
		codec: c,
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			return c.Append(dst, *(*T)(p))
		},
		dec: func(src []byte, p unsafe.Pointer, _ int) (int, error) {
			v, n, err := c.Decode(src)
			if err != nil {
				return 0, err
			}
			if n < 0 || n > len(src) {
				return 0, fmt.Errorf("registered codec for %s reported %d bytes consumed of %d (codec bug): %w", t, n, len(src), ErrMalformed)
			}
			*(*T)(p) = v
			return n, nil
		},
	}
	reg.log.Debug().Stringer("type", t).Msg("serde: codec registered")
}

// For returns the codec for T: the registered codec if there is one, else a built-in fast codec
// for the common key types (string, []byte, bool, int, int32, int64, uint32, uint64, float64),
// else a codec derived from T's structure (types with AppendBinary or MarshalBinary and
// UnmarshalBinary methods, such as netip.Addr, are encoded with those methods instead). Derivation happens once per type; later calls return
// the cached codec. For fails, with an *UnsupportedTypeError naming the field path, when T
// contains an interface, channel, function or unsafe.Pointer without a registered codec.
func For[T any]() (Codec[T], error) {
	t := reflect.TypeFor[T]()
	reg.mu.RLock()
	c, ok := reg.codecs[t]
	reg.mu.RUnlock()
	if ok {
		return c.(Codec[T]), nil
	}

	reg.mu.Lock()
	defer reg.mu.Unlock()
	if c, ok := reg.codecs[t]; ok {
		return c.(Codec[T]), nil
	}
	var codec Codec[T]
	if u, ok := reg.user[t]; ok {
		codec = u.codec.(Codec[T])
	} else if f, ok := fastCodecs[t]; ok {
		codec = f.(Codec[T])
	} else {
		e, err := reg.derive(t)
		if err != nil {
			return nil, err
		}
		codec = &derivedCodec[T]{e: e}
	}
	reg.codecs[t] = codec
	return codec, nil
}

// MustFor is For that panics on error. Use it only for package-level variables in tests and
// examples, where the type is known to be supported.
func MustFor[T any]() Codec[T] {
	c, err := For[T]()
	if err != nil {
		panic(err)
	}
	return c
}

// derive builds (or finds) the engine for t. Called with r.mu held for writing.
func (r *registry) derive(t reflect.Type) (*engine, error) {
	if e, ok := r.engines[t]; ok {
		return e, nil
	}
	b := &builder{reg: r, local: map[reflect.Type]*engine{}}
	e, err := b.engineFor(t, "")
	if err != nil {
		return nil, err
	}
	for lt, le := range b.local {
		r.engines[lt] = le
	}
	r.log.Debug().Stringer("type", t).Int("ops", len(e.ops)).Int("engines", len(b.local)).
		Msg("serde: codec derived")
	return e, nil
}

// IntoDecoder is implemented by codecs that can decode into an existing value, which saves
// allocating the value itself when it is large. Every built-in and derived codec returned by
// For implements it (registered codecs may not).
type IntoDecoder[T any] interface {
	DecodeInto(src []byte, v *T) (int, error)
}

// DecodeInto decodes from src into *v with c, using c's DecodeInto when it has one.
func DecodeInto[T any](c Codec[T], src []byte, v *T) (int, error) {
	if d, ok := c.(IntoDecoder[T]); ok {
		return d.DecodeInto(src, v)
	}
	if v == nil {
		return 0, fmt.Errorf("serde: DecodeInto: nil destination pointer")
	}
	x, n, err := c.Decode(src)
	if err != nil {
		return 0, err
	}
	*v = x
	return n, nil
}
