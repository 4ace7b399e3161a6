package serde

import (
	"reflect"
	"testing"
)

type deepList struct {
	V    int64
	Next *deepList
}

type mapOfDeep struct {
	Name string
	M    map[int]*deepList
	S    []*deepList
}

// TestStackGrowthDuringEncode encodes values whose encoding recurses deeply (so the goroutine's
// stack grows and moves) while a map iteration is in progress. The value being encoded lives on
// the caller's stack, so nothing the encoders keep during the call may point at it from the heap.
func TestStackGrowthDuringEncode(t *testing.T) {
	mk := func(n int) *deepList {
		var l *deepList
		for i := 0; i < n; i++ {
			l = &deepList{V: int64(i), Next: l}
		}
		return l
	}
	v := mapOfDeep{Name: "x", M: map[int]*deepList{}, S: []*deepList{mk(3000), nil}}
	for i := 0; i < 8; i++ {
		v.M[i] = mk(500 + 300*i)
	}
	c := MustFor[mapOfDeep]()
	for round := 0; round < 20; round++ {
		done := make(chan error)
		go func() { // a fresh goroutine starts with a small stack
			b := c.Append(nil, v)
			got, n, err := c.Decode(b)
			if err == nil && (n != len(b) || !reflect.DeepEqual(got, v)) {
				t.Errorf("round %d: decoded value differs", round)
			}
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentUse shares codecs between goroutines (run with -race): codecs must keep no
// per-call state.
func TestConcurrentUse(t *testing.T) {
	bc := MustFor[Bid]()
	nc := MustFor[Nested]()
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			g := newGen(uint64(100 + w))
			var buf []byte
			for i := 0; i < 200; i++ {
				b := g.value(reflect.TypeFor[Bid](), 1).Interface().(Bid)
				buf = bc.Append(buf[:0], b)
				if got, _, err := bc.Decode(buf); err != nil || got != b {
					t.Errorf("worker %d: Bid round trip failed: %v", w, err)
					return
				}
				n := g.value(reflect.TypeFor[Nested](), 2).Interface().(Nested)
				buf = nc.Append(buf[:0], n)
				if got, _, err := nc.Decode(buf); err != nil || !reflect.DeepEqual(got, n) {
					t.Errorf("worker %d: Nested round trip failed: %v", w, err)
					return
				}
			}
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}

// TestBatchedStrings covers both ways a struct's strings share one allocation: copying the
// input region that holds them (strings close together) and packing them (far apart).
func TestBatchedStrings(t *testing.T) {
	type Far struct {
		A   string
		Big [4096]byte
		B   string
		E   string
		C   string
	}
	type Near struct {
		A string
		N int64
		E string
		B string
	}
	far := Far{A: "alpha", B: "beta", C: "gamma"}
	far.Big[7] = 9
	fc := MustFor[Far]()
	fb := fc.Append(nil, far)
	var gotFar Far
	if a := testing.AllocsPerRun(50, func() { gotFar, _, _ = fc.Decode(fb) }); a != 1 {
		t.Errorf("Far: %v allocs, want 1", a)
	}
	if gotFar != far {
		t.Errorf("Far round trip: %+v", gotFar)
	}
	near := Near{A: "a", N: -5, B: "bbbb"}
	nc := MustFor[Near]()
	nb := nc.Append(nil, near)
	var gotNear Near
	if a := testing.AllocsPerRun(50, func() { gotNear, _, _ = nc.Decode(nb) }); a != 1 {
		t.Errorf("Near: %v allocs, want 1", a)
	}
	if gotNear != near {
		t.Errorf("Near round trip: %+v", gotNear)
	}
	// Decoded strings must not alias the input: scribbling over it leaves them intact.
	for i := range nb {
		nb[i] = 'X'
	}
	for i := range fb {
		fb[i] = 'X'
	}
	if gotNear != near || gotFar != far {
		t.Error("decoded strings alias the input buffer")
	}
	// All strings empty: no allocation at all.
	empty := nc.Append(nil, Near{N: 1})
	if a := testing.AllocsPerRun(50, func() { _, _, _ = nc.Decode(empty) }); a != 0 {
		t.Errorf("empty strings: %v allocs", a)
	}
}
