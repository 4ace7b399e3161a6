package stream

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// handles are the state handles of one backend, driven identically for heap and pebble.
type handles struct {
	b      *state.KeyedBackend
	value  ValueState[int64]
	list   ListState[string]
	mp     MapState[string, int64]
	red    ReducingState[int64]
	tvalue ValueState[int64]
	tlist  ListState[string]
	tmap   MapState[string, int64]
}

func newHandles(t *testing.T, pebble bool, clk clock) *handles {
	t.Helper()
	b := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	if pebble {
		if err := b.UsePebble(state.PebbleConfig{Dir: filepath.Join(t.TempDir(), "pebble"), MemTableSize: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	h := &handles{b: b}
	vt, err := state.GetTable(b, "value", serde.MustFor[int64]())
	must(err)
	lt, err := state.GetTable(b, "list", serde.MustFor[[]string]())
	must(err)
	mt, err := state.GetTable(b, "map", serde.MustFor[map[string]int64]())
	must(err)
	rt, err := state.GetTable(b, "reducing", serde.MustFor[int64]())
	must(err)
	tvt, err := state.GetTable(b, "tvalue", serde.MustFor[ttlValue[int64]]())
	must(err)
	tlt, err := state.GetTable(b, "tlist", serde.MustFor[[]ttlValue[string]]())
	must(err)
	tmt, err := state.GetTable(b, "tmap", serde.MustFor[map[string]ttlValue[int64]]())
	must(err)
	h.value = valueState[int64]{vt}
	h.list = listState[string]{lt}
	h.mp = mapState[string, int64]{mt}
	h.red = reducingState[int64]{t: rt, fn: func(a, b int64) int64 { return a + b }}
	h.tvalue = ttlValueState[int64]{t: tvt, ttl: StateTTL{TTL: 50 * time.Millisecond, UpdateOnRead: true}, clk: clk}
	h.tlist = ttlListState[string]{t: tlt, ttl: StateTTL{TTL: 30 * time.Millisecond}, clk: clk}
	h.tmap = ttlMapState[string, int64]{t: tmt, ttl: StateTTL{TTL: 40 * time.Millisecond, UpdateOnRead: true}, clk: clk}
	return h
}

func sortedMap(m MapState[string, int64]) []string {
	var out []string
	for k, v := range m.All() {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

// observe returns everything the handles show for the current key.
func (h *handles) observe() string {
	v, vok := h.value.Value()
	r, rok := h.red.Get()
	tv, tvok := h.tvalue.Value()
	return fmt.Sprintf("value %d %v | list %v | map %v len %d | red %d %v | tvalue %d %v | tlist %v | tmap %v len %d",
		v, vok, h.list.Get(), sortedMap(h.mp), h.mp.Len(), r, rok, tv, tvok, h.tlist.Get(), sortedMap(h.tmap), h.tmap.Len())
}

// TestStateHandlesPebbleMatchHeap runs the same random operations on every kind of state
// handle (value, list, map, reducing, and the TTL variants with a shared fake clock) over a heap
// and a Pebble backend: what the handles return agrees after every operation. This checks in
// particular that handles changing a value in place write it back for Pebble.
func TestStateHandlesPebbleMatchHeap(t *testing.T) {
	clk := &fakeClock{t: 1000}
	heap, peb := newHandles(t, false, clk), newHandles(t, true, clk)
	kc := serde.MustFor[string]()
	r := rand.New(rand.NewPCG(3, 4))
	ops := 15000
	if testing.Short() {
		ops = 3000
	}
	for i := 0; i < ops; i++ {
		key := kc.Append(nil, fmt.Sprintf("k%d", r.IntN(40)))
		heap.b.SetCurrentKey(key)
		peb.b.SetCurrentKey(key)
		clk.t += int64(r.IntN(5))
		uk := fmt.Sprintf("u%d", r.IntN(6))
		n := r.Int64N(100)
		op := r.IntN(16)
		clearAll := r.IntN(20) == 0
		for _, h := range []*handles{heap, peb} {
			switch op {
			case 0:
				h.value.Update(n)
			case 1:
				h.value.Clear()
			case 2:
				h.list.Add(uk)
			case 3:
				h.list.Update([]string{uk, uk})
			case 4:
				h.mp.Put(uk, n)
			case 5:
				h.mp.Remove(uk)
			case 6:
				h.red.Add(n)
			case 7:
				h.red.Clear()
			case 8:
				h.tvalue.Update(n)
			case 9:
				h.tlist.Add(uk)
			case 10:
				h.tmap.Put(uk, n)
			case 11:
				h.tmap.Remove(uk)
			case 12:
				h.tmap.Get(uk) // renews on read
			case 13:
				if clearAll {
					h.mp.Clear()
					h.tmap.Clear()
					h.list.Clear()
				}
			}
		}
		if got, want := peb.observe(), heap.observe(); got != want {
			t.Fatalf("op %d (%d) on key %q:\npebble %s\nheap   %s", i, op, key, got, want)
		}
	}
	// The canonical snapshots agree too (same names, same entries).
	hs, err := heap.b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := peb.b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != len(ps) {
		t.Fatalf("snapshot sizes differ: heap %d, pebble %d bytes", len(hs), len(ps))
	}
}
