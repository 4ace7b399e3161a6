package checkpoint

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// A two-vertex job: source (parallelism 2) -> keyed map (parallelism 2).
var (
	src0   = TaskID{"src", 0}
	src1   = TaskID{"src", 1}
	map0   = TaskID{"map", 0}
	map1   = TaskID{"map", 1}
	tasks4 = []TaskID{src0, src1, map0, map1}
	srcs   = []TaskID{src0, src1}
)

// handle builds a plausible ack for task t in checkpoint id.
func handle(t TaskID, id int64, shared ...string) TaskStateHandle {
	if t.Vertex == "src" {
		return TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op-src", MaxParallelism: 128,
			SourceReader: []byte(fmt.Sprintf("offset-%d-%d", t.Subtask, id))}}, BytesWritten: 10}
	}
	r := serde.KeyGroupRangeFor(128, 2, t.Subtask)
	k := KeyedState{KeyGroups: r, Format: "heap-v1",
		Files: []StateFile{{Path: fmt.Sprintf("map-%d.state", t.Subtask), Size: 1000}}}
	for _, s := range shared {
		// "new:name" is a file uploaded for this checkpoint, "name" one reused.
		name, isNew := strings.CutPrefix(s, "new:")
		k.Files = append(k.Files, StateFile{Path: name, Size: 500, Shared: true, New: isNew})
	}
	return TaskStateHandle{Operators: []OperatorSubtaskState{
		{OperatorID: "op-map", MaxParallelism: 128, Keyed: []KeyedState{k}},
		{OperatorID: "op-print", MaxParallelism: 128}, // stateless, chained
	}, AlignmentDuration: int64(time.Duration(t.Subtask+1) * time.Millisecond), BytesWritten: 100}
}

// kinds renders actions compactly for comparison.
func kinds(acts []Action) string {
	var s []string
	for _, a := range acts {
		switch a := a.(type) {
		case *TriggerAction:
			s = append(s, fmt.Sprintf("trigger(%d)", a.ID))
		case *CompleteAction:
			s = append(s, fmt.Sprintf("complete(%d)", a.Checkpoint.ID))
		case *NotifyCompleteAction:
			s = append(s, fmt.Sprintf("notify(%d)", a.ID))
		case *AbortAction:
			s = append(s, fmt.Sprintf("abort(%d)", a.ID))
		case *DiscardAction:
			s = append(s, fmt.Sprintf("discard(%d)", a.Checkpoint.ID))
		case *DiscardStateAction:
			s = append(s, fmt.Sprintf("discard-state(%d)", a.ID))
		case *FailJobAction:
			s = append(s, "fail-job")
		default:
			s = append(s, fmt.Sprintf("%T", a))
		}
	}
	return strings.Join(s, " ")
}

// ackAll acknowledges checkpoint id from every task at time now and, when the
// last ack completes it, finalizes it successfully; it returns all actions.
func ackAll(t *testing.T, c *Coordinator, now time.Time, id int64, tasks []TaskID) []Action {
	t.Helper()
	var acts []Action
	for _, tk := range tasks {
		acts = append(acts, c.Ack(now, tk, id, handle(tk, id))...)
	}
	return append(acts, finalizeIfComplete(c, now, acts)...)
}

func finalizeIfComplete(c *Coordinator, now time.Time, acts []Action) []Action {
	var out []Action
	for _, a := range acts {
		if ca, ok := a.(*CompleteAction); ok {
			out = append(out, c.Finalized(now, ca.Checkpoint.ID, nil)...)
		}
	}
	return out
}

func want(t *testing.T, step string, acts []Action, expect string) {
	t.Helper()
	if got := kinds(acts); got != expect {
		t.Fatalf("%s: actions %q, want %q", step, got, expect)
	}
}

