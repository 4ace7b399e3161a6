package amkit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/yarn"
)

var (
	small = Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 512, VCores: 1}}
	big   = Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 2048, VCores: 2}}
	odd   = Key{Priority: 2, Resource: yarn.Resource{MemoryMB: 500, VCores: 1}}
)

func cid(seq int64) yarn.ContainerID {
	return yarn.ContainerID{Attempt: yarn.AttemptID{App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}, Attempt: 1}, ID: seq}
}

// alloc builds an allocated container; allocID -1 means the RM echoed no allocation request id.
func alloc(seq int64, k Key, allocID int64) yarn.Container {
	return yarn.Container{ID: cid(seq), Node: yarn.NodeID{Host: "nm1", Port: 4545}, Resource: k.Resource, Priority: k.Priority, AllocationRequestID: allocID}
}

func done(seq int64, exit int32) yarn.ContainerStatus {
	return yarn.ContainerStatus{ID: cid(seq), State: yarn.ContainerComplete, ExitStatus: exit}
}

func fmtReady(r Ready) string {
	var parts []string
	for _, a := range r.Asks {
		parts = append(parts, fmt.Sprintf("ask p%d %d/%d n=%d id=%d", a.Priority, a.Capability.MemoryMB, a.Capability.VCores, a.NumContainers, a.AllocationRequestID))
	}
	for _, id := range r.Releases {
		parts = append(parts, fmt.Sprintf("release %d", id.Sequence()))
	}
	return strings.Join(parts, "; ")
}

func fmtUpdate(u Update) string {
	var parts []string
	for _, a := range u.Accepted {
		parts = append(parts, fmt.Sprintf("launch %d as %d/%d", a.Container.ID.Sequence(), a.Key.Resource.MemoryMB, a.Key.Resource.VCores))
	}
	for _, id := range u.Extra {
		parts = append(parts, fmt.Sprintf("extra %d", id.Sequence()))
	}
	for _, c := range u.Completed {
		s := fmt.Sprintf("done %d exit=%d", c.ID.Sequence(), c.ExitStatus)
		if c.Released {
			s += " released"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// step is one action on the tracker followed by the expected Ready. send = Ready + Advance (a
// successful heartbeat); resp applies an allocate response and checks the update.
type step struct {
	do         string // "request", "cancel", "send", "fail-send", "resp", "resync", "release", "stopped"
	key        Key
	n          int
	allocated  []yarn.Container
	completed  []yarn.ContainerStatus
	release    int64
	wantUpdate string
	wantReady  string // checked after every step
}

func run(t *testing.T, steps []step) {
	t.Helper()
	tr := NewTracker()
	for i, s := range steps {
		switch s.do {
		case "request":
			if err := tr.Request(s.key, s.n); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		case "cancel":
			tr.Cancel(s.key, s.n)
		case "send":
			tr.Advance(tr.Ready())
		case "fail-send":
			_ = tr.Ready() // the allocate call failed: nothing is advanced
		case "resp":
			u := tr.HandleResponse(yarn.AllocateResponse{Allocated: s.allocated, Completed: s.completed})
			if got := fmtUpdate(u); got != s.wantUpdate {
				t.Fatalf("step %d update:\n got  %q\n want %q", i, got, s.wantUpdate)
			}
		case "resync":
			tr.Resync()
		case "release":
			if err := tr.Release(cid(s.release)); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		case "stopped":
			tr.MarkReleased(cid(s.release))
		default:
			t.Fatalf("bad step %q", s.do)
		}
		if got := fmtReady(tr.Ready()); got != s.wantReady {
			t.Fatalf("step %d (%s) ready:\n got  %q\n want %q", i, s.do, got, s.wantReady)
		}
	}
}

func TestTracker(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"total not delta: decremented totals, extras released", []step{
			{do: "request", key: small, n: 3, wantReady: "ask p1 512/1 n=3 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1), alloc(3, small, 1)},
				wantUpdate: "launch 2 as 512/1; launch 3 as 512/1", wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(4, small, 1), alloc(5, small, 1)},
				wantUpdate: "launch 4 as 512/1; extra 5", wantReady: "ask p1 512/1 n=0 id=1; release 5"},
			{do: "send", wantReady: ""},
			{do: "resp", completed: []yarn.ContainerStatus{done(5, yarn.ExitAborted), done(2, 0), done(3, 3)},
				wantUpdate: "done 5 exit=-100 released; done 2 exit=0; done 3 exit=3", wantReady: ""},
			{do: "resp", completed: []yarn.ContainerStatus{done(99, 0)}, wantUpdate: "", wantReady: ""},
		}},
		{"nothing is sent twice and nothing sent before a request", []step{
			{do: "send", wantReady: ""},
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=2 id=1"},
			{do: "send", wantReady: ""},
			{do: "send", wantReady: ""},
		}},
		{"failed heartbeat re-sends the same totals", []step{
			{do: "request", key: small, n: 2, wantReady: "ask p1 512/1 n=2 id=1"},
			{do: "fail-send", wantReady: "ask p1 512/1 n=2 id=1"},
			{do: "send", wantReady: ""},
		}},
		{"distinct allocation ids per capability at one priority", []step{
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "request", key: big, n: 2, wantReady: "ask p1 512/1 n=1 id=1; ask p1 2048/2 n=2 id=2"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(7, big, 2), alloc(8, small, 1)},
				wantUpdate: "launch 7 as 2048/2; launch 8 as 512/1", wantReady: "ask p1 512/1 n=0 id=1; ask p1 2048/2 n=1 id=2"},
		}},
		{"rounded-up capability without echoed id matches by priority", []step{
			{do: "request", key: odd, n: 1, wantReady: "ask p2 500/1 n=1 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(3, Key{Priority: 2, Resource: yarn.Resource{MemoryMB: 512, VCores: 1}}, -1)},
				wantUpdate: "launch 3 as 500/1", wantReady: "ask p2 500/1 n=0 id=1"},
			{do: "resp", allocated: []yarn.Container{alloc(4, Key{Priority: 2, Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}, -1)},
				wantUpdate: "extra 4", wantReady: "ask p2 500/1 n=0 id=1; release 4"},
		}},
		{"duplicate allocation in a repeated response is ignored", []step{
			{do: "request", key: small, n: 2, wantReady: "ask p1 512/1 n=2 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1)}, wantUpdate: "launch 2 as 512/1", wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1)}, wantUpdate: "", wantReady: "ask p1 512/1 n=1 id=1"},
		}},
		{"cancel lowers the total", []step{
			{do: "request", key: small, n: 3, wantReady: "ask p1 512/1 n=3 id=1"},
			{do: "send", wantReady: ""},
			{do: "cancel", key: small, n: 5, wantReady: "ask p1 512/1 n=0 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1)}, wantUpdate: "extra 2", wantReady: "release 2"},
		}},
		{"resync re-sends outstanding totals and unconfirmed releases", []step{
			{do: "request", key: small, n: 2, wantReady: "ask p1 512/1 n=2 id=1"},
			{do: "request", key: big, n: 1, wantReady: "ask p1 512/1 n=2 id=1; ask p1 2048/2 n=1 id=2"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, big, 2)}, wantUpdate: "launch 2 as 2048/2", wantReady: "ask p1 2048/2 n=0 id=2"},
			{do: "release", release: 2, wantReady: "ask p1 2048/2 n=0 id=2; release 2"},
			{do: "send", wantReady: ""},
			{do: "resync", wantReady: "ask p1 512/1 n=2 id=1; release 2"},
			{do: "send", wantReady: ""},
			{do: "resp", completed: []yarn.ContainerStatus{done(2, yarn.ExitKilledByAppMaster)}, wantUpdate: "done 2 exit=-105 released", wantReady: ""},
		}},
		{"a request after an allocation reaches the RM at the stale total (two replacements in a row)", []step{
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1)}, wantUpdate: "launch 2 as 512/1", wantReady: "ask p1 512/1 n=0 id=1"},
			// The RM now holds 0; a second replacement before the next heartbeat must be sent.
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
		}},
		{"requests made while a heartbeat is in flight stay pending", []step{
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
			// send is Ready+Advance of the same snapshot; simulate a request racing with it below.
			{do: "send", wantReady: ""},
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=2 id=1"},
		}},
		{"stopped through the NM: completion flagged, no RM release", []step{
			{do: "request", key: small, n: 1, wantReady: "ask p1 512/1 n=1 id=1"},
			{do: "send", wantReady: ""},
			{do: "resp", allocated: []yarn.Container{alloc(2, small, 1)}, wantUpdate: "launch 2 as 512/1", wantReady: "ask p1 512/1 n=0 id=1"},
			{do: "send", wantReady: ""},
			{do: "stopped", release: 2, wantReady: ""},
			{do: "resp", completed: []yarn.ContainerStatus{done(2, yarn.ExitKilledByAppMaster)}, wantUpdate: "done 2 exit=-105 released", wantReady: ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, tc.steps) })
	}
}

