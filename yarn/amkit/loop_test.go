package amkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/yarn"
)

// simRM is a small in-memory scheduler: it keeps the last total per allocation request id (YARN
// semantics), allocates everything outstanding on each heartbeat, and reports containers the test
// finished or the AM released as completed on the following heartbeat.
type simRM struct {
	mu          sync.Mutex
	totals      map[int64]yarn.ResourceRequest
	nextSeq     int64
	finished    []yarn.ContainerStatus
	requests    []yarn.AllocateRequest
	failNext    error
	allocated   int
	released    map[yarn.ContainerID]bool
	heartbeatAt []time.Time
}

func newSimRM() *simRM {
	return &simRM{totals: map[int64]yarn.ResourceRequest{}, nextSeq: 2, released: map[yarn.ContainerID]bool{}}
}

func (s *simRM) Allocate(_ context.Context, r yarn.AllocateRequest) (yarn.AllocateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heartbeatAt = append(s.heartbeatAt, time.Now())
	s.requests = append(s.requests, r)
	if err := s.failNext; err != nil {
		s.failNext = nil
		if errors.Is(err, yarn.ErrReregistered) {
			s.totals = map[int64]yarn.ResourceRequest{} // the RM forgot the attempt
		}
		return yarn.AllocateResponse{}, err
	}
	for _, a := range r.Asks {
		s.totals[a.AllocationRequestID] = a
	}
	var resp yarn.AllocateResponse
	for _, id := range r.Releases {
		s.released[id] = true
		resp.Completed = append(resp.Completed, yarn.ContainerStatus{ID: id, State: yarn.ContainerComplete, ExitStatus: yarn.ExitAborted})
	}
	resp.Completed = append(resp.Completed, s.finished...)
	s.finished = nil
	for allocID, a := range s.totals {
		for ; a.NumContainers > 0; a.NumContainers-- {
			resp.Allocated = append(resp.Allocated, yarn.Container{
				ID:       cid(s.nextSeq),
				Node:     yarn.NodeID{Host: "nm1", Port: 4545},
				Resource: a.Capability, Priority: a.Priority, AllocationRequestID: allocID,
			})
			s.nextSeq++
			s.allocated++
		}
		s.totals[allocID] = a
	}
	return resp, nil
}

func (s *simRM) finish(id yarn.ContainerID, exit int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, yarn.ContainerStatus{ID: id, State: yarn.ContainerComplete, ExitStatus: exit})
}

