package serde

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Bid mirrors the Nexmark bid event, the benchmark's reference record.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime int64
	Extra    string
}

type Prims struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	Up   uintptr
	F32  float32
	F64  float64
	C64  complex64
	C128 complex128
	S    string
	Bs   []byte
}

type (
	Named      int16
	NamedStr   string
	NamedBytes []byte
	MyByte     byte
)

type unexp struct {
	a int64
	b string
	c []int32
	_ int64 // blank fields are skipped
	d *unexp
}

type Inner struct {
	X, Y int32
	Tag  string
}

type Nested struct {
	P      Prims
	Arr    [3]int16
	BigArr [100]uint16
	Fixed  [16]byte
	Points [4]Inner
	Ptr    *Prims
	NilPtr *int
	Sl     []Prims
	SS     []string
	M      map[string]int64
	MM     map[int32][]string
	Tup    Tuple2[string, int64]
	T3     Tuple3[int, bool, []byte]
	Empty  struct{}
	Es     []struct{}
	Named  Named
	NS     NamedStr
	NB     NamedBytes
	MBs    []MyByte
	PP     **Inner
	AS     [2][]string
	u      unexp
}

type Tree struct {
	V    int
	Kids []Tree
	Next *Tree
	M    map[string]*Tree
}

// roundTrip encodes random values of T, decodes them back and compares; it also checks that
// every proper prefix of an encoding fails with ErrTruncated (never panics), that re-encoding
// reproduces the bytes when T holds no maps, and that DecodeInto agrees with Decode.
func roundTrip[T any](t *testing.T, iterations int, deterministic bool) {
	t.Helper()
	c, err := For[T]()
	if err != nil {
		t.Fatalf("For[%v]: %v", reflect.TypeFor[T](), err)
	}
	g := newGen(uint64(len(reflect.TypeFor[T]().String())))
	for i := 0; i < iterations; i++ {
		v := g.value(reflect.TypeFor[T](), 3).Interface().(T)
		prefix := []byte("prefix")
		b := c.Append(prefix, v)
		if !bytes.Equal(b[:len(prefix)], prefix) {
			t.Fatalf("Append clobbered the existing bytes of dst")
		}
		b = b[len(prefix):]
		got, n, err := c.Decode(append(b, 0xAA, 0xBB)) // trailing bytes must be left alone
		if err != nil {
			t.Fatalf("%T: Decode(Append(%+v)) failed: %v", v, v, err)
		}
		if n != len(b) {
			t.Fatalf("%T: Decode consumed %d of %d bytes", v, n, len(b))
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("%T round trip:\n got  %+v\n want %+v", v, got, v)
		}
		if deterministic {
			if again := c.Append(nil, got); !bytes.Equal(again, b) {
				t.Fatalf("%T: re-encoding the decoded value gave different bytes", v)
			}
		}
		if m, err := EncodedLen(c, append(b, 0xCC)); err != nil || m != n {
			t.Fatalf("%T: EncodedLen = %d, %v; Decode consumed %d", v, m, err, n)
		}
		if _, ok := c.(Skipper); !ok {
			t.Fatalf("%T: codec %T has no Skip", v, c)
		}
		var into T
		if m, err := DecodeInto(c, b, &into); err != nil || m != n || !reflect.DeepEqual(into, v) {
			t.Fatalf("%T: DecodeInto = %d, %v; value equal %v", v, m, err, reflect.DeepEqual(into, v))
		}
		if i%10 == 0 {
			for k := 0; k < len(b); k++ {
				if _, _, err := c.Decode(b[:k]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("%T: Decode of a %d/%d-byte prefix: err = %v, want ErrTruncated", v, k, len(b), err)
				}
				if _, err := EncodedLen(c, b[:k]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("%T: EncodedLen of a %d/%d-byte prefix: err = %v, want ErrTruncated", v, k, len(b), err)
				}
			}
		}
	}
}