func TestTriggerCadence(t *testing.T) {
	type step struct {
		at     float64
		op     string // "tick", "ack <id>"
		expect string
	}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "interval, max concurrent 1, held-back trigger fires when free",
			cfg:  Config{Interval: 10 * time.Second},
			steps: []step{
				{0, "tick", ""}, // schedules the first checkpoint at 10 s
				{9.9, "tick", ""},
				{10, "tick", "trigger(1)"},
				{15, "tick", ""},
				{20, "tick", ""}, // due, but checkpoint 1 is pending
				{25, "ack 1", "complete(1) notify(1)"},
				{25, "tick", "trigger(2)"},
				{34, "tick", ""},
				{35, "tick", ""}, // pending again
				{36, "ack 2", "complete(2) notify(2) discard(1)"},
				{36.5, "tick", "trigger(3)"},
			},
		},
		{
			name: "min pause counts from the end of the previous checkpoint",
			cfg:  Config{Interval: 10 * time.Second, MinPause: 8 * time.Second},
			steps: []step{
				{0, "tick", ""},
				{10, "tick", "trigger(1)"},
				{12, "ack 1", "complete(1) notify(1)"},
				{19.9, "tick", ""},
				{20, "tick", "trigger(2)"},
				{27, "ack 2", "complete(2) notify(2) discard(1)"},
				{30, "tick", ""}, // interval due, min pause until 35
				{34.9, "tick", ""},
				{35, "tick", "trigger(3)"},
			},
		},
		{
			name: "max concurrent 2",
			cfg:  Config{Interval: 10 * time.Second, MaxConcurrent: 2},
			steps: []step{
				{0, "tick", ""},
				{10, "tick", "trigger(1)"},
				{20, "tick", "trigger(2)"},
				{30, "tick", ""},
				{31, "ack 1", "complete(1) notify(1)"},
				{31, "tick", "trigger(3)"},
			},
		},
		{
			name: "min pause forces max concurrent 1",
			cfg:  Config{Interval: 10 * time.Second, MaxConcurrent: 3, MinPause: time.Second},
			steps: []step{
				{0, "tick", ""},
				{10, "tick", "trigger(1)"},
				{20, "tick", ""},
			},
		},
		{
			name: "interval 0: no periodic checkpoints",
			cfg:  Config{},
			steps: []step{
				{0, "tick", ""},
				{1000, "tick", ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCoordinator(tc.cfg, tasks4, srcs, nil, 1)
			for i, s := range tc.steps {
				var acts []Action
				switch {
				case s.op == "tick":
					acts = c.Tick(at(s.at))
				case strings.HasPrefix(s.op, "ack "):
					var id int64
					fmt.Sscanf(s.op, "ack %d", &id)
					acts = ackAll(t, c, at(s.at), id, tasks4)
				}
				want(t, fmt.Sprintf("step %d (%s at %vs)", i, s.op, s.at), acts, s.expect)
			}
		})
	}
}

func TestTriggerActionContents(t *testing.T) {
	c := NewCoordinator(Config{JobID: "job1", JobDir: "hdfs://nn:8020/ckpt/job1", Interval: time.Second, Mode: AtLeastOnce}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	acts := c.Tick(at(1))
	tr, ok := acts[0].(*TriggerAction)
	if !ok || len(acts) != 1 {
		t.Fatalf("actions %v", acts)
	}
	want := &TriggerAction{ID: 1, Timestamp: at(1).UnixMilli(), Kind: SavepointNone, Mode: AtLeastOnce,
		Dir: "hdfs://nn:8020/ckpt/job1/chk-1", Targets: srcs}
	if !reflect.DeepEqual(tr, want) {
		t.Fatalf("trigger = %+v, want %+v", tr, want)
	}
	if d := c.NextDeadline(); !d.Equal(at(2)) {
		t.Errorf("NextDeadline = %v, want the next trigger at %v", d, at(2))
	}
}

// Acks in every order complete the checkpoint exactly at the last one, and
// the result does not depend on the order.
func TestAcksInAnyOrder(t *testing.T) {
	var first *Completed
	for _, perm := range permutations(tasks4) {
		c := NewCoordinator(Config{JobID: "j", Interval: time.Second}, tasks4, srcs, nil, 1)
		c.Tick(at(0))
		want(t, "trigger", c.Tick(at(1)), "trigger(1)")
		var cp *Completed
		for i, tk := range perm {
			acts := c.Ack(at(2+float64(i)), tk, 1, handle(tk, 1))
			if i < len(perm)-1 {
				want(t, fmt.Sprintf("ack %v of %v", tk, perm), acts, "")
				continue
			}
			want(t, "last ack", acts, "complete(1)")
			cp = acts[0].(*CompleteAction).Checkpoint
		}
		if first == nil {
			first = cp
			continue
		}
		// Only CompletedAt differs (acks arrived at the same offsets, so it is equal).
		if !reflect.DeepEqual(first, cp) {
			t.Fatalf("order %v built a different checkpoint:\n%+v\nvs\n%+v", perm, cp, first)
		}
	}
	// The built checkpoint: operators sorted, stateless operator without subtasks.
	var ids []string
	for _, op := range first.Operators {
		ids = append(ids, fmt.Sprintf("%s/p%d/m%d/%d", op.OperatorID, op.Parallelism, op.MaxParallelism, len(op.Subtasks)))
	}
	if got := strings.Join(ids, " "); got != "op-map/p2/m128/2 op-print/p2/m128/0 op-src/p2/m128/2" {
		t.Errorf("operators: %s", got)
	}
	if m := first.Operator("op-map"); m.Subtasks[1].Keyed[0].KeyGroups != (serde.KeyGroupRange{Start: 64, End: 127}) {
		t.Errorf("map subtask 1 key groups %v", m.Subtasks[1].Keyed[0].KeyGroups)
	}
	if first.BytesWritten != 220 {
		t.Errorf("BytesWritten = %d, want 220", first.BytesWritten)
	}
}

func permutations(in []TaskID) [][]TaskID {
	if len(in) <= 1 {
		return [][]TaskID{append([]TaskID(nil), in...)}
	}
	var out [][]TaskID
	for i := range in {
		rest := append(append([]TaskID(nil), in[:i]...), in[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]TaskID{in[i]}, p...))
		}
	}
	return out
}

