package jobmanager

import (
	"reflect"
	"testing"

	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/task"
)

// TestPebbleHandleRoundTrip: a task's pebble-v1 acknowledgement becomes a KeyedState with
// relative shared/exclusive files and New flags, survives _metadata, and comes back in a
// deployment with resolved URIs and the key-group range; heap-v1 keeps its single file.
func TestPebbleHandleRoundTrip(t *testing.T) {
	v := &jobgraph.Vertex{Id: "v", Parallelism: 2, MaxParallelism: 128,
		Operators: []*jobgraph.Operator{{Id: "op", Kind: jobgraph.OperatorKind_ONE_INPUT}, {Id: "h", Kind: jobgraph.OperatorKind_ONE_INPUT}}}
	e := &Execution{Vertex: v, Subtask: 1}
	ack := &jobgraph.TaskStateSnapshot{Operators: []*jobgraph.OperatorSubtaskState{
		{OperatorId: "op", Subtask: 1, Parallelism: 2, MaxParallelism: 128, Keyed: &jobgraph.StateHandle{Format: "pebble-v1", Files: []*jobgraph.StateFileRef{
			{Path: "0123456789abcdef-000004.sst", Size: 100, Shared: true, New: true},
			{Path: "fedcba9876543210-000002.sst", Size: 50, Shared: true},
			{Path: "op-1/MANIFEST-000001", Size: 10},
			{Path: "op-1/pebble-snapshot.json", Size: 20},
			{Path: "op-1/pebble-meta.fgks", Size: 30},
		}}},
		{OperatorId: "h", Subtask: 1, Parallelism: 2, MaxParallelism: 128, Keyed: &jobgraph.StateHandle{Path: "file:///c/job/chk-3/h-1.keyed", Size: 7}},
	}}
	h, err := handleFromAck(e, ack)
	if err != nil {
		t.Fatal(err)
	}
	kg := serde.KeyGroupRangeFor(128, 2, 1)
	want := checkpoint.KeyedState{KeyGroups: kg, Format: "pebble-v1", Files: []checkpoint.StateFile{
		{Path: "0123456789abcdef-000004.sst", Size: 100, Shared: true, New: true},
		{Path: "fedcba9876543210-000002.sst", Size: 50, Shared: true},
		{Path: "op-1/MANIFEST-000001", Size: 10},
		{Path: "op-1/pebble-snapshot.json", Size: 20},
		{Path: "op-1/pebble-meta.fgks", Size: 30},
	}}
	if !reflect.DeepEqual(h.Operators[0].Keyed, []checkpoint.KeyedState{want}) {
		t.Fatalf("pebble handle: %+v", h.Operators[0].Keyed)
	}
	if err := h.Validate(false); err != nil {
		t.Fatalf("the coordinator would refuse the handle: %v", err)
	}
	if h.Validate(true) == nil {
		t.Fatal("a savepoint must not accept shared files")
	}
	c := &checkpoint.Completed{JobID: "job", ID: 3, ExternalPath: "file:///c/job/chk-3", Operators: []*checkpoint.OperatorState{
		{OperatorID: "h", Parallelism: 2, MaxParallelism: 128, Subtasks: []checkpoint.SubtaskState{{Subtask: 1, Keyed: h.Operators[1].Keyed}}},
		{OperatorID: "op", Parallelism: 2, MaxParallelism: 128, Subtasks: []checkpoint.SubtaskState{{Subtask: 1, Keyed: h.Operators[0].Keyed}}},
	}}
	data, err := checkpoint.MarshalMetadata(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := checkpoint.UnmarshalMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	back.ExternalPath = c.ExternalPath
	rs := restoreState(back, v)
	if len(rs) != 2 {
		t.Fatalf("%d restore states", len(rs))
	}
	p := rs[0].Keyed
	if p.Format != "pebble-v1" || !p.KeyGroupsSet || int(p.KeyGroupStart) != kg.Start || int(p.KeyGroupEnd) != kg.End || len(p.Files) != 5 || p.Size != 210 {
		t.Fatalf("pebble restore handle: %+v", p)
	}
	if p.Files[0].Path != "file:///c/job/shared/0123456789abcdef-000004.sst" || !p.Files[0].Shared ||
		p.Files[3].Path != "file:///c/job/chk-3/op-1/pebble-snapshot.json" || p.Files[3].Shared {
		t.Fatalf("resolved paths: %v", p.Files)
	}
	if hp := rs[1].Keyed; hp.Path != "file:///c/job/chk-3/h-1.keyed" || hp.Size != 7 || hp.Format != "" {
		t.Fatalf("heap restore handle: %+v", hp)
	}
}

// TestDeclineIsFailure: declines of tasks that cannot take part and of checkpoints subsumed
// during alignment do not count towards the tolerable failures; snapshot errors do.
func TestDeclineIsFailure(t *testing.T) {
	for reason, want := range map[string]bool{
		task.DeclineNotReadyPrefix + "not a running source task":                                      false,
		task.DeclineSubsumedPrefix + "checkpoint 4 overtaken by 5 during alignment":                   false,
		task.DeclineSubsumedPrefix + "checkpoint 4 superseded during alignment: checkpoint 5 aborted": false,
		"keyed state snapshot of Count: disk full":                                                    true,
		"writing hdfs://nn/ckpt/chk-3/op-0.keyed: connection refused":                                 true,
	} {
		if got := declineIsFailure(reason); got != want {
			t.Errorf("declineIsFailure(%q) = %v, want %v", reason, got, want)
		}
	}
}