func TestRoundTripEveryKind(t *testing.T) {
	roundTrip[bool](t, 50, true)
	roundTrip[int](t, 200, true)
	roundTrip[int8](t, 100, true)
	roundTrip[int16](t, 100, true)
	roundTrip[int32](t, 200, true)
	roundTrip[int64](t, 200, true)
	roundTrip[uint](t, 100, true)
	roundTrip[uint8](t, 100, true)
	roundTrip[uint16](t, 100, true)
	roundTrip[uint32](t, 200, true)
	roundTrip[uint64](t, 200, true)
	roundTrip[uintptr](t, 50, true)
	roundTrip[float32](t, 100, true)
	roundTrip[float64](t, 100, true)
	roundTrip[complex64](t, 50, true)
	roundTrip[complex128](t, 50, true)
	roundTrip[string](t, 200, true)
	roundTrip[[]byte](t, 200, true)
	roundTrip[Named](t, 100, true)
	roundTrip[NamedStr](t, 100, true)
	roundTrip[NamedBytes](t, 100, true)
	roundTrip[[]MyByte](t, 100, true)
	roundTrip[[5]byte](t, 50, true)
	roundTrip[[3]string](t, 50, true)
	roundTrip[[]int64](t, 100, true)
	roundTrip[[]string](t, 100, true)
	roundTrip[[][]int](t, 100, true)
	roundTrip[*int](t, 100, true)
	roundTrip[**string](t, 100, true)
	roundTrip[map[string]int](t, 100, false)
	roundTrip[map[int64][]string](t, 100, false)
	roundTrip[Bid](t, 300, true)
	roundTrip[Prims](t, 300, true)
	roundTrip[unexp](t, 200, true)
	roundTrip[Nested](t, 150, false)
	roundTrip[Tree](t, 150, false)
	roundTrip[[]Bid](t, 100, true)
	roundTrip[Tuple2[string, int64]](t, 100, true)
	roundTrip[Tuple3[int32, string, []float64]](t, 100, true)
	roundTrip[Tuple2[Tuple2[int, int], *Bid]](t, 100, true)
	roundTrip[struct{}](t, 5, true)
	roundTrip[[]struct{}](t, 20, true)
}

// TestGoldenWire pins the wire format: snapshots store these bytes, so they must never change
// without a format version bump (docs/formats/serde.md).
func TestGoldenWire(t *testing.T) {
	type small struct {
		A int64
		B string
		C bool
		D []byte
		E *uint16
		F float32
		G [2]uint8
		H []int8
	}
	u := uint16(300)
	type Item struct {
		SKU string
		Qty int16
	}
	type Order struct {
		ID    uint32
		Items []Item
		Note  *string
	}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"int64 -1", MustFor[int64]().Append(nil, -1), "01"},
		{"int64 150", MustFor[int64]().Append(nil, 150), "ac02"},
		{"int 63", MustFor[int]().Append(nil, 63), "7e"},
		{"uint64 300", MustFor[uint64]().Append(nil, 300), "ac02"},
		{"string", MustFor[string]().Append(nil, "hi"), "026869"},
		{"named string", MustFor[NamedStr]().Append(nil, "hi"), "026869"},
		{"bytes nil", MustFor[[]byte]().Append(nil, nil), "00"},
		{"bytes empty", MustFor[[]byte]().Append(nil, []byte{}), "01"},
		{"bytes", MustFor[[]byte]().Append(nil, []byte{7, 8}), "030708"},
		{"bool", MustFor[bool]().Append(nil, true), "01"},
		{"float64 1", MustFor[float64]().Append(nil, 1), "000000000000f03f"},
		{"int8 -2", MustFor[int8]().Append(nil, -2), "fe"},
		{"pointer nil", MustFor[*int]().Append(nil, nil), "00"},
		{"slice nil", MustFor[[]int32]().Append(nil, nil), "00"},
		{"slice", MustFor[[]int32]().Append(nil, []int32{1, -1}), "030201"},
		{"map one", MustFor[map[string]int]().Append(nil, map[string]int{"a": 1}), "02016102"},
		{"tuple", MustFor[Tuple2[string, int64]]().Append(nil, NewTuple2("k", int64(-3))), "016b05"},
		{"struct", MustFor[small]().Append(nil, small{A: 1, B: "x", C: true, D: []byte{9}, E: &u, F: 1, G: [2]uint8{1, 2}, H: []int8{-1}}),
			"02" + "0178" + "01" + "0209" + "01ac02" + "0000803f" + "0102" + "02ff"},
		// The two examples of docs/formats/serde.md §3.1 and §3.2.
		{"doc bid", MustFor[Bid]().Append(nil, Bid{Auction: 1, Bidder: 2, Price: 150, Channel: "G", URL: "u", DateTime: -1}),
			"02" + "04" + "ac02" + "0147" + "0175" + "01" + "00"},
		{"doc order", MustFor[Order]().Append(nil, Order{ID: 7, Items: []Item{{"a", 2}}}), "07" + "02" + "0161" + "04" + "00"},
		{"time", MustFor[time.Time]().Append(nil, time.Unix(1, 5).In(time.FixedZone("", 3600))), "02" + "05" + "a038"},
	}
	for _, c := range cases {
		if got := fmt.Sprintf("%x", c.got); got != c.want {
			t.Errorf("%s: wire %s, want %s", c.name, got, c.want)
		}
	}
}

