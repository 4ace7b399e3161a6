package serde

import (
	"fmt"
	"testing"
)

// Published MurmurHash3 x86_32 vectors (SMHasher reference results as reproduced by mmh3,
// Boost.Hash2 and other ports).
func TestMurmur3Vectors(t *testing.T) {
	cases := []struct {
		seed uint32
		in   string
		want uint32
	}{
		{0, "", 0},
		{1, "", 0x514e28b7},
		{0xffffffff, "", 0x81f16f39},
		{42, "", 0x087fcd5c},
		{0, "R", 0x79b365c1},
		{5489776, "mB", 0xe70207f0},
		{0, "[)<{vbjRgcp", 0x100949f7},
		{0, "Hello world", 2911983372},
		{1234, "Turn me into a hash", 4138100590},
		{42, "Life, the Universe, and Everything.", 458076548},
		{42, "Life, the Universe, and Everything. There is an answer. But, I'll have to think about it.", 150807855},
	}
	for _, c := range cases {
		if got := Murmur3Sum32([]byte(c.in), c.seed); got != c.want {
			t.Errorf("Murmur3Sum32(%q, %d) = %#x, want %#x", c.in, c.seed, got, c.want)
		}
	}
}

// TestKeyGroupOfGolden pins key-group assignment: changing it would scatter the state of
// existing savepoints over the wrong subtasks.
func TestKeyGroupOfGolden(t *testing.T) {
	sc := MustFor[string]()
	ic := MustFor[int64]()
	cases := []struct {
		key  []byte
		maxP int
		want int
	}{
		{sc.Append(nil, "hello"), 128, int(Murmur3Sum32([]byte("\x05hello"), 0) % 128)},
		{nil, 128, 0},
		{[]byte("Hello world"), 128, int(2911983372 % 128)},
		{[]byte("Hello world"), 1, 0},
		{[]byte("Hello world"), 32768, int(2911983372 % 32768)},
		{ic.Append(nil, 42), 128, int(Murmur3Sum32([]byte{84}, 0) % 128)},
	}
	for _, c := range cases {
		if got := KeyGroupOf(c.key, c.maxP); got != c.want {
			t.Errorf("KeyGroupOf(% x, %d) = %d, want %d", c.key, c.maxP, got, c.want)
		}
	}
	for _, bad := range []int{0, -1, UpperBoundMaxParallelism + 1} {
		if got := KeyGroupOf([]byte("k"), bad); got != -1 {
			t.Errorf("KeyGroupOf with max parallelism %d = %d, want -1", bad, got)
		}
	}
}

func TestKeyGroupRangesPartitionAndAgree(t *testing.T) {
	for _, maxP := range []int{1, 2, 7, 128, 129, 1000, 32768} {
		for _, p := range []int{1, 2, 3, 5, 7, 16, 100, maxP} {
			if p > maxP {
				continue
			}
			next := 0
			for s := 0; s < p; s++ {
				r := KeyGroupRangeFor(maxP, p, s)
				if r.Start != next {
					t.Fatalf("maxP %d p %d subtask %d: range %v does not start at %d", maxP, p, s, r, next)
				}
				if r.Len() < maxP/p || r.Len() > maxP/p+1 {
					t.Fatalf("maxP %d p %d subtask %d: unbalanced range %v", maxP, p, s, r)
				}
				for kg := r.Start; kg <= r.End; kg++ {
					if got := SubtaskForKeyGroup(maxP, p, kg); got != s {
						t.Fatalf("maxP %d p %d: key group %d in range of %d but SubtaskForKeyGroup says %d", maxP, p, kg, s, got)
					}
				}
				next = r.End + 1
			}
			if next != maxP {
				t.Fatalf("maxP %d p %d: ranges cover [0,%d), want [0,%d)", maxP, p, next, maxP)
			}
		}
	}
}

