package bedkit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Once holds a server started on first use: every caller of Get gets the first call's result,
// the server or the error (a failed start is not retried).
type Once[T any] struct {
	mu      sync.Mutex
	started bool
	v       T
	err     error
}

// Get returns the started value, calling start on the first call only.
func (o *Once[T]) Get(start func() (T, error)) (T, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		o.started = true
		o.v, o.err = start()
	}
	return o.v, o.err
}

// Release calls release with the value if a start succeeded, and returns its error.
func (o *Once[T]) Release(release func(T) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started || o.err != nil {
		return nil
	}
	return release(o.v)
}

// Starter says how Beds.Require starts a server of one key and how it ends its use.
type Starter[T any] struct {
	// Start starts or joins the server.
	Start func(ctx context.Context) (T, error)
	// Timeout bounds Start; 0 means DefaultStartTimeout.
	Timeout time.Duration
	// Release ends this package's use of a server started without Main (in t.Cleanup, where
	// its error fails the test); it should name the bed.
	Release func(T) error
	// Ready, if set, is told the outcome of the shared start under Main, once, for a log line.
	Ready func(v T, err error, took time.Duration)
}

// Beds are a test package's shared servers, one per key (a bed with one kind of server uses a
// single key). Under Run (called from TestMain), the first Require of a key starts the server,
// later ones share it, and Run releases them after the tests; a package whose tests never call
// Require starts nothing. Without Run, each Require starts (or joins) a server of its own and
// releases it in t.Cleanup.
type Beds[K comparable, T any] struct {
	mu      sync.Mutex
	mainRan bool
	shared  map[K]*Once[T]
}

// Runner is what Run runs: *testing.M.
type Runner interface{ Run() int }

// Run runs the tests and then releases every server started under it with release (called
// once per key whose start succeeded). It returns the tests' exit code and the release errors
// joined.
func (b *Beds[K, T]) Run(m Runner, release func(K, T) error) (int, error) {
	b.mu.Lock()
	b.mainRan = true
	b.mu.Unlock()
	code := m.Run()
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for k, o := range b.shared {
		errs = append(errs, o.Release(func(v T) error { return release(k, v) }))
	}
	return code, errors.Join(errs...)
}

// Require returns the server of key for the test t, as the type's doc describes. Under Run,
// servers start one at a time.
func (b *Beds[K, T]) Require(t testing.TB, key K, s Starter[T]) (T, error) {
	t.Helper()
	b.mu.Lock()
	if !b.mainRan {
		b.mu.Unlock()
		v, err := startWithin(s)
		if err != nil {
			return v, err
		}
		t.Cleanup(func() {
			if err := s.Release(v); err != nil {
				t.Error(err)
			}
		})
		return v, nil
	}
	defer b.mu.Unlock()
	o := b.shared[key]
	if o == nil {
		if b.shared == nil {
			b.shared = map[K]*Once[T]{}
		}
		o = &Once[T]{}
		b.shared[key] = o
	}
	return o.Get(func() (T, error) {
		began := time.Now()
		v, err := startWithin(s)
		if s.Ready != nil {
			s.Ready(v, err, time.Since(began))
		}
		return v, err
	})
}

// DefaultStartTimeout bounds Starter.Start when its Timeout is 0.
const DefaultStartTimeout = 10 * time.Minute

func startWithin[T any](s Starter[T]) (T, error) {
	d := s.Timeout
	if d <= 0 {
		d = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Start(ctx)
}