// TestFastAndDerivedAgree checks the built-in codecs write what the derived ones write for the
// same kind (a named type takes the derived path).
func TestFastAndDerivedAgree(t *testing.T) {
	type I64 int64
	type I int
	type I32 int32
	type U32 uint32
	type U64 uint64
	type F64 float64
	type B bool
	type Bs []byte
	g := newGen(7)
	for i := 0; i < 500; i++ {
		x := int64(g.randUint())
		same(t, MustFor[int64]().Append(nil, x), MustFor[I64]().Append(nil, I64(x)))
		same(t, MustFor[int]().Append(nil, int(x)), MustFor[I]().Append(nil, I(x)))
		same(t, MustFor[int32]().Append(nil, int32(x)), MustFor[I32]().Append(nil, I32(x)))
		same(t, MustFor[uint32]().Append(nil, uint32(x)), MustFor[U32]().Append(nil, U32(x)))
		same(t, MustFor[uint64]().Append(nil, uint64(x)), MustFor[U64]().Append(nil, U64(x)))
		f := g.randFloat()
		same(t, MustFor[float64]().Append(nil, f), MustFor[F64]().Append(nil, F64(f)))
		same(t, MustFor[bool]().Append(nil, x&1 == 1), MustFor[B]().Append(nil, x&1 == 1))
		s := g.randString()
		same(t, MustFor[string]().Append(nil, s), MustFor[NamedStr]().Append(nil, NamedStr(s)))
		same(t, MustFor[[]byte]().Append(nil, []byte(s)), MustFor[Bs]().Append(nil, Bs(s)))
		// Composed codecs agree with derived ones too.
		tup := NewTuple3(s, x, []byte(s))
		same(t, Tuple3Of(MustFor[string](), MustFor[int64](), MustFor[[]byte]()).Append(nil, tup),
			MustFor[Tuple3[string, int64, []byte]]().Append(nil, tup))
		sl := []string{s, "", s}
		same(t, SliceOf(MustFor[string]()).Append(nil, sl), MustFor[[]string]().Append(nil, sl))
	}
}

func same(t *testing.T, a, b []byte) {
	t.Helper()
	if !bytes.Equal(a, b) {
		t.Fatalf("encodings differ: % x vs % x", a, b)
	}
}