func TestLoopRunsContainersToCompletion(t *testing.T) {
	rm := newSimRM()
	var mu sync.Mutex
	exits := map[int64]int32{}
	allDone := make(chan struct{})
	loop, err := NewLoop(LoopConfig{
		Client: rm,
		Launch: func(_ context.Context, a Accepted) error {
			// The "container" exits with its sequence number as exit code.
			rm.finish(a.Container.ID, int32(a.Container.ID.Sequence()))
			return nil
		},
		OnCompleted: func(c Completion) {
			mu.Lock()
			defer mu.Unlock()
			exits[c.ID.Sequence()] = c.ExitStatus
			if len(exits) == 3 {
				close(allDone)
			}
		},
		Interval:     200 * time.Millisecond,
		FastInterval: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := loop.Request(small, 3); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- loop.Run(ctx) }()
	select {
	case <-allDone:
	case <-ctx.Done():
		t.Fatal("containers did not complete")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rm.allocated != 3 {
		t.Errorf("RM allocated %d containers, want exactly 3", rm.allocated)
	}
	for seq := int64(2); seq <= 4; seq++ {
		if exits[seq] != int32(seq) {
			t.Errorf("container %d exit %d, want %d", seq, exits[seq], seq)
		}
	}
	// The first heartbeat carries the total of 3, a later one the decremented total of 0.
	if a := rm.requests[0].Asks; len(a) != 1 || a[0].NumContainers != 3 {
		t.Errorf("first ask %+v", a)
	}
	if a := rm.requests[1].Asks; len(a) != 1 || a[0].NumContainers != 0 {
		t.Errorf("second ask %+v", a)
	}
}

func TestLoopLaunchFailureReleasesAndResync(t *testing.T) {
	rm := newSimRM()
	var failed []yarn.ContainerID
	var fmu sync.Mutex
	loop, err := NewLoop(LoopConfig{
		Client: rm,
		Launch: func(_ context.Context, a Accepted) error { return fmt.Errorf("NM refused %s", a.Container.ID) },
		OnLaunchFailed: func(a Accepted, err error) {
			fmu.Lock()
			failed = append(failed, a.Container.ID)
			fmu.Unlock()
		},
		Interval: time.Hour, FastInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = loop.Request(small, 1)
	if err := loop.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	loop.wg.Wait() // the launch goroutine failed and queued a release
	if len(failed) != 1 {
		t.Fatalf("OnLaunchFailed calls: %v", failed)
	}
	if err := loop.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	last := rm.requests[len(rm.requests)-1]
	if len(last.Releases) != 1 || last.Releases[0] != failed[0] || !rm.released[failed[0]] {
		t.Fatalf("failed container not released: %+v", last)
	}

	// The RM loses the attempt: the next heartbeat after re-registration re-sends the totals.
	_ = loop.Request(big, 2)
	rm.failNext = fmt.Errorf("wrapped: %w", yarn.ErrReregistered)
	if err := loop.Heartbeat(ctx); err != nil {
		t.Fatalf("re-registration must not fail the heartbeat: %v", err)
	}
	if err := loop.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	last = rm.requests[len(rm.requests)-1]
	if len(last.Asks) != 1 || last.Asks[0].NumContainers != 2 || last.Asks[0].Capability != big.Resource {
		t.Fatalf("after resync: %+v", last.Asks)
	}
}

func TestLoopGivesUp(t *testing.T) {
	boom := errors.New("connection refused")
	loop, _ := NewLoop(LoopConfig{
		Client:       allocFunc(func() error { return boom }),
		Launch:       func(context.Context, Accepted) error { return nil },
		Interval:     time.Millisecond,
		FastInterval: time.Millisecond, MaxConsecutiveFailures: 3,
	})
	err := loop.Run(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v", err)
	}
	shut, _ := NewLoop(LoopConfig{
		Client: allocFunc(func() error { return fmt.Errorf("x: %w", yarn.ErrAMShutdown) }),
		Launch: func(context.Context, Accepted) error { return nil },
	})
	if err := shut.Run(context.Background()); !errors.Is(err, yarn.ErrAMShutdown) {
		t.Fatalf("shutdown: %v", err)
	}
	calls := 0
	gone, _ := NewLoop(LoopConfig{
		Client: allocFunc(func() error { calls++; return fmt.Errorf("x: %w", yarn.ErrApplicationNotFound) }),
		Launch: func(context.Context, Accepted) error { return nil },
	})
	if err := gone.Run(context.Background()); !errors.Is(err, yarn.ErrApplicationNotFound) || calls != 1 {
		t.Fatalf("attempt gone: %v after %d calls", err, calls)
	}
}

type allocFunc func() error

func (f allocFunc) Allocate(context.Context, yarn.AllocateRequest) (yarn.AllocateResponse, error) {
	return yarn.AllocateResponse{}, f()
}

func TestLoopConfigValidation(t *testing.T) {
	if _, err := NewLoop(LoopConfig{}); err == nil {
		t.Error("missing client accepted")
	}
	if _, err := NewLoop(LoopConfig{Client: newSimRM()}); err == nil {
		t.Error("missing launch accepted")
	}
	if _, err := NewLoop(LoopConfig{Client: newSimRM(), Launch: func(context.Context, Accepted) error { return nil },
		Interval: time.Millisecond, FastInterval: time.Second}); err == nil {
		t.Error("fast interval above interval accepted")
	}
}
