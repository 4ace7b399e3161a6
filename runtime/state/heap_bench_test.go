package state

import (
	"fmt"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
)

// benchKeys returns n serialized string keys.
func benchKeys(n int) [][]byte {
	kc := serde.MustFor[string]()
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = kc.Append(nil, fmt.Sprintf("key-%d", i))
	}
	return keys
}

// BenchmarkHeapAccess measures steady-state Get and Put (no snapshot running) on a heap table
// of 1M keys: SetCurrentKey + one access, keys visited in a scattered order.
func BenchmarkHeapAccess(b *testing.B) {
	const n = 1_000_000
	keys := benchKeys(n)
	be := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	tbl, err := GetTable(be, "count", serde.MustFor[int64]())
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		be.SetCurrentKey(k)
		tbl.Put(nil, int64(i))
	}
	b.Run("get", func(b *testing.B) {
		var sum int64
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			v, _ := tbl.Get(nil)
			sum += v
		}
		_ = sum
	})
	b.Run("put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			tbl.Put(nil, int64(i))
		}
	})
	b.Run("get+put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			v, _ := tbl.Get(nil)
			tbl.Put(nil, v+1)
		}
	})
}

// BenchmarkHeapAccessBaseline is BenchmarkHeapAccess on the layout the heap backend had before
// copy-on-write snapshots (one map[string]V per table, no key-group split, no versions), run
// in the same binary so the two compare under the same machine load.
func BenchmarkHeapAccessBaseline(b *testing.B) {
	const n = 1_000_000
	keys := benchKeys(n)
	be := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	m := map[string]int64{}
	for i, k := range keys {
		be.SetCurrentKey(k)
		m[string(be.compositeKey(nil))] = int64(i)
	}
	b.Run("get", func(b *testing.B) {
		var sum int64
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			v := m[string(be.compositeKey(nil))]
			sum += v
		}
		_ = sum
	})
	b.Run("put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			m[string(be.compositeKey(nil))] = int64(i)
		}
	})
	b.Run("get+put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			k := be.compositeKey(nil)
			v := m[string(k)]
			m[string(k)] = v + 1
		}
	})
}

// BenchmarkHeapSnapshotPause compares what a checkpoint costs the task goroutine for 1M keys
// with 100-byte values: "serialize" is capture plus serialization (what performCheckpoint did
// before), "capture" is SnapshotAsync alone (what it does now). "put-during-snapshot" is the
// cost of Puts while a snapshot is running (first writes per key group copy its map).
func BenchmarkHeapSnapshotPause(b *testing.B) {
	const n, size = 1_000_000, 100
	keys := benchKeys(n)
	be := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	tbl, err := GetTable(be, "v", serde.MustFor[[]byte]())
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		be.SetCurrentKey(k)
		v := make([]byte, size)
		v[0] = byte(i)
		tbl.Put(nil, v)
	}
	b.Run("serialize", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, err := be.SnapshotAsync()
			if err != nil {
				b.Fatal(err)
			}
			data, err := s.Bytes()
			s.Release()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
		}
	})
	b.Run("capture", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, err := be.SnapshotAsync()
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			s.Release()
			b.StartTimer()
		}
	})
	b.Run("put-during-snapshot", func(b *testing.B) {
		s, err := be.SnapshotAsync()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Release()
		v := make([]byte, size)
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			tbl.Put(nil, v)
		}
	})
	b.Run("put-no-snapshot", func(b *testing.B) {
		v := make([]byte, size)
		for i := 0; i < b.N; i++ {
			be.SetCurrentKey(keys[(i*7919)%n])
			tbl.Put(nil, v)
		}
	})
}

// threadCPU returns the CPU time the calling OS thread has used (RUSAGE_THREAD): on a shared,
// oversubscribed machine it varies far less than wall time.
func threadCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHeapAccessInterleaved compares steady-state access cost (no snapshot running) of
// the copy-on-write tables with the previous layout (one plain map per table) in alternating
// blocks on one locked OS thread, measuring thread CPU time per operation; it reports the
// median of 15 blocks per variant. Run with -benchtime=1x. The baseline inlines the map
// access (no method call, no Pebble-mode check), so it is slightly faster than the old Table.
func BenchmarkHeapAccessInterleaved(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) { heapAccessInterleaved(b, n) })
	}
}

func heapAccessInterleaved(b *testing.B, n int) {
	const block, blocks = 300_000, 15
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	keys := benchKeys(n)
	be := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	ti, err := GetTable(be, "int64", serde.MustFor[int64]())
	if err != nil {
		b.Fatal(err)
	}
	tb, err := GetTable(be, "bytes", serde.MustFor[[]byte]())
	if err != nil {
		b.Fatal(err)
	}
	mi, mb := map[string]int64{}, map[string][]byte{}
	val := make([]byte, 100)
	for i, k := range keys {
		be.SetCurrentKey(k)
		ti.Put(nil, int64(i))
		tb.Put(nil, val)
		mi[string(k)] = int64(i)
		mb[string(k)] = val
	}
	var sink int64
	variants := []struct {
		name string
		op   func(i int)
	}{
		{"base-int64-get+put", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			k := be.compositeKey(nil)
			v := mi[string(k)]
			mi[string(k)] = v + 1
		}},
		{"cow-int64-get+put", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			v, _ := ti.Get(nil)
			ti.Put(nil, v+1)
		}},
		{"base-bytes-get", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			sink += int64(len(mb[string(be.compositeKey(nil))]))
		}},
		{"cow-bytes-get", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			v, _ := tb.Get(nil)
			sink += int64(len(v))
		}},
		{"base-bytes-put", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			mb[string(be.compositeKey(nil))] = val
		}},
		{"cow-bytes-put", func(i int) {
			be.SetCurrentKey(keys[(i*7919)%n])
			tb.Put(nil, val)
		}},
	}
	per := make([][]float64, len(variants))
	b.ResetTimer()
	for r := 0; r < blocks; r++ {
		// Pairs (base, cow) run back to back on the same keys; the pair order alternates and
		// the pairs rotate, so neither variant always runs on keys the other warmed.
		for j := range variants {
			vi := (j + 2*r) % len(variants)
			if r%2 == 1 {
				vi ^= 1
			}
			v := variants[vi]
			start := threadCPU(b)
			for i := r * block; i < (r+1)*block; i++ {
				v.op(i)
			}
			per[vi] = append(per[vi], float64(threadCPU(b)-start)/block)
		}
	}
	for vi, v := range variants {
		sort.Float64s(per[vi])
		b.ReportMetric(per[vi][blocks/2], v.name+"-cpu-ns/op")
	}
	_ = sink
}