func TestComposedCodecsRoundTrip(t *testing.T) {
	c2 := Tuple2Of(MustFor[string](), SliceOf(MustFor[int64]()))
	v := NewTuple2("key", []int64{1, -2, 3})
	b := c2.Append(nil, v)
	got, n, err := c2.Decode(b)
	if err != nil || n != len(b) || !reflect.DeepEqual(got, v) {
		t.Fatalf("Tuple2Of round trip: %+v %d %v", got, n, err)
	}
	for k := 0; k < len(b); k++ {
		if _, _, err := c2.Decode(b[:k]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix %d: %v", k, err)
		}
	}
	c3 := Tuple3Of(MustFor[bool](), MustFor[float64](), MustFor[uint32]())
	v3 := NewTuple3(true, 2.5, uint32(7))
	b = c3.Append(nil, v3)
	got3, n, err := c3.Decode(b)
	if err != nil || n != len(b) || got3 != v3 {
		t.Fatalf("Tuple3Of round trip: %+v %d %v", got3, n, err)
	}
	// A slice length the input cannot hold is rejected before allocating.
	huge := AppendUvarint(nil, 1<<60)
	if _, _, err := SliceOf(MustFor[int64]()).Decode(huge); !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge SliceOf length: %v", err)
	}
}

func TestNilAndEmptySurvive(t *testing.T) {
	type S struct {
		A []int
		B []int
		C map[string]int
		D map[string]int
		E []byte
		F []byte
	}
	v := S{B: []int{}, D: map[string]int{}, F: []byte{}}
	c := MustFor[S]()
	got, _, err := c.Decode(c.Append(nil, v))
	if err != nil {
		t.Fatal(err)
	}
	if got.A != nil || got.B == nil || got.C != nil || got.D == nil || got.E != nil || got.F == nil {
		t.Fatalf("nil/empty not preserved: %#v", got)
	}
}

func TestFloatBitsPreserved(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000abc)
	b := MustFor[float64]().Append(nil, nan)
	got, _, _ := MustFor[float64]().Decode(b)
	if math.Float64bits(got) != 0x7ff8000000000abc {
		t.Fatalf("NaN payload lost: %x", math.Float64bits(got))
	}
	type F struct{ A float32 }
	nan32 := math.Float32frombits(0x7fc00123)
	g, _, _ := MustFor[F]().Decode(MustFor[F]().Append(nil, F{nan32}))
	if math.Float32bits(g.A) != 0x7fc00123 {
		t.Fatalf("float32 NaN payload lost: %x", math.Float32bits(g.A))
	}
}

func TestTimeCodec(t *testing.T) {
	c := MustFor[time.Time]()
	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(),
		time.Date(2026, 11, 21, 19, 56, 4, 123456789, time.UTC),
		time.Date(1901, 1, 1, 0, 0, 0, 1, time.FixedZone("X", -5*3600)),
		time.Now(),
	} {
		b := c.Append(nil, tm)
		got, n, err := c.Decode(b)
		if err != nil || n != len(b) || !got.Equal(tm) {
			t.Fatalf("time %v: got %v, %d, %v", tm, got, n, err)
		}
		_, off1 := tm.Zone()
		_, off2 := got.Zone()
		if off1 != off2 {
			t.Fatalf("time %v: zone offset %d, want %d", tm, off2, off1)
		}
	}
	type Ev struct {
		At  time.Time
		Key string
	}
	ev := Ev{At: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), Key: "k"}
	got, _, err := MustFor[Ev]().Decode(MustFor[Ev]().Append(nil, ev))
	if err != nil || !got.At.Equal(ev.At) || got.Key != "k" {
		t.Fatalf("struct with time.Time: %+v %v", got, err)
	}
	bad := append(AppendVarint(nil, 1), AppendUvarint(nil, 2e9)...)
	bad = append(bad, 0)
	if _, _, err := c.Decode(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nanoseconds out of range: %v", err)
	}
}

type withReader struct {
	Name string
	Src  io.Reader
}

type withChans struct {
	Chans []chan int
}

type withFunc struct {
	In struct {
		F map[string]func()
	}
}

