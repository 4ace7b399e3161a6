package state

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
)

// cowFx is a heap backend with one table per value shape: an immutable value, a list and a map
// (both changed in place by their callers, as stream's list and map state do).
type cowFx struct {
	b    *KeyedBackend
	val  *Table[int64]
	list *Table[[]string]
	mp   *Table[map[string]int]
	kc   serde.Codec[string]
}

func newCowFx(t testing.TB) *cowFx {
	t.Helper()
	f := &cowFx{b: NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)), kc: serde.MustFor[string]()}
	var err error
	if f.val, err = GetTable(f.b, "value", serde.MustFor[int64]()); err != nil {
		t.Fatal(err)
	}
	if f.list, err = GetTable(f.b, "list", serde.MustFor[[]string]()); err != nil {
		t.Fatal(err)
	}
	if f.mp, err = GetTable(f.b, "map", serde.MustFor[map[string]int]()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *cowFx) key(k string) { f.b.SetCurrentKey(f.kc.Append(nil, k)) }

// listAdd appends as stream's listState.Add does (Get, append, Put).
func (f *cowFx) listAdd(v string) {
	l, _ := f.list.Get(nil)
	f.list.Put(nil, append(l, v))
}

// mapPut changes the map in place as stream's mapState.Put does in heap mode (no Put back).
func (f *cowFx) mapPut(k string, v int) {
	m, ok := f.mp.Get(nil)
	if !ok {
		f.mp.Put(nil, map[string]int{k: v})
		return
	}
	m[k] = v
}

// mapRemove deletes in place as mapState.Remove does.
func (f *cowFx) mapRemove(k string) {
	m, ok := f.mp.Get(nil)
	if !ok {
		return
	}
	delete(m, k)
	if len(m) == 0 {
		f.mp.Delete(nil)
	}
}

func (f *cowFx) timer(ts int64, ns string, event bool) Timer {
	return Timer{Timestamp: ts, Key: string(f.b.CurrentKey()), Namespace: ns}
}

// fill writes keys [from, to): every shape, a namespaced value, timers of both domains.
func (f *cowFx) fill(from, to int) {
	for i := from; i < to; i++ {
		f.key(fmt.Sprintf("k%d", i))
		f.val.Put(nil, int64(i))
		f.val.Put([]byte("ns"), int64(-i))
		f.listAdd(fmt.Sprint(i))
		f.mapPut("a", i)
		f.mapPut("b", 2*i)
		f.b.EventTimers.Add(f.timer(int64(100+i), "w", true))
		f.b.ProcTimers.Add(f.timer(int64(900-i), "", false))
	}
}

// mutate changes every entry kind for keys [from, to): updates, deletes, in-place changes of
// list and map values, new keys, timers registered, deleted and fired.
func (f *cowFx) mutate(round, from, to int) {
	for i := from; i < to; i++ {
		f.key(fmt.Sprintf("k%d", i))
		switch i % 5 {
		case 0:
			f.val.Put(nil, int64(1000*round+i))
			f.mapPut("a", -round)
		case 1:
			f.val.Delete(nil)
			f.val.Delete([]byte("ns"))
			f.list.Delete(nil)
			f.mapRemove("a")
		case 2:
			f.listAdd(fmt.Sprintf("r%d", round))
			if l, ok := f.list.Get(nil); ok {
				l[0] = fmt.Sprintf("overwritten-in-place-%d", round) // a caller changing a value in place
			}
			f.mapPut(fmt.Sprintf("new-%d", round), round)
		case 3:
			f.b.EventTimers.Remove(f.timer(int64(100+i), "w", true))
			f.b.ProcTimers.Add(f.timer(int64(10_000*round+i), "x", false))
		case 4:
			f.mapRemove("a")
			f.mapRemove("b")
		}
		// New keys.
		f.key(fmt.Sprintf("new-%d-%d", round, i))
		f.val.Put(nil, int64(round))
		f.mapPut("n", i)
	}
	// Fire some event timers (pops from the queue).
	for n := 0; n < (to-from)/10; n++ {
		if _, ok := f.b.EventTimers.PopDue(1 << 40); !ok {
			break
		}
	}
}

