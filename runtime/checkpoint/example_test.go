package checkpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/serde"
)

// The JobMaster's loop around the Coordinator: feed it inputs, carry out the
// actions in order. Here one source task and one keyed task "run" inline.
func Example() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "ckpt-example")
	defer os.RemoveAll(root)
	jobDir := checkpoint.JobDir(filepath.ToSlash(root), "job-1")
	fsys, _, _ := fs.Get(ctx, jobDir)

	src, keyed := checkpoint.TaskID{Vertex: "src", Subtask: 0}, checkpoint.TaskID{Vertex: "agg", Subtask: 0}
	c := checkpoint.NewCoordinator(checkpoint.Config{JobID: "job-1", JobDir: jobDir, Interval: time.Second},
		[]checkpoint.TaskID{src, keyed}, []checkpoint.TaskID{src}, nil, 1)

	// run carries out actions; a real JobMaster sends RPCs to tasks instead
	// of acknowledging inline.
	var run func(now time.Time, acts []checkpoint.Action)
	run = func(now time.Time, acts []checkpoint.Action) {
		for _, a := range acts {
			switch a := a.(type) {
			case *checkpoint.TriggerAction:
				fmt.Println("trigger", a.ID)
				// The tasks snapshot: write files below a.Dir, then acknowledge.
				path := fs.Join(a.Dir, "agg-0.state")
				_ = fs.WriteFileAtomic(ctx, fsys, path, []byte("state bytes"))
				run(now, c.Ack(now, src, a.ID, checkpoint.TaskStateHandle{Operators: []checkpoint.OperatorSubtaskState{
					{OperatorID: "source", MaxParallelism: 128, SourceReader: []byte("offset=42")}}}))
				run(now, c.Ack(now, keyed, a.ID, checkpoint.TaskStateHandle{Operators: []checkpoint.OperatorSubtaskState{
					{OperatorID: "agg", MaxParallelism: 128, Keyed: []checkpoint.KeyedState{{
						KeyGroups: serde.KeyGroupRange{Start: 0, End: 127}, Format: "heap-v1",
						Files: []checkpoint.StateFile{{Path: "agg-0.state", Size: 11}}}}}}}))
			case *checkpoint.CompleteAction:
				err := checkpoint.WriteMetadata(ctx, fsys, a.Checkpoint.ExternalPath, a.Checkpoint)
				run(now, c.Finalized(now, a.Checkpoint.ID, err))
			case *checkpoint.NotifyCompleteAction:
				fmt.Println("completed", a.ID)
			case *checkpoint.AbortAction, *checkpoint.DiscardAction, *checkpoint.DiscardStateAction:
				fmt.Println(a)
				if err := checkpoint.Cleanup(ctx, a); err != nil {
					fmt.Println(err)
				}
			case *checkpoint.FailJobAction:
				fmt.Println("fail the job:", a.Reason)
			}
		}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i <= 3; i++ {
		run(start.Add(time.Duration(i)*time.Second), c.Tick(start.Add(time.Duration(i)*time.Second)))
	}

	// After a JobManager restart: the newest complete checkpoint.
	latest, skipped := checkpoint.FindLatest(ctx, fsys, jobDir)
	fmt.Println("latest", latest.ID, "skipped", len(skipped), "source offset", string(latest.Operator("source").Subtasks[0].SourceReader))
	entries, _ := os.ReadDir(filepath.FromSlash(jobDir))
	for _, e := range entries {
		fmt.Println("on disk:", e.Name())
	}
	// Output:
	// trigger 1
	// completed 1
	// trigger 2
	// completed 2
	// discard 1 shared=[]
	// trigger 3
	// completed 3
	// discard 2 shared=[]
	// latest 3 skipped 0 source offset offset=42
	// on disk: chk-3
}