func TestTimeoutAndLateAck(t *testing.T) {
	c := NewCoordinator(Config{JobID: "j", JobDir: "/ck/j", Interval: 10 * time.Second, Timeout: 5 * time.Second, TolerableFailures: 1}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	want(t, "trigger", c.Tick(at(10)), "trigger(1)")
	want(t, "ack src0", c.Ack(at(11), src0, 1, handle(src0, 1)), "")
	want(t, "ack map0", c.Ack(at(11), map0, 1, handle(map0, 1, "new:sst-new-1")), "")
	want(t, "before timeout", c.Tick(at(14.9)), "")
	acts := c.Tick(at(15))
	want(t, "timeout", acts, "abort(1)")
	ab := acts[0].(*AbortAction)
	if !strings.Contains(ab.Reason, "expired") || ab.Dir != "/ck/j/chk-1" || !reflect.DeepEqual(ab.DiscardShared, []string{"sst-new-1"}) {
		t.Errorf("abort = %+v", ab)
	}
	// A late ack: its files were written for nothing.
	acts = c.Ack(at(16), map1, 1, handle(map1, 1, "new:sst-late"))
	want(t, "late ack", acts, "discard-state(1)")
	ds := acts[0].(*DiscardStateAction)
	if ds.Dir != "/ck/j/chk-1" || !reflect.DeepEqual(ds.Exclusive, []string{"map-1.state"}) || !reflect.DeepEqual(ds.Shared, []string{"sst-late"}) {
		t.Errorf("discard-state = %+v", ds)
	}
	// Acks for never-triggered checkpoints are ignored.
	want(t, "future ack", c.Ack(at(16), map1, 99, handle(map1, 99)), "")
	st := c.Stats()
	if st.Counts.Failed != 1 || st.Latest.Failed == nil || st.Latest.Failed.ID != 1 || st.ConsecutiveFailures != 1 {
		t.Errorf("stats after expiry: %+v", st)
	}
	// The next one also expires: 2 consecutive failures > 1 tolerated.
	want(t, "trigger 2", c.Tick(at(20)), "trigger(2)")
	want(t, "timeout 2", c.Tick(at(25)), "abort(2) fail-job")
}

func TestDeclineAndTolerableFailures(t *testing.T) {
	type ev struct {
		op     string // "decline", "not-ready", "complete", "savepoint-decline"
		expect string
	}
	cases := []struct {
		name      string
		tolerable int
		events    []ev
	}{
		{"default 0: first decline fails the job", 0, []ev{{"decline", "abort(1) fail-job"}}},
		{"2 tolerated", 2, []ev{{"decline", "abort(1)"}, {"decline", "abort(2)"}, {"decline", "abort(3) fail-job"}, {"decline", "abort(4)"}}},
		{"completion resets the count", 1, []ev{{"decline", "abort(1)"}, {"complete", "complete(2) notify(2)"}, {"decline", "abort(3)"}, {"decline", "abort(4) fail-job"}}},
		{"not-ready declines do not count", 0, []ev{{"not-ready", "abort(1)"}, {"not-ready", "abort(2)"}}},
		{"savepoint declines do not count", 0, []ev{{"savepoint-decline", "abort(1)"}, {"savepoint-decline", "abort(2)"}}},
		{"unlimited", UnlimitedFailures, []ev{{"decline", "abort(1)"}, {"decline", "abort(2)"}, {"decline", "abort(3)"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCoordinator(Config{Interval: time.Second, TolerableFailures: tc.tolerable}, tasks4, srcs, nil, 1)
			now := 0.0
			c.Tick(at(now))
			for i, e := range tc.events {
				now += 2
				var id int64
				var acts []Action
				if e.op == "savepoint-decline" {
					id, _ = c.TriggerSavepoint(at(now), "/sp/x", SavepointPlain)
				} else {
					tr := c.Tick(at(now))
					if len(tr) != 1 {
						t.Fatalf("event %d: tick gave %q", i, kinds(tr))
					}
					id = tr[0].(*TriggerAction).ID
				}
				switch e.op {
				case "decline", "savepoint-decline":
					acts = c.Decline(at(now+0.5), map1, id, "disk full")
				case "not-ready":
					acts = c.DeclineNotReady(at(now+0.5), map1, id, "task is still restoring")
				case "complete":
					for _, tk := range tasks4 {
						acts = append(acts, c.Ack(at(now+0.5), tk, id, handle(tk, id))...)
					}
					acts = append(acts, finalizeIfComplete(c, at(now+0.5), acts)...)
				}
				want(t, fmt.Sprintf("event %d (%s)", i, e.op), acts, e.expect)
				if a, ok := acts[0].(*AbortAction); ok && !strings.Contains(a.Reason, "map#1 declined") {
					t.Errorf("abort reason %q does not name the task", a.Reason)
				}
			}
		})
	}
}

func TestSavepointWhileCheckpointPending(t *testing.T) {
	c := NewCoordinator(Config{JobID: "j", Interval: 10 * time.Second}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	want(t, "checkpoint", c.Tick(at(10)), "trigger(1)")
	id, acts := c.TriggerSavepoint(at(11), "/sp/savepoint-j-1", SavepointPlain)
	want(t, "savepoint", acts, "trigger(2)")
	if tr := acts[0].(*TriggerAction); !tr.Savepoint || tr.Dir != "/sp/savepoint-j-1" || id != 2 {
		t.Fatalf("savepoint trigger %+v id %d", tr, id)
	}
	// Savepoint completes first; it is not retained and subsumes nothing.
	acts = ackAll(t, c, at(12), 2, tasks4)
	want(t, "savepoint done", acts, "complete(2) notify(2)")
	if n := acts[1].(*NotifyCompleteAction); !n.Savepoint || n.Path != "/sp/savepoint-j-1" {
		t.Errorf("notify %+v", n)
	}
	if len(c.Completed()) != 0 || !reflect.DeepEqual(c.Pending(), []int64{1}) {
		t.Fatalf("retained %d, pending %v", len(c.Completed()), c.Pending())
	}
	want(t, "checkpoint 1 completes", ackAll(t, c, at(13), 1, tasks4), "complete(1) notify(1)")
	// A pending savepoint holds back periodic checkpoints (max concurrent 1).
	_, acts = c.TriggerSavepoint(at(19), "/sp/b", SavepointPlain)
	want(t, "savepoint 3", acts, "trigger(3)")
	want(t, "periodic held back", c.Tick(at(20)), "")
	want(t, "savepoint 3 done", ackAll(t, c, at(21), 3, tasks4), "complete(3) notify(3)")
	want(t, "periodic resumes", c.Tick(at(21)), "trigger(4)")
	st := c.Stats()
	if st.Latest.Savepoint == nil || st.Latest.Savepoint.ID != 3 || st.Latest.Completed.ID != 1 || st.Counts.Completed != 3 || st.Counts.InProgress != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestStopWithSavepoint(t *testing.T) {
	c := NewCoordinator(Config{Interval: 10 * time.Second}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	id, acts := c.TriggerSavepoint(at(5), "/sp/s", SavepointStopDrain)
	want(t, "stop savepoint", acts, "trigger(1)")
	if acts[0].(*TriggerAction).Kind != SavepointStopDrain {
		t.Error("kind not passed on")
	}
	want(t, "no periodic while stopping", c.Tick(at(10)), "")
	// Tasks acknowledge and then finish: finishing does not abort a stop-with-savepoint.
	c.Ack(at(11), src0, id, handle(src0, id))
	c.TasksFinished(src0)
	want(t, "tick after finish", c.Tick(at(11)), "")
	c.Ack(at(12), src1, id, handle(src1, id))
	c.Ack(at(12), map0, id, handle(map0, id))
	acts = c.Ack(at(12), map1, id, handle(map1, id))
	want(t, "complete", acts, "complete(1)")
	want(t, "finalized", c.Finalized(at(12), id, nil), "notify(1)")
	want(t, "stopped", c.Tick(at(30)), "")
	_, acts = c.TriggerSavepoint(at(31), "/sp/t", SavepointPlain)
	want(t, "savepoint after stop", acts, "abort(2)")
}

func TestStopWithSavepointFailureResumesCheckpoints(t *testing.T) {
	c := NewCoordinator(Config{Interval: 10 * time.Second}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	id, _ := c.TriggerSavepoint(at(5), "/sp/s", SavepointStop)
	want(t, "decline", c.Decline(at(6), map0, id, "boom"), "abort(1)")
	want(t, "periodic again", c.Tick(at(10)), "trigger(2)")
}

func TestRetentionAndSharedFiles(t *testing.T) {
	c := NewCoordinator(Config{JobID: "j", JobDir: "/ck/j", Interval: time.Second, Retained: 2}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	// Map subtask 0 uploads shared files and reuses those of the previous
	// checkpoint (incremental); subtask 1 reuses the same files (as after a
	// restore from one handle), so each checkpoint must count them once.
	files := map[int64][]string{1: {"new:a", "new:b"}, 2: {"b", "new:c"}, 3: {"c", "new:d"}, 4: {"d"}}
	var discards []*DiscardAction
	for id := int64(1); id <= 4; id++ {
		want(t, "trigger", c.Tick(at(float64(id))), fmt.Sprintf("trigger(%d)", id))
		var reused []string
		for _, f := range files[id] {
			if !strings.HasPrefix(f, "new:") {
				reused = append(reused, f)
			}
		}
		var acts []Action
		for _, tk := range tasks4 {
			sh := files[id]
			if tk == map1 {
				sh = reused
			}
			acts = append(acts, c.Ack(at(float64(id)+0.5), tk, id, handle(tk, id, sh...))...)
		}
		acts = append(acts, finalizeIfComplete(c, at(float64(id)+0.5), acts)...)
		for _, a := range acts {
			if d, ok := a.(*DiscardAction); ok {
				discards = append(discards, d)
			}
		}
	}
	if len(discards) != 2 || discards[0].Checkpoint.ID != 1 || discards[1].Checkpoint.ID != 2 {
		t.Fatalf("discards %v", discards)
	}
	// Both map subtasks reference the same names: each checkpoint counts once.
	if !reflect.DeepEqual(discards[0].SharedFiles, []string{"a"}) || !reflect.DeepEqual(discards[1].SharedFiles, []string{"b"}) {
		t.Errorf("zero-ref files %v, %v", discards[0].SharedFiles, discards[1].SharedFiles)
	}
	if discards[0].Checkpoint.ExternalPath != "/ck/j/chk-1" {
		t.Errorf("discarded path %q", discards[0].Checkpoint.ExternalPath)
	}
	var ret []int64
	for _, cp := range c.Completed() {
		ret = append(ret, cp.ID)
	}
	if !reflect.DeepEqual(ret, []int64{3, 4}) || c.Latest().ID != 4 {
		t.Errorf("retained %v", ret)
	}
	reg := c.SharedRegistry()
	if reg.Refs("c") != 1 || reg.Refs("d") != 2 || reg.Refs("b") != 0 || reg.Len() != 2 {
		t.Errorf("refs c=%d d=%d b=%d len=%d", reg.Refs("c"), reg.Refs("d"), reg.Refs("b"), reg.Len())
	}
	st := c.Stats()
	if len(st.History) != 4 || !st.History[3].Discarded || st.History[0].Discarded || st.History[0].Status != StatusCompleted {
		t.Errorf("history %+v", st.History)
	}
	// Shutdown with discard drops everything, files included.
	acts := c.Shutdown(at(10), "job canceled", true)
	want(t, "shutdown", acts, "discard(3) discard(4)")
	if got := acts[1].(*DiscardAction).SharedFiles; !reflect.DeepEqual(got, []string{"d"}) {
		t.Errorf("last discard frees %v", got)
	}
	if got := acts[0].(*DiscardAction).SharedFiles; !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("first discard frees %v", got)
	}
}

func TestSharedRegistry(t *testing.T) {
	mk := func(id int64, files ...string) *Completed {
		st := SubtaskState{Subtask: 0}
		for _, f := range files {
			st.Files = append(st.Files, StateFile{Path: f, Size: 1, Shared: true})
		}
		st.Files = append(st.Files, StateFile{Path: "private", Size: 1})
		return &Completed{ID: id, Operators: []*OperatorState{{OperatorID: "o", Parallelism: 1, MaxParallelism: 1, Subtasks: []SubtaskState{st}}}}
	}
	r := NewSharedRegistry()
	c1, c2 := mk(1, "x", "y", "x"), mk(2, "y", "z")
	r.Register(c1)
	r.Register(c2)
	if r.Refs("x") != 1 || r.Refs("y") != 2 || r.Refs("private") != 0 {
		t.Fatalf("refs x=%d y=%d", r.Refs("x"), r.Refs("y"))
	}
	if got := r.Unregister(c1); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("unregister c1 -> %v", got)
	}
	if got := r.Unregister(c2); !reflect.DeepEqual(got, []string{"y", "z"}) {
		t.Errorf("unregister c2 -> %v", got)
	}
	if got := r.Unregister(c2); len(got) != 0 {
		t.Errorf("double unregister -> %v", got)
	}
}

func TestSubsumedPendingAbortedWithoutCounting(t *testing.T) {
	c := NewCoordinator(Config{Interval: time.Second, MaxConcurrent: 2}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	want(t, "t1", c.Tick(at(1)), "trigger(1)")
	want(t, "t2", c.Tick(at(2)), "trigger(2)")
	c.Ack(at(2.1), map1, 1, handle(map1, 1, "new:only-in-1"))
	acts := ackAll(t, c, at(2.5), 2, tasks4)
	want(t, "2 completes", acts, "complete(2) notify(2) abort(1)")
	ab := acts[2].(*AbortAction)
	if !strings.Contains(ab.Reason, "subsumed") || !reflect.DeepEqual(ab.DiscardShared, []string{"only-in-1"}) {
		t.Errorf("abort %+v", ab)
	}
	if c.Stats().ConsecutiveFailures != 0 {
		t.Error("subsumed checkpoint counted as a failure")
	}
	// A late ack of checkpoint 1 only discards its own files.
	want(t, "late", c.Ack(at(3), map0, 1, handle(map0, 1)), "discard-state(1)")
	// A duplicate ack of retained checkpoint 2 is ignored (its files are in use).
	want(t, "dup", c.Ack(at(3), map0, 2, handle(map0, 2)), "")
}

func TestFinalizeFailure(t *testing.T) {
	c := NewCoordinator(Config{Interval: time.Second, TolerableFailures: 5}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	c.Tick(at(1))
	var acts []Action
	for _, tk := range tasks4 {
		acts = append(acts, c.Ack(at(1.5), tk, 1, handle(tk, 1, "new:s1"+tk.String()))...)
	}
	want(t, "complete", acts, "complete(1)")
	want(t, "timeout does not hit a finalizing checkpoint", c.Tick(at(1000)), "")
	acts = c.Finalized(at(1000), 1, errors.New("hdfs: no space"))
	want(t, "write failed", acts, "abort(1)")
	ab := acts[0].(*AbortAction)
	if !strings.Contains(ab.Reason, "no space") || !reflect.DeepEqual(ab.DiscardShared, []string{"s1map#0", "s1map#1"}) {
		t.Errorf("abort %+v", ab)
	}
	if len(c.Completed()) != 0 || c.Stats().ConsecutiveFailures != 1 {
		t.Errorf("retained %d failures %d", len(c.Completed()), c.Stats().ConsecutiveFailures)
	}
	want(t, "finalized twice", c.Finalized(at(1000), 1, nil), "")
}

func TestInvalidHandleAbortsCheckpoint(t *testing.T) {
	bad := []struct {
		name string
		h    TaskStateHandle
	}{
		{"escaping path", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8, Files: []StateFile{{Path: "../../etc/passwd"}}}}}},
		{"absolute path", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8, Files: []StateFile{{Path: "/x"}}}}}},
		{"key groups beyond max parallelism", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8,
			Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 4, End: 8}, Files: []StateFile{{Path: "f"}}}}}}}},
		{"offsets count", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8,
			Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 3}, Files: []StateFile{{Path: "f", Size: 10}}, Offsets: []int64{0, 1}}}}}}},
		{"offsets descending", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8,
			Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRange{Start: 0, End: 1}, Files: []StateFile{{Path: "f", Size: 10}}, Offsets: []int64{5, 1}}}}}}},
		{"operator twice", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8}, {OperatorID: "o", MaxParallelism: 8}}}},
		{"metadata name", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o", MaxParallelism: 8, Files: []StateFile{{Path: "_metadata"}}}}}},
		{"zero max parallelism", TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "o"}}}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			c := NewCoordinator(Config{TolerableFailures: UnlimitedFailures}, tasks4, srcs, nil, 1)
			id, _ := c.TriggerCheckpoint(at(0))
			acts := c.Ack(at(1), map0, id, b.h)
			want(t, "ack", acts, "abort(1)")
			if r := acts[0].(*AbortAction).Reason; !strings.Contains(r, "invalid state handle") || !strings.Contains(r, "map#0") {
				t.Errorf("reason %q", r)
			}
		})
	}
	t.Run("shared file in a savepoint", func(t *testing.T) {
		c := NewCoordinator(Config{}, tasks4, srcs, nil, 1)
		id, _ := c.TriggerSavepoint(at(0), "/sp", SavepointPlain)
		want(t, "ack", c.Ack(at(1), map0, id, handle(map0, id, "shared-sst")), "abort(1)")
	})
	t.Run("max parallelism disagrees between subtasks", func(t *testing.T) {
		c := NewCoordinator(Config{TolerableFailures: 3}, tasks4, srcs, nil, 1)
		id, _ := c.TriggerCheckpoint(at(0))
		want(t, "ack 0", c.Ack(at(1), map0, id, handle(map0, id)), "")
		h := handle(map1, id)
		h.Operators[0].MaxParallelism = 256
		want(t, "ack 1", c.Ack(at(1), map1, id, h), "abort(1)")
	})
}