func TestUnsupportedTypes(t *testing.T) {
	_, err := For[withReader]()
	want := "serde: no codec for field withReader.Src of type io.Reader: register one with serde.Register"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	var ute *UnsupportedTypeError
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ute) || ute.Path != "withReader.Src" {
		t.Fatalf("error shape: %#v", err)
	}
	if _, err := For[*withReader](); err == nil || err.Error() != want {
		t.Fatalf("pointer to struct: %v", err)
	}
	if _, err := For[map[string]withReader](); err == nil || !strings.Contains(err.Error(), "field map[string]serde.withReader[value].Src of type io.Reader") {
		t.Fatalf("map of struct: %v", err)
	}
	if _, err := For[withChans](); err == nil || !strings.Contains(err.Error(), "field withChans.Chans[] of type chan int") {
		t.Fatalf("chan in slice: %v", err)
	}
	if _, err := For[withFunc](); err == nil || !strings.Contains(err.Error(), "field withFunc.In.F[value] of type func()") {
		t.Fatalf("func in map: %v", err)
	}
	if _, err := For[any](); err == nil || err.Error() != "serde: no codec for type interface {}: register one with serde.Register" {
		t.Fatalf("top-level interface: %v", err)
	}
	// A failed derivation must not poison the cache for the types it touched.
	if _, err := For[[]chan int](); err == nil {
		t.Fatal("[]chan int derived")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("MustFor of an unsupported type did not panic")
			}
		}()
		MustFor[withReader]()
	}()
}

// upperCodec is a user codec that stores strings upper-cased, so tests can see it was used.
type upperCodec struct{}

type Shout string

func (upperCodec) Append(dst []byte, v Shout) []byte {
	return AppendString(dst, strings.ToUpper(string(v)))
}

func (upperCodec) Decode(src []byte) (Shout, int, error) {
	s, n, err := DecodeString(src)
	return Shout(s), n, err
}

type readerCodec struct{}

func (readerCodec) Append(dst []byte, r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return AppendBytes(dst, b)
}

func (readerCodec) Decode(src []byte) (io.Reader, int, error) {
	b, n, err := DecodeBytes(src)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(b), n, nil
}

// lyingCodec claims to consume more than it was given.
type lyingCodec struct{}

type Liar int

func (lyingCodec) Append(dst []byte, v Liar) []byte { return append(dst, byte(v)) }
func (lyingCodec) Decode(src []byte) (Liar, int, error) {
	return 0, len(src) + 5, nil
}

func TestRegister(t *testing.T) {
	type Msg struct {
		A  Shout
		Bs []Shout
		M  map[Shout]Shout
	}
	before := MustFor[Msg]().Append(nil, Msg{A: "hi"})
	Register[Shout](upperCodec{})
	defer Register[Shout](nil)
	c := MustFor[Msg]()
	v := Msg{A: "hi", Bs: []Shout{"a", "b"}, M: map[Shout]Shout{"k": "v"}}
	got, _, err := c.Decode(c.Append(nil, v))
	if err != nil {
		t.Fatal(err)
	}
	want := Msg{A: "HI", Bs: []Shout{"A", "B"}, M: map[Shout]Shout{"K": "V"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registered codec not used inside struct/slice/map: %+v", got)
	}
	if top := MustFor[Shout]().Append(nil, "x"); string(top) != "\x01X" {
		t.Fatalf("For[Shout] is not the registered codec: %q", top)
	}
	Register[Shout](nil)
	if after := MustFor[Msg]().Append(nil, Msg{A: "hi"}); !bytes.Equal(after, before) {
		t.Fatalf("unregistering did not restore derivation: % x vs % x", after, before)
	}

	// Registering an interface type makes structs holding it derivable.
	Register[io.Reader](readerCodec{})
	defer Register[io.Reader](nil)
	rc := MustFor[withReader]()
	r, _, err := rc.Decode(rc.Append(nil, withReader{Name: "n", Src: strings.NewReader("payload")}))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r.Src); string(b) != "payload" || r.Name != "n" {
		t.Fatalf("io.Reader via registered codec: %q %q", b, r.Name)
	}

	// A buggy user codec cannot make the derived decoder read out of bounds.
	Register[Liar](lyingCodec{})
	defer Register[Liar](nil)
	type HasLiar struct {
		L Liar
		S string
	}
	lc := MustFor[HasLiar]()
	if _, _, err := lc.Decode(lc.Append(nil, HasLiar{1, "x"})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("lying codec: %v", err)
	}
}