// dumpSnapshot restores an FGKS snapshot into a fresh backend and prints every entry and timer
// in a canonical order (maps printed sorted), so two snapshots of equal state compare equal
// even though map values encode in iteration order.
func dumpSnapshot(t testing.TB, data []byte) string {
	t.Helper()
	f := &cowFx{b: NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0)), kc: serde.MustFor[string]()}
	if err := f.b.Restore(data); err != nil {
		t.Fatalf("restore: %v", err)
	}
	var err error
	f.val, _ = GetTable(f.b, "value", serde.MustFor[int64]())
	f.list, _ = GetTable(f.b, "list", serde.MustFor[[]string]())
	if f.mp, err = GetTable(f.b, "map", serde.MustFor[map[string]int]()); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	ks, vs := f.val.SortedEntries()
	for i := range ks {
		fmt.Fprintf(&sb, "value %q=%d\n", ks[i], vs[i])
	}
	kl, vl := f.list.SortedEntries()
	for i := range kl {
		fmt.Fprintf(&sb, "list %q=%q\n", kl[i], vl[i])
	}
	km, vm := f.mp.SortedEntries()
	for i := range km {
		fmt.Fprintf(&sb, "map %q=%v\n", km[i], vm[i])
	}
	for _, tm := range f.b.EventTimers.All() {
		fmt.Fprintf(&sb, "event %v\n", tm)
	}
	for _, tm := range f.b.ProcTimers.All() {
		fmt.Fprintf(&sb, "proc %v\n", tm)
	}
	return sb.String()
}

func mustSnapshot(t testing.TB, b *KeyedBackend) []byte {
	t.Helper()
	data, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func diffDumps(t testing.TB, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			t.Fatalf("%s: first difference at line %d:\n got  %s\n want %s\n(%d vs %d lines)", what, i, a, b, len(g), len(w))
		}
	}
}

// TestHeapSnapshotSeesBarrierState: a snapshot written after the state was changed in every
// way (update, delete, in-place list/map changes, new keys, timers added, removed, fired)
// holds exactly the state at SnapshotAsync; the live state has every change. A twin backend
// receiving the same operations without a snapshot in between is the reference.
func TestHeapSnapshotSeesBarrierState(t *testing.T) {
	live, twin := newCowFx(t), newCowFx(t)
	live.fill(0, 600)
	twin.fill(0, 600)
	want := dumpSnapshot(t, mustSnapshot(t, twin.b))

	s, err := live.b.SnapshotAsync()
	if err != nil {
		t.Fatal(err)
	}
	live.mutate(1, 0, 600)
	got, err := s.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s.Release()
	diffDumps(t, "snapshot taken before the changes", dumpSnapshot(t, got), want)

	twin.mutate(1, 0, 600)
	diffDumps(t, "live state after the snapshot", dumpSnapshot(t, mustSnapshot(t, live.b)), dumpSnapshot(t, mustSnapshot(t, twin.b)))
	if live.b.RunningSnapshots() != 0 {
		t.Fatalf("%d snapshots still running after Release", live.b.RunningSnapshots())
	}
}

// TestHeapSnapshotConcurrent: three snapshots in flight at once (max concurrent checkpoints
// > 1), written concurrently with each other and with further changes on the task goroutine,
// released in another order than taken; each holds the state at its own barrier.
func TestHeapSnapshotConcurrent(t *testing.T) {
	live, twin := newCowFx(t), newCowFx(t)
	live.fill(0, 400)
	twin.fill(0, 400)
	var snaps []*HeapSnapshot
	var wants []string
	for round := 1; round <= 3; round++ {
		wants = append(wants, dumpSnapshot(t, mustSnapshot(t, twin.b)))
		s, err := live.b.SnapshotAsync()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
		live.mutate(round, (round-1)*100, 400)
		twin.mutate(round, (round-1)*100, 400)
	}
	if n := live.b.RunningSnapshots(); n != 3 {
		t.Fatalf("RunningSnapshots = %d, want 3", n)
	}
	got := make([][]byte, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for _, i := range []int{2, 0, 1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = snaps[i].Bytes()
			snaps[i].Release()
		}()
	}
	live.mutate(4, 0, 400) // the task keeps going while the snapshots are written
	twin.mutate(4, 0, 400)
	wg.Wait()
	for i := range snaps {
		if errs[i] != nil {
			t.Fatalf("snapshot %d: %v", i, errs[i])
		}
		diffDumps(t, fmt.Sprintf("snapshot %d", i), dumpSnapshot(t, got[i]), wants[i])
	}
	diffDumps(t, "live state", dumpSnapshot(t, mustSnapshot(t, live.b)), dumpSnapshot(t, mustSnapshot(t, twin.b)))
	if n := live.b.RunningSnapshots(); n != 0 {
		t.Fatalf("RunningSnapshots = %d after all releases", n)
	}
}

