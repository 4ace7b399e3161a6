package am

import (
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/amkit"
)

var (
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keyA = amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 1024, VCores: 1}}
	keyB = amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 2048, VCores: 2}}
	att  = yarn.AttemptID{App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}, Attempt: 1}
)

func cid(n int64) yarn.ContainerID { return yarn.ContainerID{Attempt: att, ID: n} }

func ctr(n int64) yarn.Container {
	return yarn.Container{ID: cid(n), Node: yarn.NodeID{Host: "nm1", Port: 4000}, Resource: keyA.Resource, Priority: 1}
}

func newBook(t *testing.T, cfg BookConfig) *Book {
	t.Helper()
	b, err := NewBook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRequest(t *testing.T, b *Book, job string, key amkit.Key, perTM, slots int, tms map[string]TMView, now time.Time) Actions {
	t.Helper()
	a, err := b.RequestSlots(job, key, perTM, slots, tms, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func requested(a Actions) int { return sumAsks(a.Request) }

func TestRequestSlotsRoundsUpAndCountsInflight(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10})
	a := mustRequest(t, b, "j1", keyA, 2, 3, nil, t0)
	if requested(a) != 2 {
		t.Fatalf("3 slots at 2 per TaskManager: want 2 containers, got %+v", a.Request)
	}
	// The JobManager asks again before anything arrived: the 2 requested ones cover it.
	if a := mustRequest(t, b, "j1", keyA, 2, 3, nil, t0); requested(a) != 0 {
		t.Fatalf("repeated request: want nothing new, got %+v", a.Request)
	}
	// One arrives and starts; asking for 6 slots (3 containers) needs 1 more.
	if job, ok := b.Accepted(ctr(1), keyA, t0); !ok || job != "j1" {
		t.Fatalf("accepted: %q %v", job, ok)
	}
	if a := mustRequest(t, b, "j1", keyA, 2, 6, nil, t0); requested(a) != 1 {
		t.Fatalf("want 1 more container, got %+v", a.Request)
	}
	if c := b.Counts("j1"); c.Requested != 2 || c.Starting != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestRegisteredContainersAreNotInflight(t *testing.T) {
	b := newBook(t, BookConfig{})
	mustRequest(t, b, "j1", keyA, 1, 2, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	b.Accepted(ctr(2), keyA, t0)
	// Container 1 registered (its slot counted free by the JobManager already); the JobManager
	// still misses 1 slot, which container 2 (starting) covers.
	tms := map[string]TMView{cid(1).String(): {Slots: 1, FreeSlots: 1}}
	if a := mustRequest(t, b, "j1", keyA, 1, 1, tms, t0); requested(a) != 0 {
		t.Fatalf("want no request, got %+v", a.Request)
	}
	// Both registered, the JobManager misses one more slot (e.g. a higher parallelism): request.
	tms[cid(2).String()] = TMView{Slots: 1, FreeSlots: 1}
	if a := mustRequest(t, b, "j1", keyA, 1, 1, tms, t0); requested(a) != 1 {
		t.Fatalf("want 1 request, got %+v", a.Request)
	}
}

func TestAcceptedGoesToOldestWaitingJobOfItsKey(t *testing.T) {
	b := newBook(t, BookConfig{})
	mustRequest(t, b, "j1", keyA, 1, 1, nil, t0)
	mustRequest(t, b, "j2", keyB, 1, 1, nil, t0)
	mustRequest(t, b, "j3", keyA, 1, 1, nil, t0)
	big := yarn.Container{ID: cid(1), Resource: keyB.Resource, Priority: 1}
	if job, _ := b.Accepted(big, keyB, t0); job != "j2" {
		t.Fatalf("keyB container went to %q", job)
	}
	if job, _ := b.Accepted(ctr(2), keyA, t0); job != "j1" {
		t.Fatalf("first keyA container went to %q, want the older j1", job)
	}
	if job, _ := b.Accepted(ctr(3), keyA, t0); job != "j3" {
		t.Fatalf("second keyA container went to %q", job)
	}
	if job, ok := b.Accepted(ctr(4), keyA, t0); ok {
		t.Fatalf("an excess container was assigned to %q; want it released", job)
	}
}

func TestCompletedContainerIsLostAndReplaced(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10})
	mustRequest(t, b, "j1", keyA, 1, 2, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	b.Accepted(ctr(2), keyA, t0)
	tms := map[string]TMView{cid(1).String(): {Slots: 1}, cid(2).String(): {Slots: 1}}
	b.Tick(tms, t0)
	a := b.Completed(amkit.Completion{ID: cid(2), Key: keyA, ExitStatus: 137, Diagnostics: "Killed"}, t0.Add(time.Second))
	if len(a.Lost) != 1 || a.Lost[0].ResourceID != cid(2).String() || !strings.Contains(a.Lost[0].Reason, "exited with status 137: Killed") {
		t.Fatalf("lost: %+v", a.Lost)
	}
	if requested(a) != 1 || a.Request[0].Key != keyA {
		t.Fatalf("want one replacement, got %+v", a.Request)
	}
	// The JobManager's restart asks for the missing slot: the replacement covers it.
	delete(tms, cid(2).String())
	if a := mustRequest(t, b, "j1", keyA, 1, 1, tms, t0.Add(2*time.Second)); requested(a) != 0 {
		t.Fatalf("restart after a replaced loss must not over-request: %+v", a.Request)
	}
	// A completion of an unknown container or one the AM released changes nothing.
	if a := b.Completed(amkit.Completion{ID: cid(99)}, t0); !a.Empty() {
		t.Fatalf("unknown container: %+v", a)
	}
	b.Accepted(ctr(3), keyA, t0)
	if a := b.Completed(amkit.Completion{ID: cid(3), Released: true}, t0); !a.Empty() {
		t.Fatalf("released container: %+v", a)
	}
}

func TestLossSeenByJobManagerFirstDoesNotDoubleRequest(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10})
	mustRequest(t, b, "j1", keyA, 1, 2, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	b.Accepted(ctr(2), keyA, t0)
	tms := map[string]TMView{cid(1).String(): {Slots: 1}, cid(2).String(): {Slots: 1}}
	b.Tick(tms, t0)
	// The JobManager dropped TaskManager 2 (heartbeat timeout) and asks for 1 slot before YARN
	// reported the container: the book stops the container and replaces it once.
	delete(tms, cid(2).String())
	a := mustRequest(t, b, "j1", keyA, 1, 1, tms, t0.Add(time.Second))
	if len(a.Stop) != 1 || a.Stop[0].Container != cid(2) || requested(a) != 1 {
		t.Fatalf("want stop of container 2 and one replacement, got %+v", a)
	}
	// Its completion then arrives: reported lost (a no-op for the JobManager), not replaced again.
	if a := b.Completed(amkit.Completion{ID: cid(2), ExitStatus: yarn.ExitKilledByAppMaster}, t0.Add(2*time.Second)); requested(a) != 0 || len(a.Lost) != 1 ||
		!strings.Contains(a.Lost[0].Reason, "stopped by the ApplicationMaster: the JobManager lost its TaskManager") {
		t.Fatalf("completion of a stopped container: %+v", a)
	}
}

func TestReplacementsAreRateLimited(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 2, RetryInterval: 3 * time.Second})
	mustRequest(t, b, "j1", keyA, 1, 1, nil, t0)
	var n int64
	fail := func(at time.Time) Actions {
		n++
		if _, ok := b.Accepted(ctr(n), keyA, at); !ok {
			t.Fatalf("container %d not accepted", n)
		}
		return b.Completed(amkit.Completion{ID: cid(n), ExitStatus: 1}, at)
	}
	if a := fail(t0); requested(a) != 1 {
		t.Fatalf("1st failure: %+v", a.Request)
	}
	if a := fail(t0.Add(time.Second)); requested(a) != 1 {
		t.Fatalf("2nd failure: %+v", a.Request)
	}
	a := fail(t0.Add(2 * time.Second))
	if requested(a) != 0 || len(a.Lost) != 1 {
		t.Fatalf("3rd failure within a minute must be deferred: %+v", a)
	}
	if c := b.Counts("j1"); c.Requested != 1 {
		t.Fatalf("the deferred replacement counts as requested: %+v", c)
	}
	if due := b.NextDue(); !due.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("due %v", due)
	}
	if a := b.Tick(nil, t0.Add(4*time.Second)); requested(a) != 0 {
		t.Fatalf("requested before the retry interval: %+v", a.Request)
	}
	if a := b.Tick(nil, t0.Add(5*time.Second)); requested(a) != 1 {
		t.Fatalf("deferred replacement not requested when due: %+v", a.Request)
	}
}