func TestMalformedInput(t *testing.T) {
	type S struct {
		B  bool
		I8 int16
		P  *int
		U  uint16
	}
	c := MustFor[S]()
	cases := []struct {
		name string
		in   []byte
		want error
		path string
	}{
		{"bad bool", []byte{2, 0, 0, 0}, ErrMalformed, "B"},
		{"int16 overflow", append([]byte{0}, AppendVarint(nil, 40000)...), ErrMalformed, "I8"},
		{"bad pointer flag", []byte{1, 0, 7}, ErrMalformed, "P"},
		{"uint16 overflow", append([]byte{1, 0, 0}, AppendUvarint(nil, 70000)...), ErrMalformed, "U"},
		{"overlong varint", []byte{0, 0x80, 0x00}, ErrMalformed, "I8"},
	}
	for _, k := range cases {
		_, n, err := c.Decode(k.in)
		if !errors.Is(err, k.want) || n != 0 || !strings.Contains(err.Error(), "field "+k.path) {
			t.Errorf("%s: n=%d err=%v, want %v naming field %s", k.name, n, err, k.want, k.path)
		}
	}
	// Error messages spell the path through nested structs and slices.
	type Item struct {
		SKU string
		Qty int16
	}
	type Order struct {
		ID    uint32
		Items []Item
	}
	enc := MustFor[Order]().Append(nil, Order{ID: 1, Items: []Item{{"a", 1}, {"bcd", 2}}})
	_, _, err := MustFor[Order]().Decode(enc[:len(enc)-3])
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "field Items[1].SKU: string length 3 exceeds the 1 bytes left") {
		t.Errorf("nested path: %v", err)
	}
	// Huge lengths in every length-prefixed position.
	huge := AppendUvarint(nil, math.MaxUint64)
	for name, dec := range map[string]func([]byte) error{
		"string": func(b []byte) error { _, _, err := MustFor[struct{ S string }]().Decode(b); return err },
		"bytes":  func(b []byte) error { _, _, err := MustFor[struct{ B []byte }]().Decode(b); return err },
		"slice":  func(b []byte) error { _, _, err := MustFor[[]int64]().Decode(b); return err },
		"map":    func(b []byte) error { _, _, err := MustFor[map[int]int]().Decode(b); return err },
		"empty": func(b []byte) error {
			_, _, err := MustFor[map[struct{}]struct{}]().Decode(AppendUvarint(nil, 3))
			return err
		},
	} {
		if err := dec(huge); !errors.Is(err, ErrTruncated) {
			t.Errorf("%s with huge length: %v", name, err)
		}
	}
	// Duplicate map keys are not a valid encoding.
	dup := []byte{3, 2, 2, 2, 4}
	if _, _, err := MustFor[map[int]int]().Decode(dup); !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate map keys: %v", err)
	}
	// A zero-size element type costs neither input nor memory per element.
	const many = math.MaxInt32 - 1
	zs := AppendUvarint(nil, many+1)
	got, n, err := MustFor[[]struct{}]().Decode(zs)
	if err != nil || len(got) != many || n != len(zs) {
		t.Errorf("[]struct{} of %d: len %d, %d, %v", many, len(got), n, err)
	}
	// A type that encodes as nothing but occupies memory (only blank fields) is not free: its
	// count stays bounded by the input, or a few bytes could demand terabytes.
	type padded struct{ _ [1 << 20]byte }
	if _, _, err := MustFor[[]padded]().Decode(AppendUvarint(nil, 1<<40)); !errors.Is(err, ErrTruncated) {
		t.Errorf("[]padded of 2^40: %v", err)
	}
	// A count beyond the int range is rejected, not truncated.
	if _, _, err := MustFor[[]struct{}]().Decode(AppendUvarint(nil, math.MaxUint64)); !errors.Is(err, ErrTruncated) {
		t.Errorf("[]struct{} of 2^64-2: %v", err)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	type List struct {
		V    uint8
		Next *List
	}
	// 20 000 nested present pointers: each level is flag 1 + V byte.
	var b []byte
	for i := 0; i < 2*MaxDecodeDepth; i++ {
		b = append(b, 1, 0)
	}
	b = append(b, 0)
	_, _, err := MustFor[*List]().Decode(b)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("deep input: %v", err)
	}
	if len(err.Error()) > 1000 || !strings.Contains(err.Error(), "more)") {
		t.Fatalf("deep input error message not abbreviated (%d bytes): %.200s", len(err.Error()), err)
	}
	// Within the limit works.
	var l *List
	for i := 0; i < 1000; i++ {
		l = &List{V: uint8(i), Next: l}
	}
	enc := MustFor[*List]().Append(nil, l)
	got, _, err := MustFor[*List]().Decode(enc)
	if err != nil || got.V != l.V || got.Next.Next.V != l.Next.Next.V {
		t.Fatalf("1000-node list: %v", err)
	}
	// Self-referential slices: type L []L.
	type L []L
	v := L{L{}, nil, L{L{nil}}}
	gotL, _, err := MustFor[L]().Decode(MustFor[L]().Append(nil, v))
	if err != nil || !reflect.DeepEqual(gotL, v) {
		t.Fatalf("type L []L: %#v %v", gotL, err)
	}
}