func TestTrackerInFlightAdvance(t *testing.T) {
	tr := NewTracker()
	_ = tr.Request(small, 1)
	r := tr.Ready()          // heartbeat carries n=1
	_ = tr.Request(small, 2) // arrives while the call is in flight
	tr.Advance(r)
	if got := fmtReady(tr.Ready()); got != "ask p1 512/1 n=3 id=1" {
		t.Fatalf("after in-flight request: %q", got)
	}
}

func TestTrackerBadInput(t *testing.T) {
	tr := NewTracker()
	for _, c := range []struct {
		k Key
		n int
	}{{small, 0}, {small, -1}, {Key{Priority: 1}, 1}, {Key{Priority: -1, Resource: small.Resource}, 1}} {
		if err := tr.Request(c.k, c.n); err == nil {
			t.Errorf("Request(%v, %d) accepted", c.k, c.n)
		}
	}
	if err := tr.Release(cid(5)); err == nil {
		t.Error("release of an unknown container accepted")
	}
	if tr.Cancel(small, 1) != 0 {
		t.Error("cancel of nothing returned non-zero")
	}
	if tr.Pending() != 0 {
		t.Error("pending after bad input")
	}
}

func TestTrackerAdoptAndCounts(t *testing.T) {
	tr := NewTracker()
	tr.Adopt([]yarn.Container{alloc(9, small, -1)})
	if tr.Running(small) != 1 {
		t.Fatalf("adopted container not running: %d", tr.Running(small))
	}
	_ = tr.Request(small, 2)
	if tr.Pending() != 2 || tr.PendingFor(small) != 2 || tr.PendingFor(big) != 0 {
		t.Fatal("pending counts")
	}
	u := tr.HandleResponse(yarn.AllocateResponse{Completed: []yarn.ContainerStatus{done(9, 1)}})
	if fmtUpdate(u) != "done 9 exit=1" || tr.Running(small) != 0 {
		t.Fatalf("adopted completion: %q", fmtUpdate(u))
	}
}
