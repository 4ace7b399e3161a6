package seqsplit

import (
	"math/rand/v2"
	"testing"
)

func TestFreshInterleaved(t *testing.T) {
	for p := 1; p <= 5; p++ {
		seen := make([]int, 23)
		for k := 0; k < p; k++ {
			c, err := New(k, p, 23)
			if err != nil {
				t.Fatal(err)
			}
			last := int64(-1)
			for {
				i, ok := c.Next()
				if !ok {
					break
				}
				if i%int64(p) != int64(k) || i <= last {
					t.Fatalf("p=%d k=%d got %d after %d", p, k, i, last)
				}
				last = i
				seen[i]++
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("p=%d index %d emitted %d times", p, i, n)
			}
		}
	}
}

// TestRescaleChains runs random chains of snapshot/restore at changing parallelism and checks
// that every index is emitted exactly once overall.
func TestRescaleChains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		limit := int64(rng.IntN(400))
		seen := make([]int, limit)
		var states [][]byte
		p := 1 + rng.IntN(6)
		for round := 0; round < 5; round++ {
			var next [][]byte
			for k := 0; k < p; k++ {
				c, err := Restore(k, p, limit, states)
				if err != nil {
					t.Fatalf("trial %d round %d: %v", trial, round, err)
				}
				steps := rng.IntN(60)
				if round == 4 {
					steps = int(limit) + 1
				}
				for s := 0; s < steps; s++ {
					i, ok := c.Next()
					if !ok {
						break
					}
					seen[i]++
				}
				next = append(next, c.Snapshot())
			}
			rng.Shuffle(len(next), func(a, b int) { next[a], next[b] = next[b], next[a] })
			states = next
			p = 1 + rng.IntN(6)
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("trial %d: index %d emitted %d times", trial, i, n)
			}
		}
	}
}

func TestRestoreErrors(t *testing.T) {
	a, _ := New(0, 2, 10)
	if _, err := Restore(0, 1, 10, [][]byte{a.Snapshot()}); err == nil {
		t.Fatal("missing subtask state accepted")
	}
	if _, err := Restore(0, 1, 10, [][]byte{{1, 2, 3}}); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := Restore(0, 1, 10, [][]byte{a.Snapshot(), a.Snapshot()}); err == nil {
		t.Fatal("duplicate subtask state accepted")
	}
	if _, err := New(3, 2, 10); err == nil {
		t.Fatal("subtask out of range accepted")
	}
}

func TestSteadyStateHasNoLayers(t *testing.T) {
	var states [][]byte
	for k := 0; k < 3; k++ {
		c, _ := New(k, 3, Unbounded)
		for j := 0; j < 10+k; j++ {
			c.Next()
		}
		states = append(states, c.Snapshot())
	}
	c, err := Restore(0, 2, Unbounded, states)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 100; j++ {
		c.Next()
	}
	if len(c.layers) != 0 {
		t.Fatalf("layers not dropped: %d", len(c.layers))
	}
}

func BenchmarkNext(b *testing.B) {
	c, _ := New(0, 1, Unbounded)
	for b.Loop() {
		c.Next()
	}
}

// TestLaggingSubtaskRestoreIsFast: one old subtask far ahead of another must not make the
// restored cursor step through every emitted index.
func TestLaggingSubtaskRestoreIsFast(t *testing.T) {
	a, _ := New(0, 2, Unbounded)
	b, _ := New(1, 2, Unbounded)
	a.next = 2_000_000_000 // subtask 0 emitted a billion indexes, subtask 1 none
	states := [][]byte{a.Snapshot(), b.Snapshot()}
	c, err := Restore(0, 2, Unbounded, states)
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := c.Next(); i != 2_000_000_000 {
		t.Fatalf("first index %d", i)
	}
	c4, _ := Restore(2, 4, Unbounded, states) // scale-up by a multiple: also jumps
	if i, _ := c4.Next(); i != 2_000_000_002 {
		t.Fatalf("first index at p=4: %d", i)
	}
	c1, _ := Restore(0, 1, Unbounded, states) // p=1: 1, 3, 5, ... interleaved with done evens
	for _, want := range []int64{1, 3, 5} {
		if i, _ := c1.Next(); i != want {
			t.Fatalf("p=1: got %d want %d", i, want)
		}
	}
}

func TestLaggingSubtaskRestoreIsFastNonMultiple(t *testing.T) {
	var states [][]byte
	for k := 0; k < 4; k++ {
		c, _ := New(k, 4, Unbounded)
		if k != 3 {
			c.next = int64(4_000_000_000 + k) // subtasks 0..2 far ahead, 3 lagging
		}
		states = append(states, c.Snapshot())
	}
	c, err := Restore(0, 2, Unbounded, states) // candidates 0,2,4,... hit residues 0 and 2 only
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := c.Next(); i != 4_000_000_000 {
		t.Fatalf("first index %d", i)
	}
	c3, _ := Restore(1, 3, Unbounded, states) // 1,4,7,10,...: residue 3 candidates (7, 19, ...) are not done
	if i, _ := c3.Next(); i != 7 {
		t.Fatalf("first index at p=3: %d", i)
	}
}