func TestRegistrationTimeoutStopsAndReplaces(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10, RegistrationTimeout: time.Minute})
	mustRequest(t, b, "j1", keyA, 1, 1, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	if a := b.Tick(nil, t0.Add(59*time.Second)); !a.Empty() {
		t.Fatalf("before the timeout: %+v", a)
	}
	a := b.Tick(nil, t0.Add(time.Minute))
	if len(a.Stop) != 1 || !strings.Contains(a.Stop[0].Reason, "did not register") || requested(a) != 1 {
		t.Fatalf("want a stop and a replacement: %+v", a)
	}
}

func TestIdleTaskManagersAreStoppedInSessions(t *testing.T) {
	b := newBook(t, BookConfig{IdleTimeout: 30 * time.Second})
	mustRequest(t, b, "j1", keyA, 2, 2, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	busy := map[string]TMView{cid(1).String(): {Slots: 2, FreeSlots: 1}}
	idle := map[string]TMView{cid(1).String(): {Slots: 2, FreeSlots: 2}}
	b.Tick(idle, t0)
	if a := b.Tick(busy, t0.Add(29*time.Second)); !a.Empty() {
		t.Fatalf("busy: %+v", a)
	}
	if a := b.Tick(idle, t0.Add(40*time.Second)); !a.Empty() {
		t.Fatalf("idle for 0 s: %+v", a)
	}
	a := b.Tick(idle, t0.Add(70*time.Second))
	if len(a.Stop) != 1 || requested(a) != 0 || len(a.Lost) != 0 {
		t.Fatalf("idle for 30 s: want a stop without replacement, got %+v", a)
	}
	// Without an idle timeout (application clusters) nothing is stopped.
	b2 := newBook(t, BookConfig{})
	mustRequest(t, b2, "j1", keyA, 2, 2, nil, t0)
	b2.Accepted(ctr(1), keyA, t0)
	b2.Tick(idle, t0)
	if a := b2.Tick(idle, t0.Add(time.Hour)); !a.Empty() {
		t.Fatalf("no idle timeout: %+v", a)
	}
}

func TestJobEndedStopsContainersAndCancelsRequests(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10})
	mustRequest(t, b, "j1", keyA, 1, 3, nil, t0)
	mustRequest(t, b, "j2", keyA, 1, 1, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	b.Accepted(ctr(2), keyA, t0)
	a := b.JobEnded("j1", t0)
	if len(a.Stop) != 2 || len(a.Cancel) != 1 || a.Cancel[0].N != 1 {
		t.Fatalf("want 2 stops and 1 cancelled request: %+v", a)
	}
	// A late allocation goes to j2, the next one is excess.
	if job, _ := b.Accepted(ctr(3), keyA, t0); job != "j2" {
		t.Fatalf("late container went to %q", job)
	}
	if _, ok := b.Accepted(ctr(4), keyA, t0); ok {
		t.Fatal("container for an ended job accepted")
	}
	// Completions of the stopped containers only tell the JobManager; then the job can be forgotten.
	for _, id := range []int64{1, 2} {
		if a := b.Completed(amkit.Completion{ID: cid(id), ExitStatus: yarn.ExitKilledByAppMaster}, t0); len(a.Lost) != 1 || requested(a) != 0 || len(a.Stop) != 0 {
			t.Fatalf("completion after job end: %+v", a)
		}
	}
	b.Forget("j1")
	if _, err := b.RequestSlots("j1", keyA, 1, 1, nil, t0); err != nil {
		t.Fatalf("a forgotten job id is new again: %v", err)
	}
	// An ended job that is not forgotten rejects requests.
	b.JobEnded("j2", t0)
	if _, err := b.RequestSlots("j2", keyA, 1, 1, nil, t0); err == nil {
		t.Fatal("request for an ended job accepted")
	}
	// A failure of a container whose job ended is not replaced.
	if a := b.LaunchFailed(cid(3), "x", t0); !a.Empty() {
		t.Fatalf("launch failure after job end: %+v", a)
	}
}

