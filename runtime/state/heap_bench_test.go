package state

import (
	"fmt"
	"testing"

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
