// Package amkit is the ApplicationMaster toolkit: the container-request bookkeeping an AM needs
// (Tracker, pure, no I/O) and a heartbeat loop (Loop) that drives it against the RM.
//
// The Tracker follows etcd raft's split between a deterministic core and the I/O around it: the
// caller asks it what to send (Ready), reports that the send succeeded (Advance), and feeds it the
// RM's answer (HandleResponse), which returns what to do (containers to launch, completions to act
// on). YARN semantics it implements:
//
//   - An ask carries the TOTAL outstanding count for its key, not a delta; the RM replaces its
//     count with it. The tracker sends a key only when its total differs from the last total sent,
//     and after matching allocated containers it sends the decremented total (as Hadoop's
//     AMRMClient does after removeContainerRequest), so stale totals are never re-sent
//     (FLINK-10848).
//   - Each key (priority, capability) gets its own allocation_request_id, so the RM keeps separate
//     counts for different capabilities at one priority, and allocated containers are matched to
//     their key by the echoed id (falling back to priority + "capability fits").
//   - Containers beyond what is outstanding are released, never kept: the tracker never
//     over-allocates.
//   - After the RM lost the attempt (re-registration) every outstanding total and unconfirmed
//     release is sent again.
package amkit

import (
	"fmt"
	"slices"
	"sort"

	"github.com/flink-go/flink-go/yarn"
)

// Key identifies a class of interchangeable containers: a priority and a capability.
type Key struct {
	Priority int32
	Resource yarn.Resource
}

// String returns e.g. "prio 1 <memory:1024, vCores:1>".
func (k Key) String() string { return fmt.Sprintf("prio %d %s", k.Priority, k.Resource) }

// Ready is what the next allocate call must carry.
type Ready struct {
	Asks     []yarn.ResourceRequest
	Releases []yarn.ContainerID
}

// Empty reports whether there is nothing to send (a heartbeat is still due for liveness).
func (r Ready) Empty() bool { return len(r.Asks) == 0 && len(r.Releases) == 0 }

// Accepted is an allocated container matched to an outstanding request: the caller launches it.
type Accepted struct {
	Container yarn.Container
	Key       Key
}

// Completion reports a container that ended.
type Completion struct {
	ID          yarn.ContainerID
	Key         Key
	ExitStatus  int32
	Diagnostics string
	// Released is true when the AM itself released or stopped the container (an extra, a failed
	// launch, or Release).
	Released bool
}

// Succeeded reports whether the container exited with status 0.
func (c Completion) Succeeded() bool { return c.ExitStatus == yarn.ExitSuccess }

// Update is the result of applying an allocate response.
type Update struct {
	// Accepted containers must be launched by the caller.
	Accepted []Accepted
	// Extra containers matched no outstanding request; they are queued for release.
	Extra []yarn.ContainerID
	// Completed containers that this tracker knew (accepted or adopted ones).
	Completed []Completion
}

type keyState struct {
	key     Key
	allocID int64
	pending int32 // containers wanted and not yet allocated
	sent    int32 // the last total the RM acknowledged receiving
}

type containerState struct {
	key       Key
	releasing bool
}

// Tracker is the AM's container bookkeeping. It does no I/O and is not safe for concurrent use.
type Tracker struct {
	keys       map[Key]*keyState
	byAllocID  map[int64]*keyState
	nextAlloc  int64
	containers map[yarn.ContainerID]*containerState
	toRelease  []yarn.ContainerID
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{
		keys:       map[Key]*keyState{},
		byAllocID:  map[int64]*keyState{},
		nextAlloc:  1,
		containers: map[yarn.ContainerID]*containerState{},
	}
}

func (t *Tracker) state(k Key) *keyState {
	ks, ok := t.keys[k]
	if !ok {
		ks = &keyState{key: k, allocID: t.nextAlloc}
		t.nextAlloc++
		t.keys[k] = ks
		t.byAllocID[ks.allocID] = ks
	}
	return ks
}

