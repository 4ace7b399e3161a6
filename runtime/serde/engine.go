package serde

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// MaxDecodeDepth bounds how deeply pointers, slices and maps may nest in decoded input. Only
// recursive types (a linked list, a tree) can reach it; it keeps hostile input from exhausting
// the goroutine stack.
const MaxDecodeDepth = 10000

// kind selects the inline fast path of one op in an engine's op list.
type kind uint8

const (
	kCall kind = iota // call op.e.enc / op.e.dec (composite or user-supplied codec)
	kBool
	kInt
	kInt8
	kInt16
	kInt32
	kInt64
	kUint
	kUint8
	kUint16
	kUint32
	kUint64
	kUintptr
	kFloat32
	kFloat64
	kComplex64
	kComplex128
	kString
	kBytes // a slice whose elements are 1-byte uint8s ([]byte and named variants)
)

type (
	encFn func(dst []byte, p unsafe.Pointer) []byte
	decFn func(src []byte, p unsafe.Pointer, depth int) (int, error)
)

// op encodes or decodes one primitive (or calls a nested codec) at a fixed offset from the
// value's address. A struct's engine holds one op per primitive leaf: nested structs and small
// arrays are flattened into their parent at derivation time.
type op struct {
	off uintptr
	e   *engine // for kCall
	k   kind
}

// engine is the derived codec of one Go type, built once per type and shared by all codecs
// that reach that type. It is immutable after construction, so safe for concurrent use.
type engine struct {
	typ reflect.Type
	// ops is the flattened op list; encode and decode interpret it.
	ops []op
	// paths[j] is the field path of ops[j] relative to typ (for error messages only; kept
	// apart from ops so the hot loop touches less memory). May be shorter than ops.
	paths []string
	// enc and dec are the type's encoder and decoder. For structs and primitives they are the
	// op interpreters; for slices, maps, pointers and user codecs they are specialised closures
	// (and ops is a single kCall op pointing back at this engine).
	enc encFn
	dec decFn
	// skip measures an encoded value without decoding it (see Skipper).
	skip skipFn
	// minSize is a lower bound of the encoded size of any value, used to bound decoded slice
	// and map lengths by the input size. User codecs are assumed to write at least one byte.
	minSize int
	// empty: the type encodes as zero bytes (derived zero-size types such as struct{}).
	empty bool
	// ready: ops is final and may be copied into a parent's op list.
	ready bool
	// batchStrings: the op list has several kString ops (listed in strOps); decode gives them
	// one shared allocation instead of one each.
	batchStrings bool
	strOps       []int
}

// free reports whether values of the type cost neither input nor memory (derived zero-size
// types), so any element count of them is harmless. A type that encodes as nothing but has a
// size (only blank fields) is not free: its element counts stay bounded by the input.
func (e *engine) free() bool { return e.empty && e.typ.Size() == 0 }

// pathOf returns the field path of op j for error messages.
func (e *engine) pathOf(j int) string {
	if j < len(e.paths) {
		return e.paths[j]
	}
	return ""
}

// finishOps sets the derived fields that depend on the final op list.
func (e *engine) finishOps() {
	e.strOps = e.strOps[:0]
	for j, o := range e.ops {
		if o.k == kString {
			e.strOps = append(e.strOps, j)
		}
	}
	e.batchStrings = len(e.strOps) >= 2 && len(e.strOps) <= maxBatchStrings
}

// maxBatchStrings is the most string fields a struct may have for them to share one
// allocation on decode (their positions are kept in a fixed-size array on the stack).
const maxBatchStrings = 16

// emptyBase is the data pointer of decoded empty, non-nil slices (like runtime.zerobase).
var emptyBase uint64

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// appendUv is AppendUvarint with the one-byte case inlined at the call site.
func appendUv(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	return AppendUvarint(dst, v)
}

