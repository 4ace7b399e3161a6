package stream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// cowStates holds one state of every kind on a heap backend: value, list, map, reducing,
// an aggregating accumulator changed in place, and the TTL variants.
type cowStates struct {
	b     *state.KeyedBackend
	clk   *fakeClock
	value ValueState[int]
	list  ListState[string]
	mp    MapState[string, int]
	red   ReducingState[int]
	agg   *state.Table[[]int64] // an accumulator its add function changes in place
	tv    ValueState[string]
	tl    ListState[int]
	tm    MapState[string, int]
}

func newCowStates(t *testing.T) *cowStates {
	t.Helper()
	s := &cowStates{b: state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)), clk: &fakeClock{t: 1000}}
	table := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	vt, err := state.GetTable(s.b, "value", serde.MustFor[int]())
	table(err)
	lt, err := state.GetTable(s.b, "list", serde.MustFor[[]string]())
	table(err)
	mt, err := state.GetTable(s.b, "map", serde.MustFor[map[string]int]())
	table(err)
	rt, err := state.GetTable(s.b, "reducing", serde.MustFor[int]())
	table(err)
	s.agg, err = state.GetTable(s.b, "aggregating", serde.MustFor[[]int64]())
	table(err)
	tvt, err := state.GetTable(s.b, "ttl-value", serde.MustFor[ttlValue[string]]())
	table(err)
	tlt, err := state.GetTable(s.b, "ttl-list", serde.MustFor[[]ttlValue[int]]())
	table(err)
	tmt, err := state.GetTable(s.b, "ttl-map", serde.MustFor[map[string]ttlValue[int]]())
	table(err)
	ttl := StateTTL{TTL: 100 * time.Millisecond}
	s.value, s.list, s.mp = valueState[int]{vt}, listState[string]{lt}, mapState[string, int]{mt}
	s.red = reducingState[int]{t: rt, fn: func(a, b int) int { return a + b }}
	s.tv = ttlValueState[string]{t: tvt, ttl: ttl, clk: s.clk}
	s.tl = ttlListState[int]{t: tlt, ttl: ttl, clk: s.clk}
	s.tm = ttlMapState[string, int]{t: tmt, ttl: StateTTL{TTL: 100 * time.Millisecond, UpdateOnRead: true}, clk: s.clk}
	return s
}

func (s *cowStates) key(k string) { s.b.SetCurrentKey(serde.MustFor[string]().Append(nil, k)) }

// aggAdd is an aggregate function's add that changes its accumulator in place.
func (s *cowStates) aggAdd(v int64) {
	acc, ok := s.agg.Get(nil)
	if !ok {
		acc = []int64{0, 0}
	}
	acc[0] += v
	acc[1]++
	s.agg.Put(nil, acc)
}

// round applies one round of changes to keys [0, n) at the current clock, then advances the
// clock by 60 ms so TTL entries written two rounds ago expire.
func (s *cowStates) round(r, n int) {
	for i := 0; i < n; i++ {
		s.key(fmt.Sprint("k", i))
		switch (i + r) % 3 {
		case 0:
			s.value.Update(r*100 + i)
			s.list.Add(fmt.Sprint(r))
			s.mp.Put(fmt.Sprint("m", r%4), i)
			s.tv.Update(fmt.Sprint("v", r))
			s.tl.Add(r)
			s.tm.Put(fmt.Sprint("t", r%3), r)
		case 1:
			s.value.Clear()
			s.mp.Remove(fmt.Sprint("m", (r+1)%4))
			s.tl.Get()     // drops expired elements (writes the list back)
			s.tv.Value()   // expired: deleted on read
			s.tm.Len()     // purges expired entries in place
			s.tm.Get("t0") // UpdateOnRead renews in place
		case 2:
			if l := s.list.Get(); len(l) > 0 {
				s.list.Update(append(l[1:], "rotated"))
			}
			s.tm.Remove(fmt.Sprint("t", (r+2)%3))
		}
		s.red.Add(i)
		s.aggAdd(int64(r))
	}
	s.clk.t += 60
}

// dumpStates restores FGKS bytes into a fresh backend and prints every table canonically.
func dumpStates(t *testing.T, data []byte) string {
	t.Helper()
	b := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	if err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	dumpTable(t, &sb, b, "value", serde.MustFor[int]())
	dumpTable(t, &sb, b, "list", serde.MustFor[[]string]())
	dumpTable(t, &sb, b, "map", serde.MustFor[map[string]int]())
	dumpTable(t, &sb, b, "reducing", serde.MustFor[int]())
	dumpTable(t, &sb, b, "aggregating", serde.MustFor[[]int64]())
	dumpTable(t, &sb, b, "ttl-value", serde.MustFor[ttlValue[string]]())
	dumpTable(t, &sb, b, "ttl-list", serde.MustFor[[]ttlValue[int]]())
	dumpTable(t, &sb, b, "ttl-map", serde.MustFor[map[string]ttlValue[int]]())
	return sb.String()
}

func dumpTable[V any](t *testing.T, sb *strings.Builder, b *state.KeyedBackend, name string, c serde.Codec[V]) {
	t.Helper()
	tbl, err := state.GetTable(b, name, c)
	if err != nil {
		t.Fatal(err)
	}
	ks, vs := tbl.SortedEntries()
	for i := range ks {
		fmt.Fprintf(sb, "%s %q=%v\n", name, ks[i], vs[i])
	}
}

func snapshotOf(t *testing.T, b *state.KeyedBackend) []byte {
	t.Helper()
	data, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestStateKindsCopyOnWriteSnapshot: with the heap backend's asynchronous snapshots, every
// state kind (value, list, map, reducing, an in-place aggregating accumulator, TTL value,
// list and map with expiry, purges and renewals) changed after SnapshotAsync leaves the
// snapshot at the barrier's state; the live state has every change (compared with a twin
// that received the same calls without a snapshot).
func TestStateKindsCopyOnWriteSnapshot(t *testing.T) {
	live, twin := newCowStates(t), newCowStates(t)
	const keys = 300
	for r := 0; r < 3; r++ {
		live.round(r, keys)
		twin.round(r, keys)
	}
	var snaps []*state.HeapSnapshot
	var wants []string
	for r := 3; r < 6; r++ { // three snapshots in flight, changes (and TTL expiry) in between
		wants = append(wants, dumpStates(t, snapshotOf(t, twin.b)))
		s, err := live.b.SnapshotAsync()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
		live.round(r, keys)
		twin.round(r, keys)
	}
	for i, s := range snaps {
		data, err := s.Bytes()
		s.Release()
		if err != nil {
			t.Fatal(err)
		}
		if got := dumpStates(t, data); got != wants[i] {
			t.Fatalf("snapshot %d differs from the state at its barrier:\n%s", i, firstDiff(got, wants[i]))
		}
	}
	if got, want := dumpStates(t, snapshotOf(t, live.b)), dumpStates(t, snapshotOf(t, twin.b)); got != want {
		t.Fatalf("live state differs from the twin's:\n%s", firstDiff(got, want))
	}
	if n := live.b.RunningSnapshots(); n != 0 {
		t.Fatalf("%d snapshots running after release", n)
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(g), len(w))
}