func TestLaunchFailureIsReplaced(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10})
	mustRequest(t, b, "j1", keyA, 1, 1, nil, t0)
	b.Accepted(ctr(1), keyA, t0)
	if a := b.LaunchFailed(cid(1), "NM refused", t0); requested(a) != 1 {
		t.Fatalf("want a replacement: %+v", a)
	}
}

func TestBadInput(t *testing.T) {
	b := newBook(t, BookConfig{})
	if _, err := b.RequestSlots("", keyA, 1, 1, nil, t0); err == nil {
		t.Error("empty job id accepted")
	}
	if _, err := b.RequestSlots("j", keyA, 0, 1, nil, t0); err == nil {
		t.Error("0 slots per TaskManager accepted")
	}
	mustRequest(t, b, "j", keyA, 1, 1, nil, t0)
	if _, err := b.RequestSlots("j", keyB, 1, 1, nil, t0); err == nil {
		t.Error("a changed container spec accepted")
	}
	if a := mustRequest(t, b, "j", keyA, 1, 0, nil, t0); !a.Empty() {
		t.Errorf("0 slots: %+v", a)
	}
	if _, err := NewBook(BookConfig{IdleTimeout: -1}); err == nil {
		t.Error("negative idle timeout accepted")
	}
	for _, c := range []struct {
		mem           int64
		vcores, slots int
		ok            bool
		want          yarn.Resource
	}{
		{1728 << 20, -1, 4, true, yarn.Resource{MemoryMB: 1728, VCores: 4}},
		{1 << 30, 2, 4, true, yarn.Resource{MemoryMB: 1024, VCores: 2}},
		{1 << 10, -1, 1, false, yarn.Resource{}},
		{1 << 30, -5, 1, false, yarn.Resource{}},
	} {
		k, err := containerKey(c.mem, c.vcores, c.slots)
		if (err == nil) != c.ok || (c.ok && k.Resource != c.want) {
			t.Errorf("containerKey(%d, %d, %d) = %v, %v", c.mem, c.vcores, c.slots, k, err)
		}
	}
}
