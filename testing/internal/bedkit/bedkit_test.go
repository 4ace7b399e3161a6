package bedkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestEnvTrue(t *testing.T) {
	const name = "BEDKIT_TEST_FLAG"
	for v, want := range map[string]bool{"1": true, "true": true, "TRUE": true, "True": true, "": false, "0": false, "yes": false, "false": false} {
		t.Setenv(name, v)
		if got := EnvTrue(name); got != want {
			t.Errorf("EnvTrue with %q = %v, want %v", v, got, want)
		}
	}
}

func TestPollDoneAfterSomeChecks(t *testing.T) {
	calls := 0
	err := Poll(context.Background(), time.Millisecond, "three checks", func() (bool, error) {
		calls++
		return calls == 3, nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll = %v after %d checks, want nil after 3", err, calls)
	}
}

func TestPollReturnsTheFinalError(t *testing.T) {
	final := errors.New("the server exited")
	err := Poll(context.Background(), time.Millisecond, "ready", func() (bool, error) { return true, final })
	if err != final {
		t.Fatalf("Poll = %v, want the check's final error as is", err)
	}
}

func TestPollTimeoutNamesWhatAndLastReason(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n := 0
	began := time.Now()
	err := Poll(ctx, 5*time.Millisecond, "testbed: wait for 2 NodeManagers", func() (bool, error) {
		n++
		return false, fmt.Errorf("%d of 2 NodeManagers RUNNING", n%2)
	})
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Poll returned %s after its context ended", took)
	}
	we, ok := errors.AsType[*WaitError](err)
	if !ok {
		t.Fatalf("Poll = %T %v, want a *WaitError", err, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
	if we.What != "testbed: wait for 2 NodeManagers" || we.Last == nil {
		t.Errorf("WaitError %+v", we)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "testbed: wait for 2 NodeManagers: context deadline exceeded (last: ") ||
		!strings.HasSuffix(msg, " of 2 NodeManagers RUNNING)") {
		t.Errorf("message %q", msg)
	}
}

func TestPollTimeoutWithoutReason(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Poll(ctx, time.Millisecond, "testbed: failover not done", func() (bool, error) { return false, nil })
	if err == nil || err.Error() != "testbed: failover not done: context canceled" {
		t.Fatalf("Poll = %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not match context.Canceled", err)
	}
}

func TestPollRejectsABadInterval(t *testing.T) {
	called := false
	err := Poll(context.Background(), 0, "x", func() (bool, error) { called = true; return true, nil })
	if err == nil || called {
		t.Fatalf("Poll with interval 0 = %v (check called: %v), want an error before any check", err, called)
	}
}

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

// fakeServer records what Shared asks of a bed's script.
type fakeServer struct {
	running bool
	starts  int
	stops   int
	stopErr error
	started string // what start returns
}

func (f *fakeServer) probe(context.Context) (string, error) {
	if !f.running {
		return "", errors.New("not running")
	}
	return "/conf/running", nil
}

func (f *fakeServer) start(context.Context) (string, error) {
	f.starts++
	if f.started == "" {
		return "", errors.New("testbed: start the fake server: no java")
	}
	f.running = true
	return f.started, nil
}

func (f *fakeServer) stop(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("stop without a deadline")
	}
	f.stops++
	if f.stopErr != nil {
		return f.stopErr
	}
	f.running = false
	return nil
}

func newShared(t *testing.T, logs *bytes.Buffer) *Shared {
	t.Setenv("BEDKIT_TEST_KEEP", "")
	return &Shared{
		Name:        "testbed",
		Noun:        "mini-cluster",
		WorkDir:     t.TempDir(),
		LockFile:    ".testbed.lock",
		KeepEnv:     "BEDKIT_TEST_KEEP",
		StopTimeout: 10 * time.Second,
		Log:         zerolog.New(logs),
	}
}

func (s *Shared) autostarted() bool {
	_, err := os.Stat(filepath.Join(s.WorkDir, "autostarted"))
	return err == nil
}

func TestDecideLeave(t *testing.T) {
	check := func(autostarted bool, others int, keep bool, want leaveAction) {
		t.Helper()
		if got := decideLeave(autostarted, others, keep); got != want {
			t.Errorf("decideLeave(autostarted %v, %d others, keep %v) = %d, want %d", autostarted, others, keep, got, want)
		}
	}
	check(false, 0, false, leaveNotOurs)
	check(false, 3, true, leaveNotOurs)
	check(true, 1, false, leaveInUse)
	check(true, 2, true, leaveInUse)
	check(true, 0, true, leaveKeep)
	check(true, 0, false, leaveStopping)
}

// TestSharedLastUserStopsTheServerATestStarted walks two users through a server the first one
// started: the first to leave leaves it up, the last stops it.
func TestSharedLastUserStopsTheServerATestStarted(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	srv := &fakeServer{started: "/conf/started"}
	ctx := context.Background()
	var got []string
	use := func(r string) error { got = append(got, r); return nil }

	a, b := NewLease(), NewLease()
	if err := s.Join(ctx, a, srv.probe, srv.start, use); err != nil {
		t.Fatal(err)
	}
	if err := s.Join(ctx, b, srv.probe, srv.start, use); err != nil {
		t.Fatal(err)
	}
	if srv.starts != 1 || !s.autostarted() {
		t.Fatalf("%d starts, autostarted %v: want one start, marked", srv.starts, s.autostarted())
	}
	if len(got) != 2 || got[0] != "/conf/started" || got[1] != "/conf/running" {
		t.Errorf("use got %v: want start's then probe's result", got)
	}
	if leases := listDir(t, s.Leases().Dir); len(leases) != 2 {
		t.Errorf("leases %v", leases)
	}

	if err := s.Leave(a, srv.stop); err != nil {
		t.Fatal(err)
	}
	if srv.stops != 0 {
		t.Fatal("the server stopped while a user remained")
	}
	if !strings.Contains(logs.String(), "other test processes still use the mini-cluster: leaving it up") ||
		!strings.Contains(logs.String(), `"users":1`) {
		t.Errorf("log %q", logs.String())
	}
	if err := s.Leave(b, srv.stop); err != nil {
		t.Fatal(err)
	}
	if srv.stops != 1 || srv.running || s.autostarted() {
		t.Fatalf("after the last user: %d stops, running %v, marker %v", srv.stops, srv.running, s.autostarted())
	}
}

func TestSharedLeavesAServerStartedByHand(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	srv := &fakeServer{running: true}
	lease := ProcessLease()
	if err := s.Join(context.Background(), lease, srv.probe, srv.start, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if srv.starts != 0 || s.autostarted() {
		t.Fatalf("joined a running server: %d starts, marker %v", srv.starts, s.autostarted())
	}
	if err := s.Leave(lease, srv.stop); err != nil {
		t.Fatal(err)
	}
	if srv.stops != 0 {
		t.Error("stopped a server a test did not start")
	}
	if leases := listDir(t, s.Leases().Dir); len(leases) != 0 {
		t.Errorf("leases left %v", leases)
	}
}

func TestSharedKeepVariable(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	t.Setenv("BEDKIT_TEST_KEEP", "1")
	srv := &fakeServer{started: "/conf"}
	lease := NewLease()
	if err := s.Join(context.Background(), lease, srv.probe, srv.start, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Leave(lease, srv.stop); err != nil {
		t.Fatal(err)
	}
	if srv.stops != 0 || !s.autostarted() {
		t.Errorf("with the keep variable set: %d stops, marker %v", srv.stops, s.autostarted())
	}
	if !strings.Contains(logs.String(), "BEDKIT_TEST_KEEP set: leaving the mini-cluster up") {
		t.Errorf("log %q", logs.String())
	}
}

// TestSharedIgnoresLeasesOfDeadProcesses: a user that died without leaving does not keep the
// server up.
func TestSharedIgnoresLeasesOfDeadProcesses(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	srv := &fakeServer{started: "/conf"}
	if err := s.Leases().Add(strconv.Itoa(deadPID(t))); err != nil {
		t.Fatal(err)
	}
	lease := NewLease()
	if err := s.Join(context.Background(), lease, srv.probe, srv.start, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Leave(lease, srv.stop); err != nil {
		t.Fatal(err)
	}
	if srv.stops != 1 {
		t.Errorf("%d stops: the dead process's lease kept the server up", srv.stops)
	}
}

func TestSharedJoinErrors(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	ctx := context.Background()

	// A start that fails is returned as it is, and nothing is marked or leased.
	srv := &fakeServer{}
	err := s.Join(ctx, NewLease(), srv.probe, srv.start, func(string) error { return nil })
	if err == nil || err.Error() != "testbed: start the fake server: no java" {
		t.Fatalf("Join = %v, want start's error as is", err)
	}
	if s.autostarted() {
		t.Error("marked autostarted although the start failed")
	}

	// A result the bed cannot use adds no lease.
	srv = &fakeServer{running: true}
	bad := errors.New("testbed: read the mini-cluster's conf dir: no core-site.xml")
	if err := s.Join(ctx, NewLease(), srv.probe, srv.start, func(string) error { return bad }); err != bad {
		t.Fatalf("Join = %v, want use's error", err)
	}
	if _, err := os.Stat(s.Leases().Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a lease dir exists after failed joins: %v", err)
	}

	// A bad lease name is reported with the bed's name.
	if err := s.Join(ctx, "a/b", srv.probe, srv.start, func(string) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "testbed: lease name") {
		t.Errorf("Join with a bad lease = %v", err)
	}
}

func TestSharedStopErrorKeepsTheMarker(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	srv := &fakeServer{started: "/conf", stopErr: errors.New("minicluster.sh stop: exit status 1")}
	lease := NewLease()
	if err := s.Join(context.Background(), lease, srv.probe, srv.start, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	err := s.Leave(lease, srv.stop)
	if err == nil || err.Error() != "testbed: stop the mini-cluster: minicluster.sh stop: exit status 1" {
		t.Fatalf("Leave = %v", err)
	}
	if !s.autostarted() {
		t.Error("the marker is gone although the stop failed: a later user could not stop the server")
	}
}

func TestSharedLockTimeout(t *testing.T) {
	var logs bytes.Buffer
	s := newShared(t, &logs)
	s.LockTimeout = 100 * time.Millisecond
	unlock, err := Lock(context.Background(), filepath.Join(s.WorkDir, s.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	srv := &fakeServer{running: true}
	err = s.Join(context.Background(), NewLease(), srv.probe, srv.start, func(string) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "testbed: lock ") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Join while another holds the lock = %v", err)
	}
	if err := s.Leave(NewLease(), srv.stop); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Leave while another holds the lock = %v", err)
	}
}