// TestHeapSnapshotReleaseWithoutWrite: a released snapshot (checkpoint declined or aborted)
// cannot be written, and once released the backend stops copying: no leak, no copy growth.
func TestHeapSnapshotReleaseWithoutWrite(t *testing.T) {
	f := newCowFx(t)
	f.fill(0, 200)
	f.key("k1")
	kg := f.b.CurrentKeyGroup()

	s, err := f.b.SnapshotAsync()
	if err != nil {
		t.Fatal(err)
	}
	before := f.b.clk.copies
	for i := 0; i < 1000; i++ {
		f.val.Put(nil, int64(i)) // one key group, many writes: one copy
	}
	if c := f.b.clk.copies - before; c != 1 {
		t.Fatalf("1000 writes to one key group during a snapshot copied %d maps, want 1", c)
	}
	s.Release()
	s.Release() // idempotent
	if _, err := s.Bytes(); !errors.Is(err, ErrSnapshotReleased) {
		t.Fatalf("Bytes after Release: %v, want ErrSnapshotReleased", err)
	}
	if n := f.b.RunningSnapshots(); n != 0 {
		t.Fatalf("RunningSnapshots = %d after Release", n)
	}
	m := reflect.ValueOf(f.val.heap.read(kg).m).UnsafePointer()
	before = f.b.clk.copies
	f.mutate(1, 0, 200)
	if c := f.b.clk.copies - before; c != 0 {
		t.Fatalf("%d key-group maps copied with no snapshot running", c)
	}
	if reflect.ValueOf(f.val.heap.read(kg).m).UnsafePointer() != m {
		t.Fatal("a key group's map was replaced with no snapshot running")
	}

	// Many snapshot/release cycles: copies per cycle stay bounded by the key groups written.
	for round := 0; round < 20; round++ {
		s, err := f.b.SnapshotAsync()
		if err != nil {
			t.Fatal(err)
		}
		before := f.b.clk.copies
		f.mutate(round+2, 0, 200)
		// 3 tables + 2 timer queues, at most one copy per key group each.
		if c := f.b.clk.copies - before; c > 5*128 {
			t.Fatalf("round %d: %d copies, more than one per key group and table", round, c)
		}
		s.Release()
	}
	if n := f.b.RunningSnapshots(); n != 0 {
		t.Fatalf("RunningSnapshots = %d", n)
	}
}

// TestHeapSnapshotGolden: the heap snapshot bytes equal those of the synchronous
// implementation this replaced (testdata generated by it): the FGKS v1 format is unchanged.
func TestHeapSnapshotGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fgks-v1-heap-golden.hex"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	b := goldenBackend(t)
	s, err := b.SnapshotAsync()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("snapshot bytes differ from the v1 golden file (%d vs %d bytes)", buf.Len(), len(want))
	}
	if sync, err := b.Snapshot(); err != nil || !bytes.Equal(sync, want) {
		t.Fatalf("Snapshot differs from the golden file (err %v)", err)
	}
}