func TestRestoreNumbering(t *testing.T) {
	restored := &Completed{JobID: "j", ID: 7, ExternalPath: "/ck/j/chk-7", Operators: []*OperatorState{{OperatorID: "op-map", Parallelism: 1, MaxParallelism: 128,
		Subtasks: []SubtaskState{{Files: []StateFile{{Path: "s7", Size: 1, Shared: true}}}}}}}
	cases := []struct {
		name     string
		cfgJob   string
		restored *Completed
		nextID   int64
		firstID  int64
		owned    bool
	}{
		{"fresh job", "j", nil, 0, 1, false},
		{"same job: ids continue, checkpoint owned", "j", restored, 1, 8, true},
		{"nextID larger wins", "j", restored, 20, 20, true},
		{"other job's checkpoint: not owned", "k", restored, 1, 8, false},
		{"same job id, other directory: not owned", "j", &Completed{JobID: "j", ID: 7, ExternalPath: "/elsewhere/chk-7"}, 1, 8, false},
		{"same job id, URI with trailing slash", "j", &Completed{JobID: "j", ID: 7, ExternalPath: "/ck/j/chk-7/"}, 1, 8, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCoordinator(Config{JobID: tc.cfgJob, JobDir: "/ck/j", Interval: time.Second}, tasks4, srcs, tc.restored, tc.nextID)
			c.Tick(at(0))
			acts := c.Tick(at(1))
			if got := acts[0].(*TriggerAction).ID; got != tc.firstID {
				t.Fatalf("first id %d, want %d", got, tc.firstID)
			}
			if tc.restored != nil && c.Latest() != tc.restored {
				t.Error("Latest is not the restored checkpoint")
			}
			if got := len(c.Completed()) == 1; got != tc.owned {
				t.Fatalf("owned = %v, want %v", got, tc.owned)
			}
			acts = ackAll(t, c, at(2), tc.firstID, tasks4)
			if tc.owned {
				want(t, "complete", acts, fmt.Sprintf("complete(%d) notify(%d) discard(7)", tc.firstID, tc.firstID))
				if got := acts[2].(*DiscardAction).SharedFiles; !reflect.DeepEqual(got, tc.restored.SharedFiles()) {
					t.Errorf("restored shared files freed: %v", got)
				}
			} else {
				want(t, "complete", acts, fmt.Sprintf("complete(%d) notify(%d)", tc.firstID, tc.firstID))
			}
			if tc.restored != nil && c.Stats().Counts.Restored != 1 {
				t.Error("restored count")
			}
		})
	}
}

