package task

import (
	"strings"
	"testing"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/state"
)

func entropyTask(conf map[string]string, restore ...*jobgraph.OperatorSubtaskState) *Task {
	return &Task{d: &jobgraph.TaskDeployment{JobId: "job1", Subtask: 2, Attempt: 1, Config: conf, RestoreState: restore,
		Vertex: &jobgraph.Vertex{Parallelism: 4, MaxParallelism: 128}}}
}

func TestEntropyDataURI(t *testing.T) {
	on := entropyTask(map[string]string{"s3.entropy.key": "_entropy_", "s3.entropy.length": "4"})
	b := barrier{id: 3, dir: "s3://bkt/_entropy_/ckpt/job1/chk-3"}
	got, injected, err := on.dataURI(b, b.dir+"/op-2.keyed")
	if err != nil || !injected || !strings.HasPrefix(got, "s3://bkt/") || !strings.HasSuffix(got, "/ckpt/job1/chk-3/op-2.keyed") ||
		len(got) != len("s3://bkt/abcd/ckpt/job1/chk-3/op-2.keyed") || strings.Contains(got, "_entropy_") {
		t.Fatalf("data file: %q %v %v", got, injected, err)
	}
	again, _, _ := on.dataURI(b, b.dir+"/op-2.keyed")
	if again == got {
		t.Errorf("two data files got the same entropy %q (want fresh random characters per file)", got)
	}
	// Savepoints are never injected; without the key or the marker nothing changes.
	sp := barrier{id: 4, savepoint: true, dir: "s3://bkt/_entropy_/sp/savepoint-x"}
	if got, injected, _ := on.dataURI(sp, sp.dir+"/f"); injected || got != sp.dir+"/f" {
		t.Errorf("savepoint file injected: %q", got)
	}
	off := entropyTask(map[string]string{"s3.entropy.key": ""})
	if got, injected, _ := off.dataURI(b, b.dir+"/f"); injected || got != b.dir+"/f" {
		t.Errorf("without the key: %q", got)
	}
	if _, _, err := entropyTask(map[string]string{"s3.entropy.key": "a/b"}).dataURI(b, b.dir+"/f"); err == nil {
		t.Error("an invalid key was accepted")
	}
}

func TestEntropyPebbleSharedDir(t *testing.T) {
	conf := map[string]string{"s3.entropy.key": "_entropy_"}
	b := barrier{id: 3, dir: "s3://bkt/_entropy_/ckpt/job1/chk-3"}
	a, injected, err := entropyTask(conf).pebbleSharedDir(b, "op")
	if err != nil || !injected || !strings.HasSuffix(a, "/ckpt/job1/shared") || strings.Contains(a, "_entropy_") {
		t.Fatalf("shared dir %q %v %v", a, injected, err)
	}
	// Stable for the attempt: every checkpoint of the backend uploads to the same directory.
	b2 := barrier{id: 4, dir: "s3://bkt/_entropy_/ckpt/job1/chk-4"}
	if again, _, _ := entropyTask(conf).pebbleSharedDir(b2, "op"); again != a {
		t.Fatalf("shared dir changed between checkpoints: %q, %q", a, again)
	}
	if other, _, _ := entropyTask(conf).pebbleSharedDir(b, "op2"); other == a {
		t.Errorf("two operators share the injected directory %q (possible, but unlikely with 62^4 choices)", a)
	}
	// A subtask restored from one pebble handle of this job (its own key groups 64..95; the
	// deployment carries the other subtasks' handles too) keeps its injected directory.
	restored := "s3://bkt/Zz9q/ckpt/job1/shared"
	handle := func(sub int32, dir string) *jobgraph.OperatorSubtaskState {
		kg := keyGroupRange(128, 4, int(sub))
		return &jobgraph.OperatorSubtaskState{OperatorId: "op", Subtask: sub, Parallelism: 4, MaxParallelism: 128, Keyed: &jobgraph.StateHandle{
			Format: state.FormatPebble, KeyGroupStart: int32(kg.Start), KeyGroupEnd: int32(kg.End), KeyGroupsSet: true,
			Files: []*jobgraph.StateFileRef{{Path: dir + "/y-000001.sst", Shared: true}}}}
	}
	rs := &jobgraph.OperatorSubtaskState{OperatorId: "op", Subtask: 2, Parallelism: 4, MaxParallelism: 128, Keyed: &jobgraph.StateHandle{Format: state.FormatPebble, Files: []*jobgraph.StateFileRef{
		{Path: restored + "/x-000001.sst", Shared: true}, {Path: restored + "/x-000002.sst", Shared: true},
		{Path: "s3://bkt/Qq11/ckpt/job1/chk-2/op-2/MANIFEST-1"},
	}}}
	if got, _, _ := entropyTask(conf, handle(0, "s3://bkt/Aa11/ckpt/job1/shared"), rs, handle(3, "s3://bkt/Bb22/ckpt/job1/shared")).pebbleSharedDir(b, "op"); got != restored {
		t.Errorf("restored subtask uploads to %q, want its restored directory %q", got, restored)
	}
	// ... but never into another job's directory.
	if got, _, _ := entropyTask(conf, handle(2, "s3://bkt/Zz9q/ckpt/other-job/shared")).pebbleSharedDir(b, "op"); got != a {
		t.Errorf("restored from another job: uploads to %q, want %q", got, a)
	}
	// Rescaled: the handles of old subtasks 4 and 5 of 8 cover our key groups: a fresh directory.
	old := func(sub int32) *jobgraph.OperatorSubtaskState {
		return &jobgraph.OperatorSubtaskState{OperatorId: "op", Subtask: sub, Parallelism: 8, MaxParallelism: 128, Keyed: &jobgraph.StateHandle{
			Format: state.FormatPebble, Files: []*jobgraph.StateFileRef{{Path: restored + "/z.sst", Shared: true}}}}
	}
	if got, _, _ := entropyTask(conf, old(4), old(5)).pebbleSharedDir(b, "op"); got != a {
		t.Errorf("two restore handles: %q", got)
	}
	// No entropy: the plain shared directory.
	if got, injected, _ := entropyTask(map[string]string{"s3.entropy.key": ""}).pebbleSharedDir(barrier{dir: "s3://bkt/ckpt/job1/chk-3"}, "op"); injected || got != "s3://bkt/ckpt/job1/shared" {
		t.Errorf("without entropy: %q", got)
	}
}