// goldenBackend builds a small deterministic state covering every entry kind: value, list and
// map tables, namespaced entries, keys outside the backend's key groups, event and processing
// timers, and a restored state that is never registered again (kept as pending entries).
func goldenBackend(t testing.TB) *KeyedBackend {
	t.Helper()
	kc := serde.MustFor[string]()
	src := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	old, err := GetTable(src, "restored-only", serde.MustFor[string]())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		src.SetCurrentKey(kc.Append(nil, fmt.Sprintf("old-%d", i)))
		old.Put(nil, fmt.Sprintf("kept-%d", i))
	}
	data, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 2, 0)) // key groups 0-63
	b.SetKeyLength(keyLen)
	if err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	val, _ := GetTable(b, "value", serde.MustFor[int64]())
	list, _ := GetTable(b, "list", serde.MustFor[[]string]())
	mp, _ := GetTable(b, "map", serde.MustFor[map[string]int]())
	for i := 0; i < 40; i++ { // every key: about half fall outside 0-63
		b.SetCurrentKey(kc.Append(nil, fmt.Sprintf("key-%d", i)))
		val.Put(nil, int64(i*i))
		val.Put([]byte{0xee, byte(i)}, int64(-i))
		list.Put(nil, []string{"a", fmt.Sprint(i)})
		mp.Put(nil, map[string]int{"x": i})
		k := string(b.CurrentKey())
		b.EventTimers.Add(Timer{Timestamp: int64(1000 + i), Key: k, Namespace: "w"})
		b.ProcTimers.Add(Timer{Timestamp: int64(5000 - i), Key: k})
	}
	return b
}

