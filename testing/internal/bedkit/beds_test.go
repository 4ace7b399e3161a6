package bedkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOnceStartsOnceAndRemembersTheError(t *testing.T) {
	var o Once[int]
	calls := 0
	boom := errors.New("boom")
	start := func() (int, error) { calls++; return 0, boom }
	for range 3 {
		if _, err := o.Get(start); err != boom {
			t.Fatalf("Get = %v, want the first start's error", err)
		}
	}
	if calls != 1 {
		t.Errorf("start called %d times, want 1 (a failed start is not retried)", calls)
	}
	if err := o.Release(func(int) error { t.Error("released a server that never started"); return nil }); err != nil {
		t.Error(err)
	}

	var ok Once[string]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := ok.Get(func() (string, error) { calls++; return "server", nil }); v != "server" || err != nil {
				t.Errorf("Get = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if calls != 2 {
		t.Errorf("concurrent Gets started %d servers, want 1", calls-1)
	}
	released := ""
	if err := ok.Release(func(v string) error { released = v; return errors.New("stop failed") }); err == nil || released != "server" {
		t.Errorf("Release = %v, released %q", err, released)
	}
}

// fakeM stands in for *testing.M: its Run runs the package's "tests".
type fakeM func() int

func (f fakeM) Run() int { return f() }

type srv struct{ key string }

// TestBedsUnderRunShareOnePerKey: under Run, Require starts each key once, tells Ready once,
// and Run releases every started server at the end.
func TestBedsUnderRunShareOnePerKey(t *testing.T) {
	var b Beds[string, *srv]
	starts, readies := map[string]int{}, map[string]int{}
	starter := func(key string) Starter[*srv] {
		return Starter[*srv]{
			Start: func(ctx context.Context) (*srv, error) {
				if _, ok := ctx.Deadline(); !ok {
					return nil, errors.New("start without a deadline")
				}
				starts[key]++
				if key == "broken" {
					return nil, errors.New("no java")
				}
				return &srv{key}, nil
			},
			Timeout: time.Minute,
			Release: func(*srv) error { t.Error("Release called under Run"); return nil },
			Ready:   func(_ *srv, _ error, _ time.Duration) { readies[key]++ },
		}
	}
	var got []*srv
	code, err := b.Run(fakeM(func() int {
		for _, key := range []string{"simple", "kerberos", "simple", "broken", "broken", "simple"} {
			s, err := b.Require(t, key, starter(key))
			if key == "broken" {
				if err == nil || err.Error() != "no java" {
					t.Errorf("Require(broken) = %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		return 7
	}), func(key string, s *srv) error {
		if s.key != key {
			t.Errorf("released %q under key %q", s.key, key)
		}
		return fmt.Errorf("release %s", key)
	})
	if code != 7 {
		t.Errorf("Run returned code %d, want the tests' 7", code)
	}
	if err == nil || !strings.Contains(err.Error(), "release simple") || !strings.Contains(err.Error(), "release kerberos") ||
		strings.Contains(err.Error(), "broken") {
		t.Errorf("Run's release errors = %v, want those of the two started servers", err)
	}
	if starts["simple"] != 1 || starts["kerberos"] != 1 || starts["broken"] != 1 {
		t.Errorf("starts %v, want one per key", starts)
	}
	if readies["simple"] != 1 || readies["kerberos"] != 1 || readies["broken"] != 1 {
		t.Errorf("Ready calls %v, want one per key", readies)
	}
	if len(got) != 4 || got[0] != got[2] || got[0] != got[3] || got[0] == got[1] {
		t.Errorf("servers %v: want the same one for every simple Require", got)
	}
}

// TestBedsWithoutRunStartPerTest: without Run each Require starts its own server and releases
// it when the test ends; Ready is not told.
func TestBedsWithoutRunStartPerTest(t *testing.T) {
	var b Beds[struct{}, *srv]
	starts, releases := 0, 0
	s := Starter[*srv]{
		Start:   func(context.Context) (*srv, error) { starts++; return &srv{"own"}, nil },
		Release: func(*srv) error { releases++; return nil },
		Ready:   func(*srv, error, time.Duration) { t.Error("Ready called without Run") },
	}
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := b.Require(t, struct{}{}, s); err != nil {
				t.Fatal(err)
			}
			if releases != i {
				t.Errorf("released %d before the test ended, want %d", releases, i)
			}
		})
	}
	if starts != 2 || releases != 2 {
		t.Errorf("%d starts, %d releases; want 2 of each", starts, releases)
	}
	s.Start = func(context.Context) (*srv, error) { return nil, errors.New("no server") }
	if _, err := b.Require(t, struct{}{}, s); err == nil {
		t.Error("a failed start gave no error")
	}
	if releases != 2 {
		t.Error("a server that did not start was released")
	}
}