func TestConcurrentFor(t *testing.T) {
	type Conc struct {
		A int
		B []string
	}
	done := make(chan Codec[Conc], 8)
	for i := 0; i < 8; i++ {
		go func() { done <- MustFor[Conc]() }()
	}
	first := <-done
	for i := 1; i < 8; i++ {
		if c := <-done; c != first {
			t.Fatal("For derived the same type twice")
		}
	}
}

func TestNoAllocs(t *testing.T) {
	bid := Bid{Auction: 1000, Bidder: 2001, Price: 123456, Channel: "Google", URL: "https://www.nexmark.com/abc/item.htm?query=1", DateTime: 1700000000000, Extra: "xxxxxxxxxxxxxxxxxxxx"}
	bc := MustFor[Bid]()
	buf := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(200, func() { buf = bc.Append(buf[:0], bid) }); a != 0 {
		t.Errorf("Bid Append allocs %v, want 0", a)
	}
	enc := bc.Append(nil, bid)
	if a := testing.AllocsPerRun(200, func() { _, _, _ = bc.Decode(enc) }); a != 1 {
		t.Errorf("Bid Decode allocs %v, want 1 (one shared by its strings)", a)
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = EncodedLen(bc, enc) }); a != 0 {
		t.Errorf("Bid EncodedLen allocs %v, want 0", a)
	}
	ic := MustFor[int64]()
	ienc := ic.Append(nil, -12345)
	if a := testing.AllocsPerRun(200, func() { buf = ic.Append(buf[:0], 77); _, _, _ = ic.Decode(ienc) }); a != 0 {
		t.Errorf("int64 allocs %v, want 0", a)
	}
	type K struct {
		A int32
		B [4]uint16
	}
	kc := MustFor[K]()
	kenc := kc.Append(nil, K{A: 5})
	if a := testing.AllocsPerRun(200, func() { buf = kc.Append(buf[:0], K{A: 9}); _, _, _ = kc.Decode(kenc) }); a != 0 {
		t.Errorf("flat struct allocs %v, want 0", a)
	}
}
