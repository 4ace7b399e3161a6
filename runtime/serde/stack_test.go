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
