package stream

import (
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64 { return c.t }

func ttlBackend(t *testing.T) *state.KeyedBackend {
	b := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	b.SetCurrentKey(serde.MustFor[string]().Append(nil, "k"))
	return b
}

func TestValueStateTTL(t *testing.T) {
	b, clk := ttlBackend(t), &fakeClock{t: 1000}
	tbl, _ := state.GetTable(b, "v", serde.MustFor[ttlValue[int]]())
	s := ttlValueState[int]{t: tbl, ttl: StateTTL{TTL: 100 * time.Millisecond}, clk: clk}
	s.Update(7)
	clk.t = 1099
	if v, ok := s.Value(); !ok || v != 7 {
		t.Fatalf("before expiry: %v %v", v, ok)
	}
	clk.t = 1100
	if _, ok := s.Value(); ok {
		t.Fatal("expired value returned")
	}
	if tbl.Len() != 0 {
		t.Fatal("expired value not cleaned up on read")
	}
	// UpdateOnRead renews the entry.
	r := ttlValueState[int]{t: tbl, ttl: StateTTL{TTL: 100 * time.Millisecond, UpdateOnRead: true}, clk: clk}
	r.Update(1)
	clk.t = 1190
	r.Value()
	clk.t = 1250
	if _, ok := r.Value(); !ok {
		t.Fatal("a read should have renewed the entry")
	}
}

func TestListAndMapStateTTL(t *testing.T) {
	b, clk := ttlBackend(t), &fakeClock{t: 0}
	lt, _ := state.GetTable(b, "l", serde.MustFor[[]ttlValue[string]]())
	l := ttlListState[string]{t: lt, ttl: StateTTL{TTL: 10 * time.Millisecond}, clk: clk}
	l.Add("a")
	clk.t = 5
	l.Add("b")
	clk.t = 12
	if got := l.Get(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("list after the first element expired: %v", got)
	}
	clk.t = 20
	if got := l.Get(); got != nil || lt.Len() != 0 {
		t.Fatalf("list after all expired: %v", got)
	}
	mt, _ := state.GetTable(b, "m", serde.MustFor[map[string]ttlValue[int]]())
	m := ttlMapState[string, int]{t: mt, ttl: StateTTL{TTL: 10 * time.Millisecond}, clk: clk}
	m.Put("x", 1)
	clk.t = 25
	m.Put("y", 2)
	clk.t = 31
	if _, ok := m.Get("x"); ok {
		t.Fatal("expired map entry returned")
	}
	if v, ok := m.Get("y"); !ok || v != 2 || m.Len() != 1 {
		t.Fatalf("live map entry: %v %v len %d", v, ok, m.Len())
	}
	clk.t = 100
	if m.Len() != 0 || mt.Len() != 0 {
		t.Fatal("map not cleaned after all entries expired")
	}
}