// TestFlinkRanges compares with ranges Flink computes (KeyGroupRangeAssignmentTest values).
func TestFlinkRanges(t *testing.T) {
	cases := []struct {
		maxP, p, s int
		want       KeyGroupRange
	}{
		{128, 1, 0, KeyGroupRange{0, 127}},
		{128, 2, 0, KeyGroupRange{0, 63}},
		{128, 2, 1, KeyGroupRange{64, 127}},
		{128, 3, 0, KeyGroupRange{0, 42}},
		{128, 3, 1, KeyGroupRange{43, 85}},
		{128, 3, 2, KeyGroupRange{86, 127}},
		{10, 4, 0, KeyGroupRange{0, 2}},
		{10, 4, 1, KeyGroupRange{3, 4}},
		{10, 4, 2, KeyGroupRange{5, 7}},
		{10, 4, 3, KeyGroupRange{8, 9}},
	}
	for _, c := range cases {
		if got := KeyGroupRangeFor(c.maxP, c.p, c.s); got != c.want {
			t.Errorf("KeyGroupRangeFor(%d, %d, %d) = %v, want %v", c.maxP, c.p, c.s, got, c.want)
		}
	}
	if got := KeyGroupRangeFor(128, 2, 1).String(); got != "KeyGroupRange{start=64, end=127}" {
		t.Errorf("String() = %s", got)
	}
}

func TestKeyGroupInvalidArguments(t *testing.T) {
	bad := [][3]int{{0, 1, 0}, {128, 0, 0}, {128, 129, 0}, {128, 2, 2}, {128, 2, -1}, {UpperBoundMaxParallelism * 2, 1, 0}}
	for _, b := range bad {
		if r := KeyGroupRangeFor(b[0], b[1], b[2]); r != EmptyKeyGroupRange || r.Len() != 0 {
			t.Errorf("KeyGroupRangeFor%v = %v, want empty", b, r)
		}
	}
	if SubtaskForKeyGroup(128, 2, 128) != -1 || SubtaskForKeyGroup(128, 2, -1) != -1 || SubtaskForKeyGroup(128, 0, 5) != -1 {
		t.Error("SubtaskForKeyGroup accepted invalid arguments")
	}
	if err := CheckParallelism(128, 200); err == nil {
		t.Error("CheckParallelism(128, 200) passed")
	}
	if err := CheckParallelism(128, 4); err != nil {
		t.Error(err)
	}
	if r := (KeyGroupRange{3, 5}); !r.Contains(3) || !r.Contains(5) || r.Contains(6) || r.Contains(2) || r.Len() != 3 {
		t.Error("KeyGroupRange Contains/Len")
	}
}

func TestDefaultMaxParallelismFor(t *testing.T) {
	cases := map[int]int{0: 128, 1: 128, 85: 128, 86: 256, 100: 256, 171: 256, 172: 512, 1000: 2048, 30000: 32768}
	for p, want := range cases {
		if got := DefaultMaxParallelismFor(p); got != want {
			t.Errorf("DefaultMaxParallelismFor(%d) = %d, want %d", p, got, want)
		}
	}
}

// TestKeyGroupSpread checks that sequential integer and string keys spread evenly: no key
// group gets more than twice its fair share of 100 000 keys.
func TestKeyGroupSpread(t *testing.T) {
	const n, maxP = 100000, 128
	ic, sc := MustFor[int64](), MustFor[string]()
	for name, enc := range map[string]func(i int, b []byte) []byte{
		"int64":  func(i int, b []byte) []byte { return ic.Append(b, int64(i)) },
		"string": func(i int, b []byte) []byte { return sc.Append(b, fmt.Sprintf("user-%d", i)) },
	} {
		var counts [maxP]int
		var buf []byte
		for i := 0; i < n; i++ {
			buf = enc(i, buf[:0])
			counts[KeyGroupOf(buf, maxP)]++
		}
		for kg, c := range counts {
			if c > 2*n/maxP || c < n/maxP/2 {
				t.Errorf("%s keys: key group %d holds %d of %d", name, kg, c, n)
			}
		}
	}
}