// encode runs the op list for the value at p and appends its encoding to dst.
func (e *engine) encode(dst []byte, p unsafe.Pointer) []byte {
	for i := range e.ops {
		o := &e.ops[i]
		fp := unsafe.Add(p, o.off)
		switch o.k {
		case kCall:
			dst = o.e.enc(dst, fp)
		case kBool:
			b := byte(0)
			if *(*bool)(fp) {
				b = 1
			}
			dst = append(dst, b)
		case kInt:
			dst = appendUv(dst, zigzag(int64(*(*int)(fp))))
		case kInt8:
			dst = append(dst, byte(*(*int8)(fp)))
		case kInt16:
			dst = appendUv(dst, zigzag(int64(*(*int16)(fp))))
		case kInt32:
			dst = appendUv(dst, zigzag(int64(*(*int32)(fp))))
		case kInt64:
			dst = appendUv(dst, zigzag(*(*int64)(fp)))
		case kUint:
			dst = appendUv(dst, uint64(*(*uint)(fp)))
		case kUint8:
			dst = append(dst, *(*uint8)(fp))
		case kUint16:
			dst = appendUv(dst, uint64(*(*uint16)(fp)))
		case kUint32:
			dst = appendUv(dst, uint64(*(*uint32)(fp)))
		case kUint64:
			dst = appendUv(dst, *(*uint64)(fp))
		case kUintptr:
			dst = appendUv(dst, uint64(*(*uintptr)(fp)))
		case kFloat32:
			dst = appendU32LE(dst, math.Float32bits(*(*float32)(fp)))
		case kFloat64:
			dst = appendU64LE(dst, math.Float64bits(*(*float64)(fp)))
		case kComplex64:
			c := *(*complex64)(fp)
			dst = appendU32LE(dst, math.Float32bits(real(c)))
			dst = appendU32LE(dst, math.Float32bits(imag(c)))
		case kComplex128:
			c := *(*complex128)(fp)
			dst = appendU64LE(dst, math.Float64bits(real(c)))
			dst = appendU64LE(dst, math.Float64bits(imag(c)))
		case kString:
			s := *(*string)(fp)
			dst = appendUv(dst, uint64(len(s)))
			dst = append(dst, s...)
		case kBytes:
			b := *(*[]byte)(fp)
			if b == nil {
				dst = append(dst, 0)
			} else {
				dst = appendUv(dst, uint64(len(b))+1)
				dst = append(dst, b...)
			}
		}
	}
	return dst
}

// decode runs the op list, filling the value at p from src; it returns the bytes consumed.
// Every op overwrites its destination completely, so p need not point at a zero value.
func (e *engine) decode(src []byte, p unsafe.Pointer, depth int) (int, error) {
	if e.batchStrings {
		var spans [maxBatchStrings]strSpan
		return e.decodeOps(src, p, depth, &spans)
	}
	return e.decodeOps(src, p, depth, nil)
}

