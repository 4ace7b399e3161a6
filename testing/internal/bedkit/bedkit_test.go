package bedkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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