func TestTasksFinished(t *testing.T) {
	c := NewCoordinator(Config{Interval: time.Second, MaxConcurrent: 2}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	want(t, "t1", c.Tick(at(1)), "trigger(1)")
	c.Ack(at(1.1), src0, 1, handle(src0, 1))
	c.TasksFinished(src0) // acked 1 already: it stays
	c.TasksFinished(TaskID{"nope", 0})
	want(t, "after finish", c.Tick(at(1.2)), "")
	c.TasksFinished(src1) // has not acked 1
	acts := c.Tick(at(1.3))
	want(t, "abort", acts, "abort(1)")
	if r := acts[0].(*AbortAction).Reason; !strings.Contains(r, "src#1 finished") {
		t.Errorf("reason %q", r)
	}
	want(t, "no more triggers", c.Tick(at(10)), "")
	if c.Stats().ConsecutiveFailures != 0 {
		t.Error("finished task counted as failure")
	}
	// Reset (failover) runs the finished tasks again and restarts the schedule.
	want(t, "reset", c.Reset(at(11), "task failed"), "")
	want(t, "schedule", c.Tick(at(11)), "")
	want(t, "trigger", c.Tick(at(12)), "trigger(2)")
	acts = c.Reset(at(12.5), "task failed")
	want(t, "reset aborts", acts, "abort(2)")
	if c.Stats().ConsecutiveFailures != 0 || !strings.Contains(acts[0].(*AbortAction).Reason, "failover") {
		t.Error("failover abort counted or unexplained")
	}
}

func TestNoTasksAndNoSources(t *testing.T) {
	c := NewCoordinator(Config{}, nil, nil, nil, 1)
	_, acts := c.TriggerSavepoint(at(0), "/sp", SavepointPlain)
	want(t, "empty job", acts, "trigger(1) complete(1)")
	want(t, "finalize", c.Finalized(at(0), 1, nil), "notify(1)")
	c = NewCoordinator(Config{}, tasks4, nil, nil, 1)
	_, acts = c.TriggerSavepoint(at(0), "/sp", SavepointPlain)
	want(t, "no sources", acts, "abort(1)")
	c = NewCoordinator(Config{}, tasks4, srcs, nil, 1)
	_, acts = c.TriggerSavepoint(at(0), "", SavepointStop)
	want(t, "no savepoint dir", acts, "abort(1)")
	if c.stopping != 0 {
		t.Error("a refused stop-with-savepoint still holds back checkpoints")
	}
}

func TestStatsSummaryAndHistory(t *testing.T) {
	c := NewCoordinator(Config{Interval: time.Second, History: 3}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	for id := int64(1); id <= 5; id++ {
		c.Tick(at(float64(id)))
		ackAll(t, c, at(float64(id)+0.25*float64(id)), id, tasks4)
	}
	c.Tick(at(7))
	s := c.Stats()
	if s.Counts.Total != 6 || s.Counts.Completed != 5 || s.Counts.InProgress != 1 || s.Counts.Failed != 0 {
		t.Errorf("counts %+v", s.Counts)
	}
	if len(s.History) != 3 || s.History[0].ID != 6 || s.History[0].Status != StatusInProgress || s.History[2].ID != 4 {
		t.Errorf("history %+v", s.History)
	}
	if s.Summary.EndToEndDuration.Min != 250 || s.Summary.EndToEndDuration.Max != 1250 || s.Summary.EndToEndDuration.Avg != 750 {
		t.Errorf("duration summary %+v", s.Summary.EndToEndDuration)
	}
	l := s.Latest.Completed
	// 2 map files of 1000 bytes + 2 source snapshots of 10 bytes ("offset-0-5").
	if l.ID != 5 || l.StateSize != 2020 || l.CheckpointedSize != 220 || l.AlignmentDuration != 2 || l.NumAcknowledgedSubtasks != 4 {
		t.Errorf("latest %+v", l)
	}
	// Stats is a copy.
	s.History[0].Status = "x"
	if c.Stats().History[0].Status != StatusInProgress {
		t.Error("Stats shares memory with the coordinator")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Interval: time.Minute}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{Interval: -1, Timeout: -1, TolerableFailures: -5, Mode: 7}.Validate()
	for _, s := range []string{"interval", "timeout", "tolerable-failed-checkpoints", "mode"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate error %v does not mention %s", err, s)
		}
	}
	d := Config{Interval: -1, TolerableFailures: -5}.withDefaults()
	if d.Timeout != DefaultTimeout || d.MaxConcurrent != 1 || d.Retained != 1 || d.TolerableFailures != 0 || d.Interval != 0 {
		t.Errorf("defaults %+v", d)
	}
	if m, err := ParseMode("at-least-once"); err != nil || m != AtLeastOnce {
		t.Errorf("ParseMode: %v %v", m, err)
	}
	if _, err := ParseMode("twice"); err == nil {
		t.Error("ParseMode accepted junk")
	}
}

// A pending checkpoint's acknowledged references protect shared files from
// deletion, and a reference to an already deleted file is refused.
func TestSharedFilesReusedByPendingCheckpoints(t *testing.T) {
	setup := func() *Coordinator {
		c := NewCoordinator(Config{Interval: time.Second, MaxConcurrent: 2, TolerableFailures: UnlimitedFailures}, tasks4, srcs, nil, 1)
		c.Tick(at(0))
		want(t, "t1", c.Tick(at(1)), "trigger(1)")
		for _, tk := range tasks4 {
			sh := []string{}
			if tk == map0 {
				sh = []string{"new:x"}
			}
			finalizeIfComplete(c, at(1.5), c.Ack(at(1.5), tk, 1, handle(tk, 1, sh...)))
		}
		if c.Latest() == nil || c.Latest().ID != 1 {
			t.Fatal("checkpoint 1 not completed")
		}
		want(t, "t2", c.Tick(at(2)), "trigger(2)")
		want(t, "t3", c.Tick(at(3)), "trigger(3)")
		return c
	}
	ack := func(c *Coordinator, id int64, shared ...string) []Action {
		var acts []Action
		for _, tk := range tasks4 {
			sh := []string{}
			if tk == map0 {
				sh = shared
			}
			acts = append(acts, c.Ack(at(4), tk, id, handle(tk, id, sh...))...)
		}
		return append(acts, finalizeIfComplete(c, at(4), acts)...)
	}

	// Checkpoint 2 was snapshotted before the task learned that 1 completed
	// (it re-uploaded x as y); 3 after (it reuses x).
	c := setup()
	want(t, "3 acks first", ack(c, 3, "x"), "complete(3) notify(3) abort(2) discard(1)")
	c = setup()
	acts := c.Ack(at(4), map0, 3, handle(map0, 3, "x")) // acknowledged, not complete
	want(t, "3 partly", acts, "")
	acts = ack(c, 2, "new:y")
	want(t, "2 completes", acts, "complete(2) notify(2) discard(1)")
	if got := acts[2].(*DiscardAction).SharedFiles; len(got) != 0 {
		t.Fatalf("x deleted while pending checkpoint 3 references it: %v", got)
	}
	// 3 completes: 2 is discarded, y goes; x stays.
	acts = nil
	for _, tk := range []TaskID{src0, src1, map1} {
		acts = append(acts, c.Ack(at(5), tk, 3, handle(tk, 3))...)
	}
	acts = append(acts, finalizeIfComplete(c, at(5), acts)...)
	want(t, "3 completes", acts, "complete(3) notify(3) discard(2)")
	if got := acts[2].(*DiscardAction).SharedFiles; !reflect.DeepEqual(got, []string{"y"}) {
		t.Errorf("freed %v, want [y]", got)
	}

	// Had 3's acknowledgement come after 2 completed, x would be gone:
	// the acknowledgement is refused rather than completing a broken checkpoint.
	c = setup()
	acts = ack(c, 2, "new:y")
	if got := acts[2].(*DiscardAction).SharedFiles; !reflect.DeepEqual(got, []string{"x"}) {
		t.Fatalf("freed %v, want [x]", got)
	}
	acts = c.Ack(at(5), map0, 3, handle(map0, 3, "x"))
	want(t, "stale reuse", acts, "abort(3)")
	if r := acts[0].(*AbortAction).Reason; !strings.Contains(r, "reuses shared file \"x\"") {
		t.Errorf("reason %q", r)
	}

	// A "new" file under a name that is in use is a naming bug.
	c = setup()
	acts = c.Ack(at(5), map0, 2, handle(map0, 2, "new:x"))
	want(t, "name collision", acts, "abort(2)")
	if r := acts[0].(*AbortAction).Reason; !strings.Contains(r, "unique names") {
		t.Errorf("reason %q", r)
	}
	if c.SharedRegistry().Refs("x") != 1 {
		t.Errorf("refs of x = %d after the refused ack, want 1", c.SharedRegistry().Refs("x"))
	}
}

func TestRestartWithNewTasks(t *testing.T) {
	c := NewCoordinator(Config{Interval: time.Second, Retained: 2}, tasks4, srcs, nil, 1)
	c.Tick(at(0))
	c.Tick(at(1))
	ackAll(t, c, at(1.5), 1, tasks4)
	want(t, "t2", c.Tick(at(2)), "trigger(2)")
	// Rescaled to parallelism 3 for the map vertex.
	map2 := TaskID{"map", 2}
	tasks5 := append(append([]TaskID(nil), tasks4...), map2)
	want(t, "restart", c.Restart(at(2.5), "rescale", tasks5, srcs), "abort(2)")
	want(t, "schedule", c.Tick(at(3)), "")
	want(t, "t3", c.Tick(at(4)), "trigger(3)")
	acts := ackAll(t, c, at(4.5), 3, tasks4)
	want(t, "not complete without map#2", acts, "")
	h := handle(map2, 3)
	h.Operators[0].Keyed[0].KeyGroups = serde.KeyGroupRangeFor(128, 3, 2)
	acts = c.Ack(at(4.6), map2, 3, h)
	want(t, "complete", acts, "complete(3)")
	if p := acts[0].(*CompleteAction).Checkpoint.Operator("op-map").Parallelism; p != 3 {
		t.Errorf("parallelism %d", p)
	}
	if s := c.Stats(); s.Counts.Completed != 1 || s.Counts.Restored != 1 || len(c.Completed()) != 1 {
		t.Errorf("stats %+v retained %d", s.Counts, len(c.Completed()))
	}
}