// TestHeapSnapshotStandaloneTimerQueue: a queue made by NewTimerQueue and assigned to a
// backend has its own clock and grouping; snapshots still freeze it and group its timers by
// the backend's key groups.
func TestHeapSnapshotStandaloneTimerQueue(t *testing.T) {
	const maxPar = 128
	kc := serde.MustFor[string]()
	b := NewKeyedBackend(maxPar, serde.KeyGroupRangeFor(maxPar, 1, 0))
	b.EventTimers = NewTimerQueue()
	var keys []string
	for i := 0; i < 50; i++ {
		k := string(kc.Append(nil, fmt.Sprintf("t%d", i)))
		keys = append(keys, k)
		b.EventTimers.Add(Timer{Timestamp: int64(i), Key: k})
	}
	s, err := b.SnapshotAsync()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := b.EventTimers.PopDue(1 << 40); !ok {
			break
		}
	}
	b.EventTimers.Add(Timer{Timestamp: 7, Key: keys[0], Namespace: "after"})
	data, err := s.Bytes()
	s.Release()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = walkSnapshot(data, snapVisitor{timer: func(kg int, kind byte, ts int64, key, ns []byte) error {
		if want := serde.KeyGroupOf(key, maxPar); kg != want {
			return fmt.Errorf("timer of key %q in key group %d, want %d", key, kg, want)
		}
		got = append(got, fmt.Sprintf("%d/%s/%s", ts, key, ns))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("snapshot has %d timers, want the 50 registered at the snapshot", len(got))
	}
	sort.Strings(got)
	for _, g := range got {
		if strings.HasSuffix(g, "/after") {
			t.Fatalf("timer added after the snapshot is in it: %s", g)
		}
	}
	if b.EventTimers.Len() != 1 {
		t.Fatalf("live queue has %d timers, want 1", b.EventTimers.Len())
	}
}

// TestHeapSnapshotPebbleMode: SnapshotAsync is heap-only and says what to use instead.
func TestHeapSnapshotPebbleMode(t *testing.T) {
	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	if err := b.UsePebble(PebbleConfig{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.SnapshotAsync(); err == nil || !strings.Contains(err.Error(), "PreparePebbleCheckpoint") {
		t.Fatalf("SnapshotAsync in Pebble mode: %v", err)
	}
}

// TestHeapSnapshotRestoreDuringSnapshot: entries restored (or registered from pending) while a
// snapshot runs stay out of it.
func TestHeapSnapshotRegisterDuringSnapshot(t *testing.T) {
	src := newCowFx(t)
	src.fill(0, 50)
	data := mustSnapshot(t, src.b)
	want := dumpSnapshot(t, data)

	b := NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	if err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	s, err := b.SnapshotAsync() // all three states are still pending
	if err != nil {
		t.Fatal(err)
	}
	mp, err := GetTable(b, "map", serde.MustFor[map[string]int]())
	if err != nil {
		t.Fatal(err)
	}
	b.SetCurrentKey(serde.MustFor[string]().Append(nil, "k3"))
	m, _ := mp.Get(nil)
	m["in-place"] = 1
	mp.Put([]byte("x"), map[string]int{"new": 1})
	got, err := s.Bytes()
	s.Release()
	if err != nil {
		t.Fatal(err)
	}
	diffDumps(t, "snapshot of pending state", dumpSnapshot(t, got), want)
}

// TestHeapSnapshotRandomized runs seeded random operations on a live backend and a twin:
// state changes of every kind interleaved with snapshots taken, written (some concurrently
// with later changes), and released unwritten, in random order. Every written snapshot must
// hold the twin's state at the moment it was taken. The seed is printed on failure.
func TestHeapSnapshotRandomized(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { randomizedCOW(t, seed, 2000) })
	}
}

func randomizedCOW(t *testing.T, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 42))
	live, twin := newCowFx(t), newCowFx(t)
	type running struct {
		s    *HeapSnapshot
		want string
		step int
	}
	var open []running
	type result struct {
		data []byte
		err  error
		want string
		step int
	}
	var pending []chan result
	write := func(o running, async bool) {
		ch := make(chan result, 1)
		run := func() {
			data, err := o.s.Bytes()
			o.s.Release()
			ch <- result{data, err, o.want, o.step}
		}
		if async {
			go run()
		} else {
			run()
		}
		pending = append(pending, ch)
	}
	both := func(fn func(f *cowFx)) { fn(live); fn(twin) }
	for step := 0; step < steps; step++ {
		k := fmt.Sprintf("k%d", r.IntN(60))
		switch op := r.IntN(20); {
		case op < 4:
			v := int64(r.IntN(1000))
			both(func(f *cowFx) { f.key(k); f.val.Put(nil, v) })
		case op < 6:
			both(func(f *cowFx) { f.key(k); f.val.Delete(nil); f.list.Delete(nil) })
		case op < 9:
			e := fmt.Sprint("e", r.IntN(5))
			v := r.IntN(100)
			both(func(f *cowFx) { f.key(k); f.mapPut(e, v) })
		case op < 10:
			e := fmt.Sprint("e", r.IntN(5))
			both(func(f *cowFx) { f.key(k); f.mapRemove(e) })
		case op < 12:
			v := fmt.Sprint(step)
			both(func(f *cowFx) {
				f.key(k)
				f.listAdd(v)
				if l, ok := f.list.Get(nil); ok && len(l) > 1 {
					l[len(l)-2] = "changed-in-place-" + v
				}
			})
		case op < 14:
			ts := int64(r.IntN(500))
			both(func(f *cowFx) { f.key(k); f.b.EventTimers.Add(f.timer(ts, "w", true)) })
		case op < 15:
			upTo := int64(r.IntN(500))
			both(func(f *cowFx) { f.b.EventTimers.PopDue(upTo) })
		case op < 17:
			want := dumpSnapshot(t, mustSnapshot(t, twin.b))
			s, err := live.b.SnapshotAsync()
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, running{s, want, step})
		case op < 19 && len(open) > 0:
			i := r.IntN(len(open))
			o := open[i]
			open = append(open[:i], open[i+1:]...)
			write(o, r.IntN(2) == 0)
		case len(open) > 0:
			i := r.IntN(len(open))
			open[i].s.Release() // declined: never written
			open = append(open[:i], open[i+1:]...)
		}
	}
	for _, o := range open {
		write(o, true)
	}
	for _, ch := range pending {
		select {
		case res := <-ch:
			if res.err != nil {
				t.Fatalf("seed %d: snapshot of step %d: %v", seed, res.step, res.err)
			}
			if got := dumpSnapshot(t, res.data); got != res.want {
				diffDumps(t, fmt.Sprintf("seed %d: snapshot taken at step %d", seed, res.step), got, res.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("seed %d: a snapshot write did not finish within a minute", seed)
		}
	}
	diffDumps(t, fmt.Sprintf("seed %d: live state", seed), dumpSnapshot(t, mustSnapshot(t, live.b)), dumpSnapshot(t, mustSnapshot(t, twin.b)))
	if n := live.b.RunningSnapshots(); n != 0 {
		t.Fatalf("seed %d: %d snapshots still running", seed, n)
	}
}
