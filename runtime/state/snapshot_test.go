package state

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

func fill(t *testing.T, b *KeyedBackend, keys int) {
	t.Helper()
	kc := serde.MustFor[string]()
	tbl, err := GetTable(b, "count", serde.MustFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < keys; i++ {
		k := kc.Append(nil, fmt.Sprintf("key-%d", i))
		b.SetCurrentKey(k)
		tbl.Put(nil, int64(i))
		tbl.Put([]byte{1, 2}, int64(-i)) // a namespaced entry
		b.EventTimers.Add(Timer{Timestamp: int64(i), Key: string(k), Namespace: "w"})
	}
}

func keyLen(c []byte) int {
	_, n, err := serde.MustFor[string]().Decode(c)
	if err != nil {
		return -1
	}
	return n
}

// TestSnapshotRescale: snapshots of 2 subtasks restored into 3 (and into 1) keep every entry and
// timer exactly once, each in the subtask owning its key group.
func TestSnapshotRescale(t *testing.T) {
	const maxPar, keys = 128, 1000
	var snaps [][]byte
	for sub := 0; sub < 2; sub++ {
		b := NewKeyedBackend(maxPar, serde.KeyGroupRangeFor(maxPar, 2, sub))
		b.SetKeyLength(keyLen)
		fill(t, b, keys) // every key, so the restore's key-group filter is what splits them
		s, err := b.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	for _, newPar := range []int{1, 3} {
		seen := map[string]int{}
		timers := 0
		for sub := 0; sub < newPar; sub++ {
			b := NewKeyedBackend(maxPar, serde.KeyGroupRangeFor(maxPar, newPar, sub))
			b.SetKeyLength(keyLen)
			// Restore only the first snapshot (it holds all keys) to check the key-group filter.
			if err := b.Restore(snaps[0]); err != nil {
				t.Fatal(err)
			}
			tbl, err := GetTable(b, "count", serde.MustFor[int64]())
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := tbl.SortedEntries()
			for _, k := range keys {
				kg := serde.KeyGroupOf([]byte(k)[:keyLen([]byte(k))], maxPar)
				r := b.KeyGroups()
				if kg < r.Start || kg > r.End {
					t.Fatalf("subtask %d/%d got key group %d outside %v", sub, newPar, kg, r)
				}
				seen[k]++
			}
			timers += b.EventTimers.Len()
		}
		if len(seen) != 2*keys || timers != keys {
			t.Fatalf("p=%d: %d entries, %d timers; want %d, %d", newPar, len(seen), timers, 2*keys, keys)
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("entry %q restored %d times", k, n)
			}
		}
	}
}

func TestSnapshotCorruption(t *testing.T) {
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	b.SetKeyLength(keyLen)
	fill(t, b, 50)
	s, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": s[:len(s)/2],
		"flipped":   append(append([]byte(nil), s[:20]...), append([]byte{s[20] ^ 0xff}, s[21:]...)...),
		"empty":     nil,
	} {
		err := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)).Restore(data)
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: got %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

func FuzzRestore(f *testing.F) {
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	kc := serde.MustFor[string]()
	tbl, _ := GetTable(b, "s", serde.MustFor[int64]())
	b.SetCurrentKey(kc.Append(nil, "k"))
	tbl.Put(nil, 7)
	s, _ := b.Snapshot()
	f.Add(s)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)).Restore(data)
	})
}
