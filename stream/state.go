package stream

import (
	"fmt"
	"iter"

	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// StateContext is implemented by the contexts that give access to keyed state
// (*KeyedContext, *KeyedCoContext).
type StateContext interface {
	stateBase() stateHost
}

type stateHost interface {
	backendOf() *state.KeyedBackend
	stateCache() map[stateKey]any
}

// stateKey names a state handle in an operator's cache (no string concatenation per access).
type stateKey struct{ kind, name string }

func (b *keyedBase[K]) backendOf() *state.KeyedBackend { return b.backend }
func (b *keyedBase[K]) stateCache() map[stateKey]any   { return b.states }

func lookupState[S any](c StateContext, kind, name string, create func(b *state.KeyedBackend) (S, error)) S {
	h := c.stateBase()
	key := stateKey{kind, name}
	if s, ok := h.stateCache()[key]; ok {
		if typed, ok := s.(S); ok {
			return typed
		}
		op.Fail(fmt.Errorf("state %q was first registered with another type (%T)", name, s))
	}
	s, err := create(h.backendOf())
	if err != nil {
		op.Fail(fmt.Errorf("state %q: %w", name, err))
	}
	h.stateCache()[key] = s
	return s
}

func codecOrFail[V any](name string) serde.Codec[V] {
	c, err := serde.For[V]()
	if err != nil {
		op.Fail(fmt.Errorf("state %q: %w", name, err))
	}
	return c
}

// ValueState holds one value per key.
type ValueState[V any] interface {
	Value() (V, bool)
	Update(v V)
	Clear()
}

type valueState[V any] struct{ t *state.Table[V] }

func (s valueState[V]) Value() (V, bool) { return s.t.Get(nil) }
func (s valueState[V]) Update(v V)       { s.t.Put(nil, v) }
func (s valueState[V]) Clear()           { s.t.Delete(nil) }

// GetValueState returns the value state called name of the current operator.
func GetValueState[V any](c StateContext, name string) ValueState[V] {
	return lookupState(c, "value", name, func(b *state.KeyedBackend) (ValueState[V], error) {
		t, err := state.GetTable(b, name, codecOrFail[V](name))
		return valueState[V]{t}, err
	})
}

// ListState holds a list of values per key.
type ListState[V any] interface {
	Get() []V
	Add(v V)
	Update(vs []V)
	Clear()
}

type listState[V any] struct{ t *state.Table[[]V] }

func (s listState[V]) Get() []V { l, _ := s.t.Get(nil); return l }
func (s listState[V]) Add(v V) {
	l, _ := s.t.Get(nil)
	s.t.Put(nil, append(l, v))
}
func (s listState[V]) Update(vs []V) {
	if len(vs) == 0 {
		s.t.Delete(nil)
		return
	}
	s.t.Put(nil, append([]V(nil), vs...))
}
func (s listState[V]) Clear() { s.t.Delete(nil) }

// GetListState returns the list state called name.
func GetListState[V any](c StateContext, name string) ListState[V] {
	return lookupState(c, "list", name, func(b *state.KeyedBackend) (ListState[V], error) {
		t, err := state.GetTable(b, name, codecOrFail[[]V](name))
		return listState[V]{t}, err
	})
}

// MapState holds a map per key.
type MapState[UK comparable, UV any] interface {
	Get(k UK) (UV, bool)
	Put(k UK, v UV)
	Remove(k UK)
	Contains(k UK) bool
	All() iter.Seq2[UK, UV]
	Len() int
	Clear()
}

type mapState[UK comparable, UV any] struct{ t *state.Table[map[UK]UV] }

func (s mapState[UK, UV]) Get(k UK) (UV, bool) {
	m, _ := s.t.Get(nil)
	v, ok := m[k]
	return v, ok
}
func (s mapState[UK, UV]) Put(k UK, v UV) { putInMap(s.t, k, v) }
func (s mapState[UK, UV]) Remove(k UK)    { removeFromMap(s.t, k) }

// putInMap sets k to v in the current key's map of t (map state, with or without TTL).
func putInMap[K comparable, V any](t *state.Table[map[K]V], k K, v V) {
	m, ok := t.Get(nil)
	if !ok {
		t.Put(nil, map[K]V{k: v})
		return
	}
	m[k] = v
	if t.Serialized() { // Get returned a copy: write the change back
		t.Put(nil, m)
	}
}

// removeFromMap deletes k from the current key's map of t; an emptied map is deleted.
func removeFromMap[K comparable, V any](t *state.Table[map[K]V], k K) {
	m, ok := t.Get(nil)
	if !ok {
		return
	}
	if _, had := m[k]; !had {
		return
	}
	delete(m, k)
	switch {
	case len(m) == 0:
		t.Delete(nil)
	case t.Serialized():
		t.Put(nil, m)
	}
}
func (s mapState[UK, UV]) Contains(k UK) bool { _, ok := s.Get(k); return ok }
func (s mapState[UK, UV]) Len() int           { m, _ := s.t.Get(nil); return len(m) }
func (s mapState[UK, UV]) Clear()             { s.t.Delete(nil) }
func (s mapState[UK, UV]) All() iter.Seq2[UK, UV] {
	m, _ := s.t.Get(nil)
	return func(yield func(UK, UV) bool) {
		for k, v := range m {
			if !yield(k, v) {
				return
			}
		}
	}
}

// GetMapState returns the map state called name.
func GetMapState[UK comparable, UV any](c StateContext, name string) MapState[UK, UV] {
	return lookupState(c, "map", name, func(b *state.KeyedBackend) (MapState[UK, UV], error) {
		t, err := state.GetTable(b, name, codecOrFail[map[UK]UV](name))
		return mapState[UK, UV]{t}, err
	})
}

// ReducingState folds added values with a reduce function, one result per key.
type ReducingState[V any] interface {
	Get() (V, bool)
	Add(v V)
	Clear()
}

type reducingState[V any] struct {
	t  *state.Table[V]
	fn func(a, b V) V
}

func (s reducingState[V]) Get() (V, bool) { return s.t.Get(nil) }
func (s reducingState[V]) Add(v V) {
	if acc, ok := s.t.Get(nil); ok {
		v = s.fn(acc, v)
	}
	s.t.Put(nil, v)
}
func (s reducingState[V]) Clear() { s.t.Delete(nil) }

// GetReducingState returns the reducing state called name, folding with fn.
func GetReducingState[V any](c StateContext, name string, fn func(a, b V) V) ReducingState[V] {
	return lookupState(c, "reducing", name, func(b *state.KeyedBackend) (ReducingState[V], error) {
		t, err := state.GetTable(b, name, codecOrFail[V](name))
		return reducingState[V]{t: t, fn: fn}, err
	})
}