// decodeOps is the op interpreter behind decode; spans is scratch space for batched strings
// (nil unless e.batchStrings).
func (e *engine) decodeOps(src []byte, p unsafe.Pointer, depth int, spans *[maxBatchStrings]strSpan) (int, error) {
	i := 0
	nspans, strBytes := 0, 0
	for j := range e.ops {
		o := &e.ops[j]
		fp := unsafe.Add(p, o.off)
		switch o.k {
		case kCall:
			n, err := o.e.dec(src[i:], fp, depth)
			if err != nil {
				return 0, fieldError(e.pathOf(j), err)
			}
			i += n
		case kBool:
			if i >= len(src) {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			b := src[i]
			if b > 1 {
				return 0, fieldError(e.pathOf(j), errBadBool)
			}
			*(*bool)(fp) = b == 1
			i++
		case kInt8, kUint8:
			if i >= len(src) {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			*(*uint8)(fp) = src[i]
			i++
		case kInt64:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			*(*int64)(fp) = unzigzag(u)
		case kInt, kInt16, kInt32:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			v := unzigzag(u)
			switch o.k {
			case kInt:
				if int64(int(v)) != v {
					return 0, fieldError(e.pathOf(j), rangeError(v, "int"))
				}
				*(*int)(fp) = int(v)
			case kInt32:
				if int64(int32(v)) != v {
					return 0, fieldError(e.pathOf(j), rangeError(v, "int32"))
				}
				*(*int32)(fp) = int32(v)
			default:
				if int64(int16(v)) != v {
					return 0, fieldError(e.pathOf(j), rangeError(v, "int16"))
				}
				*(*int16)(fp) = int16(v)
			}
		case kUint64:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			*(*uint64)(fp) = u
		case kUint, kUint16, kUint32, kUintptr:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			switch o.k {
			case kUint:
				if uint64(uint(u)) != u {
					return 0, fieldError(e.pathOf(j), rangeError(u, "uint"))
				}
				*(*uint)(fp) = uint(u)
			case kUintptr:
				if uint64(uintptr(u)) != u {
					return 0, fieldError(e.pathOf(j), rangeError(u, "uintptr"))
				}
				*(*uintptr)(fp) = uintptr(u)
			case kUint32:
				if u > math.MaxUint32 {
					return 0, fieldError(e.pathOf(j), rangeError(u, "uint32"))
				}
				*(*uint32)(fp) = uint32(u)
			default:
				if u > math.MaxUint16 {
					return 0, fieldError(e.pathOf(j), rangeError(u, "uint16"))
				}
				*(*uint16)(fp) = uint16(u)
			}
		case kFloat32:
			if len(src)-i < 4 {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			*(*float32)(fp) = math.Float32frombits(u32LE(src[i:]))
			i += 4
		case kFloat64:
			if len(src)-i < 8 {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			*(*float64)(fp) = math.Float64frombits(u64LE(src[i:]))
			i += 8
		case kComplex64:
			if len(src)-i < 8 {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			*(*complex64)(fp) = complex(math.Float32frombits(u32LE(src[i:])), math.Float32frombits(u32LE(src[i+4:])))
			i += 8
		case kComplex128:
			if len(src)-i < 16 {
				return 0, fieldError(e.pathOf(j), errFixedTruncated)
			}
			*(*complex128)(fp) = complex(math.Float64frombits(u64LE(src[i:])), math.Float64frombits(u64LE(src[i+8:])))
			i += 16
		case kString:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			if u > uint64(len(src)-i) {
				return 0, fieldError(e.pathOf(j), lengthError("string", u, len(src)-i))
			}
			end := i + int(u)
			if spans != nil {
				// Remember where the bytes are; all strings get one allocation at the end.
				spans[nspans] = strSpan{start: i, n: int(u)}
				nspans++
				strBytes += int(u)
			} else {
				*(*string)(fp) = string(src[i:end])
			}
			i = end
		case kBytes:
			var u uint64
			if i < len(src) && src[i] < 0x80 {
				u = uint64(src[i])
				i++
			} else {
				var err error
				if u, i, err = readUvSlow(src, i); err != nil {
					return 0, fieldError(e.pathOf(j), err)
				}
			}
			if u == 0 {
				*(*[]byte)(fp) = nil
				continue
			}
			u--
			if u > uint64(len(src)-i) {
				return 0, fieldError(e.pathOf(j), lengthError("bytes", u, len(src)-i))
			}
			end := i + int(u)
			b := make([]byte, u)
			copy(b, src[i:end])
			*(*[]byte)(fp) = b
			i = end
		}
	}
	if spans != nil {
		e.setStrings(p, src, spans[:nspans], strBytes)
	}
	return i, nil
}

// strSpan locates one string's bytes in the input during a batched decode.
type strSpan struct{ start, n int }

// setStrings stores the strings found at spans into the struct's string fields, giving them
// one fresh allocation together instead of one each. When the strings lie close together in
// the input (only a little other data between them) the whole region is copied with one
// string conversion, which skips zeroing the new memory; otherwise the strings are packed into a
// buffer of exactly total bytes. The strings then share a backing array: keeping any one of
// them alive keeps all of them (a few hundred bytes for typical records).
func (e *engine) setStrings(p unsafe.Pointer, src []byte, spans []strSpan, total int) {
	if total == 0 {
		for _, j := range e.strOps {
			*(*string)(unsafe.Add(p, e.ops[j].off)) = ""
		}
		return
	}
	first, last := -1, 0
	for _, sn := range spans {
		if sn.n > 0 {
			if first < 0 {
				first = sn.start
			}
			last = sn.start + sn.n
		}
	}
	if last-first <= total+total/4+32 {
		region := string(src[first:last])
		for k, j := range e.strOps {
			sn := spans[k]
			sp := (*string)(unsafe.Add(p, e.ops[j].off))
			if sn.n == 0 {
				*sp = ""
			} else {
				*sp = region[sn.start-first : sn.start-first+sn.n]
			}
		}
		return
	}
	buf := make([]byte, total)
	at := 0
	for k, j := range e.strOps {
		sp := (*string)(unsafe.Add(p, e.ops[j].off))
		sn := spans[k]
		if sn.n == 0 {
			*sp = ""
			continue
		}
		copy(buf[at:], src[sn.start:sn.start+sn.n])
		*sp = unsafe.String(&buf[at], sn.n)
		at += sn.n
	}
}

// readUvSlow decodes the uvarint at src[i:] (the multi-byte path; callers inline the one-byte
// case) and returns it with the index just past it.
func readUvSlow(src []byte, i int) (uint64, int, error) {
	var v uint64
	var shift uint
	for k := i; k < len(src); k++ {
		b := src[k]
		if b < 0x80 {
			if b == 0 && k > i {
				return 0, 0, errVarintOverlong
			}
			if k-i == MaxVarintLen-1 && b > 1 {
				return 0, 0, errVarintOverflow
			}
			return v | uint64(b)<<shift, k + 1, nil
		}
		if k-i == MaxVarintLen-1 {
			return 0, 0, errVarintOverflow
		}
		v |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0, errVarintTruncated
}

// readLen decodes a uvarint length prefix.
func readLen(src []byte) (uint64, int, error) {
	if len(src) > 0 && src[0] < 0x80 {
		return uint64(src[0]), 1, nil
	}
	return uvarintSlow(src)
}

// maxElems is the largest element count that rem bytes of input can hold for elements whose
// encoding takes at least minSize bytes (counted as 1 when smaller). Free elements (see
// engine.free) need no input and no memory, so their count is only bounded by the int range.
func maxElems(rem int, minSize int, free bool) uint64 {
	if free {
		return math.MaxInt
	}
	if minSize < 1 {
		minSize = 1
	}
	return uint64(rem / minSize)
}

// sliceEngine derives []E for element engines other than single bytes.
func sliceEngine(t reflect.Type, elem *engine) *engine {
	e := &engine{typ: t, minSize: 1}
	size := t.Elem().Size()
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		s := (*sliceHeader)(p)
		if s.data == nil {
			return append(dst, 0)
		}
		dst = appendUv(dst, uint64(s.len)+1)
		if elem.empty {
			return dst
		}
		for i := 0; i < s.len; i++ {
			dst = elem.enc(dst, unsafe.Add(s.data, uintptr(i)*size))
		}
		return dst
	}
	e.dec = func(src []byte, p unsafe.Pointer, depth int) (int, error) {
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		u, i, err := readLen(src)
		if err != nil {
			return 0, err
		}
		if u == 0 {
			*(*sliceHeader)(p) = sliceHeader{}
			return i, nil
		}
		u--
		if u > maxElems(len(src)-i, elem.minSize, elem.free()) {
			return 0, lengthError("slice", u, len(src)-i)
		}
		n := int(u)
		if n == 0 {
			*(*sliceHeader)(p) = sliceHeader{data: unsafe.Pointer(&emptyBase)}
			return i, nil
		}
		// Grow a nil slice in place: one allocation (reflect.MakeSlice would add a second one
		// for the header it returns).
		*(*sliceHeader)(p) = sliceHeader{}
		sv := reflect.NewAt(t, p).Elem()
		sv.Grow(n)
		sv.SetLen(n)
		data := (*sliceHeader)(p).data
		if !elem.empty {
			for k := 0; k < n; k++ {
				m, err := elem.dec(src[i:], unsafe.Add(data, uintptr(k)*size), depth+1)
				if err != nil {
					return 0, fieldError("["+itoa(k)+"]", err)
				}
				i += m
			}
		}
		return i, nil
	}
	e.skip = sliceSkip(elem)
	e.ops = []op{{k: kCall, e: e}}
	e.ready = true
	return e
}

// byteArrayEngine derives [N]E for 1-byte uint8 elements: the raw bytes.
func byteArrayEngine(t reflect.Type) *engine {
	n := t.Len()
	e := &engine{typ: t, minSize: n, empty: n == 0}
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		return append(dst, unsafe.Slice((*byte)(p), n)...)
	}
	e.dec = func(src []byte, p unsafe.Pointer, _ int) (int, error) {
		if len(src) < n {
			return 0, errFixedTruncated
		}
		copy(unsafe.Slice((*byte)(p), n), src[:n])
		return n, nil
	}
	e.skip = byteArraySkip(n)
	e.ops = []op{{k: kCall, e: e}}
	e.ready = true
	return e
}

// arrayEngine derives [N]E by looping over the element engine.
func arrayEngine(t reflect.Type, elem *engine) *engine {
	n := t.Len()
	size := t.Elem().Size()
	e := &engine{typ: t, minSize: n * elem.minSize, empty: n == 0 || elem.empty}
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		for i := 0; i < n; i++ {
			dst = elem.enc(dst, unsafe.Add(p, uintptr(i)*size))
		}
		return dst
	}
	e.dec = func(src []byte, p unsafe.Pointer, depth int) (int, error) {
		i := 0
		for k := 0; k < n; k++ {
			m, err := elem.dec(src[i:], unsafe.Add(p, uintptr(k)*size), depth)
			if err != nil {
				return 0, fieldError("["+itoa(k)+"]", err)
			}
			i += m
		}
		return i, nil
	}
	e.skip = arraySkip(n, elem)
	e.ops = []op{{k: kCall, e: e}}
	e.ready = true
	return e
}

// pointerEngine derives *E: a flag byte (0 nil, 1 present) followed by the element.
func pointerEngine(t reflect.Type, elem *engine) *engine {
	et := t.Elem()
	e := &engine{typ: t, minSize: 1}
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		ptr := *(*unsafe.Pointer)(p)
		if ptr == nil {
			return append(dst, 0)
		}
		dst = append(dst, 1)
		return elem.enc(dst, ptr)
	}
	e.dec = func(src []byte, p unsafe.Pointer, depth int) (int, error) {
		if len(src) < 1 {
			return 0, errFixedTruncated
		}
		switch src[0] {
		case 0:
			*(*unsafe.Pointer)(p) = nil
			return 1, nil
		case 1:
		default:
			return 0, errBadNilFlag
		}
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		np := reflect.New(et).UnsafePointer()
		n, err := elem.dec(src[1:], np, depth+1)
		if err != nil {
			return 0, err
		}
		*(*unsafe.Pointer)(p) = np
		return 1 + n, nil
	}
	e.skip = pointerSkip(elem)
	e.ops = []op{{k: kCall, e: e}}
	e.ready = true
	return e
}

// mapEngine derives map[K]V: uvarint(len+1) (0 for a nil map), then key, value pairs in the
// map's iteration order. Maps go through reflect and allocate; keep them off hot paths.
func mapEngine(t reflect.Type, ke, ve *engine) *engine {
	kt, vt := t.Key(), t.Elem()
	e := &engine{typ: t, minSize: 1}
	e.enc = func(dst []byte, p unsafe.Pointer) []byte {
		// Re-wrap the map through Interface so the Value (and the heap-allocated MapIter that
		// holds it) carries the map pointer itself, not p: p may point into the caller's stack,
		// and heap objects must not point into stacks.
		m := reflect.ValueOf(reflect.NewAt(t, p).Elem().Interface())
		if m.IsNil() {
			return append(dst, 0)
		}
		dst = appendUv(dst, uint64(m.Len())+1)
		k := reflect.New(kt).Elem()
		v := reflect.New(vt).Elem()
		it := m.MapRange()
		for it.Next() {
			k.SetIterKey(it)
			v.SetIterValue(it)
			dst = ke.enc(dst, k.Addr().UnsafePointer())
			dst = ve.enc(dst, v.Addr().UnsafePointer())
		}
		return dst
	}
	e.dec = func(src []byte, p unsafe.Pointer, depth int) (int, error) {
		if depth >= MaxDecodeDepth {
			return 0, errTooDeep
		}
		u, i, err := readLen(src)
		if err != nil {
			return 0, err
		}
		if u == 0 {
			*(*unsafe.Pointer)(p) = nil
			return i, nil
		}
		u--
		limit := maxElems(len(src)-i, ke.minSize+ve.minSize, ke.free() && ve.free())
		if ke.empty && limit > 1 {
			limit = 1 // a zero-size key type has a single value
		}
		if u > limit {
			return 0, lengthError("map", u, len(src)-i)
		}
		n := int(u)
		m := reflect.MakeMapWithSize(t, n)
		k := reflect.New(kt)
		v := reflect.New(vt)
		for c := 0; c < n; c++ {
			k.Elem().SetZero()
			v.Elem().SetZero()
			a, err := ke.dec(src[i:], k.UnsafePointer(), depth+1)
			if err != nil {
				return 0, fieldError("[key]", err)
			}
			i += a
			b, err := ve.dec(src[i:], v.UnsafePointer(), depth+1)
			if err != nil {
				return 0, fieldError("[value]", err)
			}
			i += b
			m.SetMapIndex(k.Elem(), v.Elem())
		}
		if m.Len() != n {
			return 0, fmt.Errorf("map of %d entries holds duplicate keys: %w", n, ErrMalformed)
		}
		reflect.NewAt(t, p).Elem().Set(m)
		return i, nil
	}
	e.skip = mapSkip(ke, ve)
	e.ops = []op{{k: kCall, e: e}}
	e.ready = true
	return e
}

// itoa formats small non-negative ints for error paths without importing strconv everywhere.
func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