// Request adds n containers of key k to what is outstanding.
func (t *Tracker) Request(k Key, n int) error {
	if n <= 0 {
		return fmt.Errorf("amkit: request %d containers of %s: count must be positive", n, k)
	}
	if k.Resource.MemoryMB <= 0 || k.Resource.VCores <= 0 {
		return fmt.Errorf("amkit: request %s: memory and vcores must be positive", k)
	}
	if k.Priority < 0 {
		return fmt.Errorf("amkit: request %s: priority must not be negative", k)
	}
	ks := t.state(k)
	if int64(ks.pending)+int64(n) > 1<<30 {
		return fmt.Errorf("amkit: request %d more containers of %s: too many outstanding", n, k)
	}
	ks.pending += int32(n)
	return nil
}

// Cancel withdraws up to n outstanding (not yet allocated) containers of key k and returns how many
// were withdrawn.
func (t *Tracker) Cancel(k Key, n int) int {
	ks, ok := t.keys[k]
	if !ok || n <= 0 {
		return 0
	}
	c := min(int32(n), ks.pending)
	ks.pending -= c
	return int(c)
}

// Pending returns the number of containers requested and not yet allocated, over all keys.
func (t *Tracker) Pending() int {
	n := 0
	for _, ks := range t.keys {
		n += int(ks.pending)
	}
	return n
}

// PendingFor returns the outstanding count of one key.
func (t *Tracker) PendingFor(k Key) int {
	if ks, ok := t.keys[k]; ok {
		return int(ks.pending)
	}
	return 0
}

// Running returns the number of containers held (accepted or adopted, not completed, not being
// released) for key k.
func (t *Tracker) Running(k Key) int {
	n := 0
	for _, c := range t.containers {
		if c.key == k && !c.releasing {
			n++
		}
	}
	return n
}

// Ready returns the asks whose total changed since the last acknowledged send, and the queued
// releases, in a deterministic order. It does not change the tracker: call Advance after the
// allocate call carrying it succeeded.
func (t *Tracker) Ready() Ready {
	var r Ready
	for _, ks := range t.sortedKeys() {
		if ks.pending != ks.sent {
			r.Asks = append(r.Asks, yarn.ResourceRequest{
				Priority:            ks.key.Priority,
				ResourceName:        "*",
				Capability:          ks.key.Resource,
				NumContainers:       ks.pending,
				AllocationRequestID: ks.allocID,
			})
		}
	}
	r.Releases = slices.Clone(t.toRelease)
	return r
}

func (t *Tracker) sortedKeys() []*keyState {
	list := make([]*keyState, 0, len(t.keys))
	for _, ks := range t.keys {
		list = append(list, ks)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].allocID < list[j].allocID })
	return list
}

// Advance records that r was delivered to the RM: its totals become the RM's view, its releases
// leave the queue (their completions are still expected).
func (t *Tracker) Advance(r Ready) {
	for _, a := range r.Asks {
		if ks, ok := t.byAllocID[a.AllocationRequestID]; ok {
			ks.sent = a.NumContainers
		}
	}
	sent := map[yarn.ContainerID]bool{}
	for _, id := range r.Releases {
		sent[id] = true
	}
	t.toRelease = slices.DeleteFunc(t.toRelease, func(id yarn.ContainerID) bool { return sent[id] })
}

// Resync prepares a full re-send after the RM lost the attempt (re-registration): every key's
// total and every unconfirmed release go out on the next heartbeat.
func (t *Tracker) Resync() {
	for _, ks := range t.keys {
		ks.sent = -1
		if ks.pending == 0 {
			ks.sent = 0 // the RM forgot the key; nothing to cancel
		}
	}
	queued := map[yarn.ContainerID]bool{}
	for _, id := range t.toRelease {
		queued[id] = true
	}
	for _, id := range t.sortedContainerIDs() {
		if t.containers[id].releasing && !queued[id] {
			t.toRelease = append(t.toRelease, id)
		}
	}
}

