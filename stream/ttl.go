package stream

import (
	"iter"
	"time"

	"github.com/flink-go/flink-go/runtime/state"
)

// StateTTL makes keyed state expire a while after it was written (Flink's StateTtlConfig). Time
// is processing time. Expired entries are never returned (unless ReturnExpired) and are removed
// when they are read; snapshots keep what has not been read since it expired.
type StateTTL struct {
	// TTL is how long an entry lives after its last write (or read, with UpdateOnRead).
	TTL time.Duration
	// UpdateOnRead also renews the entry when it is read (OnReadAndWrite); the default renews
	// on create and write only.
	UpdateOnRead bool
	// ReturnExpired returns expired entries not yet cleaned up (ReturnExpiredIfNotCleanedUp).
	ReturnExpired bool
}

// ttlValue is a state value with its expiry (processing time, ms).
type ttlValue[V any] struct {
	Value  V
	Expiry int64
}

func (b *keyedBase[K]) now() int64 { return b.ctx.ProcessingTime() }

type clock interface{ now() int64 }

func (t StateTTL) expired(e int64, now int64) bool { return !t.ReturnExpired && now >= e }
func (t StateTTL) expiry(now int64) int64          { return now + t.TTL.Milliseconds() }

type ttlValueState[V any] struct {
	t   *state.Table[ttlValue[V]]
	ttl StateTTL
	clk clock
}

func (s ttlValueState[V]) Value() (V, bool) {
	var zero V
	e, ok := s.t.Get(nil)
	if !ok {
		return zero, false
	}
	now := s.clk.now()
	if s.ttl.expired(e.Expiry, now) {
		s.t.Delete(nil)
		return zero, false
	}
	if s.ttl.UpdateOnRead {
		e.Expiry = s.ttl.expiry(now)
		s.t.Put(nil, e)
	}
	return e.Value, true
}
func (s ttlValueState[V]) Update(v V) {
	s.t.Put(nil, ttlValue[V]{Value: v, Expiry: s.ttl.expiry(s.clk.now())})
}
func (s ttlValueState[V]) Clear() { s.t.Delete(nil) }

// GetValueStateTTL is GetValueState whose value expires per ttl.
func GetValueStateTTL[V any](c StateContext, name string, ttl StateTTL) ValueState[V] {
	return lookupState(c, "value-ttl", name, func(b *state.KeyedBackend) (ValueState[V], error) {
		t, err := state.GetTable(b, name, codecOrFail[ttlValue[V]](name))
		return ttlValueState[V]{t: t, ttl: ttl, clk: c.stateBase().(clock)}, err
	})
}

type ttlListState[V any] struct {
	t   *state.Table[[]ttlValue[V]]
	ttl StateTTL
	clk clock
}

// live returns the unexpired elements, writing the list back when some expired.
func (s ttlListState[V]) live() []ttlValue[V] {
	l, _ := s.t.Get(nil)
	now := s.clk.now()
	kept := l[:0:0]
	for _, e := range l {
		if !s.ttl.expired(e.Expiry, now) {
			if s.ttl.UpdateOnRead {
				e.Expiry = s.ttl.expiry(now)
			}
			kept = append(kept, e)
		}
	}
	switch {
	case len(kept) == 0 && len(l) > 0:
		s.t.Delete(nil)
	case len(kept) != len(l) || s.ttl.UpdateOnRead:
		s.t.Put(nil, kept)
	}
	return kept
}

func (s ttlListState[V]) Get() []V {
	l := s.live()
	if len(l) == 0 {
		return nil
	}
	out := make([]V, len(l))
	for i, e := range l {
		out[i] = e.Value
	}
	return out
}
func (s ttlListState[V]) Add(v V) {
	l, _ := s.t.Get(nil)
	s.t.Put(nil, append(l, ttlValue[V]{Value: v, Expiry: s.ttl.expiry(s.clk.now())}))
}
func (s ttlListState[V]) Update(vs []V) {
	if len(vs) == 0 {
		s.t.Delete(nil)
		return
	}
	exp := s.ttl.expiry(s.clk.now())
	l := make([]ttlValue[V], len(vs))
	for i, v := range vs {
		l[i] = ttlValue[V]{Value: v, Expiry: exp}
	}
	s.t.Put(nil, l)
}
func (s ttlListState[V]) Clear() { s.t.Delete(nil) }

// GetListStateTTL is GetListState whose elements expire individually per ttl.
func GetListStateTTL[V any](c StateContext, name string, ttl StateTTL) ListState[V] {
	return lookupState(c, "list-ttl", name, func(b *state.KeyedBackend) (ListState[V], error) {
		t, err := state.GetTable(b, name, codecOrFail[[]ttlValue[V]](name))
		return ttlListState[V]{t: t, ttl: ttl, clk: c.stateBase().(clock)}, err
	})
}

type ttlMapState[UK comparable, UV any] struct {
	t   *state.Table[map[UK]ttlValue[UV]]
	ttl StateTTL
	clk clock
}

func (s ttlMapState[UK, UV]) Get(k UK) (UV, bool) {
	var zero UV
	m, _ := s.t.Get(nil)
	e, ok := m[k]
	if !ok {
		return zero, false
	}
	now := s.clk.now()
	if s.ttl.expired(e.Expiry, now) {
		s.Remove(k)
		return zero, false
	}
	if s.ttl.UpdateOnRead {
		e.Expiry = s.ttl.expiry(now)
		m[k] = e
		if s.t.Serialized() { // Get returned a copy: write the renewal back
			s.t.Put(nil, m)
		}
	}
	return e.Value, true
}
func (s ttlMapState[UK, UV]) Put(k UK, v UV) {
	putInMap(s.t, k, ttlValue[UV]{Value: v, Expiry: s.ttl.expiry(s.clk.now())})
}
func (s ttlMapState[UK, UV]) Remove(k UK)        { removeFromMap(s.t, k) }
func (s ttlMapState[UK, UV]) Contains(k UK) bool { _, ok := s.Get(k); return ok }
func (s ttlMapState[UK, UV]) Clear()             { s.t.Delete(nil) }

// purge drops expired entries and returns the map.
func (s ttlMapState[UK, UV]) purge() map[UK]ttlValue[UV] {
	m, _ := s.t.Get(nil)
	now := s.clk.now()
	purged := false
	for k, e := range m {
		if s.ttl.expired(e.Expiry, now) {
			delete(m, k)
			purged = true
		}
	}
	if m != nil && len(m) == 0 {
		s.t.Delete(nil)
		return nil
	}
	if purged && s.t.Serialized() {
		s.t.Put(nil, m)
	}
	return m
}
func (s ttlMapState[UK, UV]) Len() int { return len(s.purge()) }
func (s ttlMapState[UK, UV]) All() iter.Seq2[UK, UV] {
	m := s.purge()
	return func(yield func(UK, UV) bool) {
		for k, e := range m {
			if !yield(k, e.Value) {
				return
			}
		}
	}
}

// GetMapStateTTL is GetMapState whose entries expire individually per ttl.
func GetMapStateTTL[UK comparable, UV any](c StateContext, name string, ttl StateTTL) MapState[UK, UV] {
	return lookupState(c, "map-ttl", name, func(b *state.KeyedBackend) (MapState[UK, UV], error) {
		t, err := state.GetTable(b, name, codecOrFail[map[UK]ttlValue[UV]](name))
		return ttlMapState[UK, UV]{t: t, ttl: ttl, clk: c.stateBase().(clock)}, err
	})
}
