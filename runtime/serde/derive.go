package serde

import (
	"fmt"
	"reflect"
	"unsafe"
)

// maxInlineOps caps how many ops a small array may contribute when it is flattened into its
// parent struct; larger arrays are encoded by a loop.
const maxInlineOps = 64

// builder derives engines for one For call. Engines it creates stay local until the whole
// derivation succeeded, so a failure leaves no half-built engine in the shared cache.
type builder struct {
	reg   *registry
	local map[reflect.Type]*engine
}

// engineFor returns the engine for t; path names where t was reached (for error messages).
func (b *builder) engineFor(t reflect.Type, path string) (*engine, error) {
	if e, ok := b.local[t]; ok {
		return e, nil
	}
	if e, ok := b.reg.engines[t]; ok {
		return e, nil
	}
	if u, ok := b.reg.user[t]; ok {
		e := &engine{typ: t, enc: u.enc, dec: u.dec, skip: userSkip(t, u.dec), minSize: 1, ready: true}
		e.ops = []op{{k: kCall, e: e}}
		b.local[t] = e
		return e, nil
	}
	if usesMarshaler(t) {
		e := marshalerEngine(t)
		b.local[t] = e
		return e, nil
	}
	if k, ok := primitiveKind(t); ok {
		e := &engine{typ: t, ops: []op{{k: k}}, minSize: primitiveMinSize(k), ready: true}
		e.enc, e.dec, e.skip = e.encode, e.decode, e.skipOps
		b.local[t] = e
		return e, nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		// Name a top-level container in paths ("[]Order[].Payload"); a top-level pointer
		// leaves the naming to its element.
		if path == "" {
			path = typeName(t)
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		return b.structEngine(t, path)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			e := byteArrayEngine(t)
			b.local[t] = e
			return e, nil
		}
		elem, err := b.engineFor(t.Elem(), path+"["+itoa(t.Len())+"]")
		if err != nil {
			return nil, err
		}
		e := b.inlineArray(t, elem)
		if e == nil {
			e = arrayEngine(t, elem)
		}
		b.local[t] = e
		return e, nil
	case reflect.Slice:
		// The placeholder goes into local before the element is derived, so recursive types
		// (type Tree struct{ Kids []Tree }) resolve to it.
		if t.Elem().Kind() == reflect.Uint8 {
			e := &engine{typ: t, ops: []op{{k: kBytes}}, minSize: 1, ready: true}
			e.enc, e.dec, e.skip = e.encode, e.decode, e.skipOps
			b.local[t] = e
			return e, nil
		}
		e := &engine{typ: t}
		b.local[t] = e
		elem, err := b.engineFor(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		*e = *sliceEngine(t, elem)
		e.ops = []op{{k: kCall, e: e}}
		return e, nil
	case reflect.Pointer:
		e := &engine{typ: t}
		b.local[t] = e
		elem, err := b.engineFor(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		*e = *pointerEngine(t, elem)
		e.ops = []op{{k: kCall, e: e}}
		return e, nil
	case reflect.Map:
		e := &engine{typ: t}
		b.local[t] = e
		ke, err := b.engineFor(t.Key(), path+"[key]")
		if err != nil {
			return nil, err
		}
		ve, err := b.engineFor(t.Elem(), path+"[value]")
		if err != nil {
			return nil, err
		}
		*e = *mapEngine(t, ke, ve)
		e.ops = []op{{k: kCall, e: e}}
		return e, nil
	default: // Interface, Chan, Func, UnsafePointer
		return nil, &UnsupportedTypeError{Path: path, Type: t}
	}
}

// structEngine derives a struct: its fields in declaration order (exported and unexported,
// blank "_" fields skipped), nested structs and small arrays flattened into one op list.
func (b *builder) structEngine(t reflect.Type, path string) (*engine, error) {
	e := &engine{typ: t}
	e.enc, e.dec, e.skip = e.encode, e.decode, e.skipOps
	b.local[t] = e
	if path == "" {
		path = typeName(t)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "_" {
			continue
		}
		fe, err := b.engineFor(f.Type, path+"."+f.Name)
		if err != nil {
			return nil, err
		}
		e.appendOps(fe, f.Offset, f.Name)
		e.minSize += fe.minSize
	}
	e.empty = len(e.ops) == 0
	e.finishOps()
	e.ready = true
	return e, nil
}

// appendOps appends to e's op list the ops of field engine fe located at offset off,
// prefixing their paths with name.
func (e *engine) appendOps(fe *engine, off uintptr, name string) {
	if fe.empty {
		return
	}
	if !fe.ready {
		// Only reachable through a pointer, slice or map cycle; call the engine instead.
		e.ops = append(e.ops, op{off: off, k: kCall, e: fe})
		e.paths = append(e.paths, name)
		return
	}
	for j, o := range fe.ops {
		o.off += off
		e.ops = append(e.ops, o)
		e.paths = append(e.paths, joinPath(name, fe.pathOf(j)))
	}
}

// inlineArray flattens a small array of primitives or plain structs into N copies of the
// element's ops; nil when the array is too large or its element is not ready.
func (b *builder) inlineArray(t reflect.Type, elem *engine) *engine {
	n := t.Len()
	if !elem.ready || n*len(elem.ops) > maxInlineOps {
		return nil
	}
	e := &engine{typ: t, minSize: n * elem.minSize, empty: n == 0 || elem.empty, ready: true}
	size := t.Elem().Size()
	for i := 0; i < n; i++ {
		e.appendOps(elem, uintptr(i)*size, "["+itoa(i)+"]")
	}
	e.finishOps()
	e.enc, e.dec, e.skip = e.encode, e.decode, e.skipOps
	return e
}

func joinPath(a, b string) string {
	switch {
	case b == "":
		return a
	case a == "":
		return b
	case b[0] == '[':
		return a + b
	default:
		return a + "." + b
	}
}

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// primitiveKind maps a type with a primitive underlying kind to its op kind.
func primitiveKind(t reflect.Type) (kind, bool) {
	switch t.Kind() {
	case reflect.Bool:
		return kBool, true
	case reflect.Int:
		return kInt, true
	case reflect.Int8:
		return kInt8, true
	case reflect.Int16:
		return kInt16, true
	case reflect.Int32:
		return kInt32, true
	case reflect.Int64:
		return kInt64, true
	case reflect.Uint:
		return kUint, true
	case reflect.Uint8:
		return kUint8, true
	case reflect.Uint16:
		return kUint16, true
	case reflect.Uint32:
		return kUint32, true
	case reflect.Uint64:
		return kUint64, true
	case reflect.Uintptr:
		return kUintptr, true
	case reflect.Float32:
		return kFloat32, true
	case reflect.Float64:
		return kFloat64, true
	case reflect.Complex64:
		return kComplex64, true
	case reflect.Complex128:
		return kComplex128, true
	case reflect.String:
		return kString, true
	}
	return 0, false
}

func primitiveMinSize(k kind) int {
	switch k {
	case kFloat32:
		return 4
	case kFloat64, kComplex64:
		return 8
	case kComplex128:
		return 16
	default:
		return 1
	}
}

// derivedCodec is the Codec[T] handed out for derived types.
type derivedCodec[T any] struct {
	e *engine
}

// Append implements Codec.
func (c *derivedCodec[T]) Append(dst []byte, v T) []byte {
	return c.e.encode(dst, noescape(unsafe.Pointer(&v)))
}

// Decode implements Codec.
func (c *derivedCodec[T]) Decode(src []byte) (T, int, error) {
	var v T
	n, err := c.e.decode(src, noescape(unsafe.Pointer(&v)), 0)
	if err != nil {
		var zero T
		return zero, 0, fmt.Errorf("serde: decode %s: %w", c.e.typ, err)
	}
	return v, n, nil
}

// DecodeInto implements IntoDecoder: it overwrites *v in place (no allocation for the value
// itself; strings, slices, maps and pointers inside it are still allocated fresh). On error
// *v is left partly written.
func (c *derivedCodec[T]) DecodeInto(src []byte, v *T) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("serde: DecodeInto %s: nil destination pointer", c.e.typ)
	}
	n, err := c.e.decode(src, unsafe.Pointer(v), 0)
	if err != nil {
		return 0, fmt.Errorf("serde: decode %s: %w", c.e.typ, err)
	}
	return n, nil
}
