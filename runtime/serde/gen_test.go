package serde

import (
	"math"
	"math/rand/v2"
	"reflect"
	"unsafe"
)

// gen fills values of any derivable type with random contents, unexported fields included
// (testing/quick cannot set those). Floats avoid NaN so reflect.DeepEqual can compare.
type gen struct {
	r *rand.Rand
}

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// value returns a random value of t; depth limits recursion through pointers, slices and maps.
func (g *gen) value(t reflect.Type, depth int) reflect.Value {
	v := reflect.New(t).Elem()
	g.fill(v, depth)
	return v
}

// randInt returns integers of every magnitude, biased to small ones and the extremes.
func (g *gen) randUint() uint64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64 - uint64(g.r.IntN(3))
	case 2:
		return uint64(g.r.IntN(200))
	default:
		return g.r.Uint64() >> g.r.IntN(64)
	}
}

func (g *gen) randString() string {
	n := g.r.IntN(40)
	if g.r.IntN(10) == 0 {
		n = 100 + g.r.IntN(300) // past the one-byte length prefix
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return string(b)
}

func (g *gen) randFloat() float64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.Inf(1 - 2*g.r.IntN(2))
	case 2:
		return math.Copysign(0, -1)
	default:
		return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(40)-20))
	}
}

func (g *gen) fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(g.randUint())
		bits := v.Type().Size() * 8
		x = x << (64 - bits) >> (64 - bits) // sign-extend into range
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := g.randUint()
		bits := v.Type().Size() * 8
		x = x << (64 - bits) >> (64 - bits)
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(g.randFloat())
	case reflect.Complex64, reflect.Complex128:
		v.SetComplex(complex(g.randFloat(), g.randFloat()))
	case reflect.String:
		v.SetString(g.randString())
	case reflect.Slice:
		switch {
		case g.r.IntN(5) == 0:
			// nil
		case depth <= 0:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := g.r.IntN(6)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := 0; i < n; i++ {
				g.fill(s.Index(i), depth-1)
			}
			v.Set(s)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			g.fill(v.Index(i), depth)
		}
	case reflect.Pointer:
		if depth > 0 && g.r.IntN(3) != 0 {
			p := reflect.New(v.Type().Elem())
			g.fill(p.Elem(), depth-1)
			v.Set(p)
		}
	case reflect.Map:
		if g.r.IntN(5) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		if depth > 0 {
			for i := g.r.IntN(5); i > 0; i-- {
				m.SetMapIndex(g.value(v.Type().Key(), depth-1), g.value(v.Type().Elem(), depth-1))
			}
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if v.Type().Field(i).Name == "_" {
				continue
			}
			if !f.CanSet() {
				f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
			}
			g.fill(f, depth)
		}
	default:
		panic("gen: unsupported kind " + v.Kind().String())
	}
}