func (t *Tracker) sortedContainerIDs() []yarn.ContainerID {
	ids := make([]yarn.ContainerID, 0, len(t.containers))
	for id := range t.containers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Attempt != ids[j].Attempt {
			return ids[i].Attempt.String() < ids[j].Attempt.String()
		}
		return ids[i].ID < ids[j].ID
	})
	return ids
}

// match finds the outstanding key an allocated container belongs to: by the echoed allocation
// request id, else by priority with an exact capability, else by priority with the smallest
// requested capability the container fits (the RM rounds capabilities up).
func (t *Tracker) match(c yarn.Container) *keyState {
	if ks, ok := t.byAllocID[c.AllocationRequestID]; ok && ks.pending > 0 {
		return ks
	}
	var best *keyState
	for _, ks := range t.sortedKeys() {
		if ks.pending == 0 || ks.key.Priority != c.Priority {
			continue
		}
		if ks.key.Resource == c.Resource {
			return ks
		}
		if ks.key.Resource.MemoryMB <= c.Resource.MemoryMB && ks.key.Resource.VCores <= c.Resource.VCores {
			if best == nil || ks.key.Resource.MemoryMB > best.key.Resource.MemoryMB {
				best = ks
			}
		}
	}
	return best
}

// HandleResponse applies an allocate response: matches allocated containers to outstanding
// requests (the rest are queued for release), and reports completions.
func (t *Tracker) HandleResponse(resp yarn.AllocateResponse) Update {
	var u Update
	for _, c := range resp.Allocated {
		if _, dup := t.containers[c.ID]; dup {
			continue // the RM repeats a cached response after a lost reply
		}
		ks := t.match(c)
		if ks == nil {
			t.containers[c.ID] = &containerState{key: Key{Priority: c.Priority, Resource: c.Resource}, releasing: true}
			t.toRelease = append(t.toRelease, c.ID)
			u.Extra = append(u.Extra, c.ID)
			continue
		}
		ks.pending--
		// The RM decremented its own count for this allocation, so the total it holds is no
		// longer the last one sent: the next Ready sends the current total even when it equals
		// that stale one (else a request made before the next heartbeat, bringing the total back
		// to the stale value, would never reach the RM).
		ks.sent = -1
		t.containers[c.ID] = &containerState{key: ks.key}
		u.Accepted = append(u.Accepted, Accepted{Container: c, Key: ks.key})
	}
	for _, st := range resp.Completed {
		cs, ok := t.containers[st.ID]
		if !ok {
			continue
		}
		delete(t.containers, st.ID)
		t.toRelease = slices.DeleteFunc(t.toRelease, func(id yarn.ContainerID) bool { return id == st.ID })
		u.Completed = append(u.Completed, Completion{
			ID: st.ID, Key: cs.key, ExitStatus: st.ExitStatus, Diagnostics: st.Diagnostics, Released: cs.releasing,
		})
	}
	return u
}

// Adopt records containers the AM holds without having requested them in this tracker (containers
// from previous attempts).
func (t *Tracker) Adopt(cs []yarn.Container) {
	for _, c := range cs {
		if _, ok := t.containers[c.ID]; !ok {
			t.containers[c.ID] = &containerState{key: Key{Priority: c.Priority, Resource: c.Resource}}
		}
	}
}

// Release gives a held container back to the RM on the next heartbeat (e.g. one whose launch
// failed, or one no longer needed). Its completion will be reported with Released set.
func (t *Tracker) Release(id yarn.ContainerID) error {
	cs, ok := t.containers[id]
	if !ok {
		return fmt.Errorf("amkit: release %s: container not held by this AM", id)
	}
	if cs.releasing {
		return nil
	}
	cs.releasing = true
	t.toRelease = append(t.toRelease, id)
	return nil
}

// MarkReleased records that a container is being stopped through the NodeManager (stopContainers):
// its completion is then reported with Released set, but no release is sent to the RM.
func (t *Tracker) MarkReleased(id yarn.ContainerID) {
	if cs, ok := t.containers[id]; ok {
		cs.releasing = true
	}
}
