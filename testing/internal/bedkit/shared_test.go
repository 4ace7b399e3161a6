package bedkit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

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
	cases := []struct {
		autostarted bool
		others      int
		keep        bool
		want        leaveAction
	}{
		{false, 0, false, leaveNotOurs},
		{false, 3, true, leaveNotOurs},
		{true, 1, false, leaveInUse},
		{true, 2, true, leaveInUse},
		{true, 0, true, leaveKeep},
		{true, 0, false, leaveStopping},
	}
	for _, c := range cases {
		if got := decideLeave(c.autostarted, c.others, c.keep); got != c.want {
			t.Errorf("decideLeave(%v, %d, %v) = %d, want %d", c.autostarted, c.others, c.keep, got, c.want)
		}
	}
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
