package am

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/yarn"
)

// fakeRM is an in-memory scheduler: it keeps the outstanding total per allocation request id,
// allocates everything outstanding on the next heartbeat, and reports completions.
type fakeRM struct {
	mu        sync.Mutex
	want      map[int64]yarn.ResourceRequest
	next      int64
	completed []yarn.ContainerStatus
	released  []yarn.ContainerID
}

// runDriver creates a driver of cfg with the job view jm and runs it until the test ends (the
// end cancels it and waits for Run to return).
func runDriver(t *testing.T, cfg DriverConfig, jm JobView) (*Driver, context.Context) {
	t.Helper()
	d, err := NewDriver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.setJobView(jm)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, ctx
}

func (f *fakeRM) Allocate(_ context.Context, r yarn.AllocateRequest) (yarn.AllocateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.want == nil {
		f.want = map[int64]yarn.ResourceRequest{}
	}
	for _, a := range r.Asks {
		f.want[a.AllocationRequestID] = a
	}
	var resp yarn.AllocateResponse
	for id, a := range f.want {
		for ; a.NumContainers > 0; a.NumContainers-- {
			f.next++
			resp.Allocated = append(resp.Allocated, yarn.Container{ID: cid(f.next), Node: yarn.NodeID{Host: "nm1", Port: 4000},
				Resource: a.Capability, Priority: a.Priority, AllocationRequestID: id})
		}
		f.want[id] = a
	}
	for _, id := range r.Releases {
		f.released = append(f.released, id)
		f.completed = append(f.completed, yarn.ContainerStatus{ID: id, State: yarn.ContainerComplete, ExitStatus: yarn.ExitAborted})
	}
	resp.Completed, f.completed = f.completed, nil
	return resp, nil
}

func (f *fakeRM) complete(s yarn.ContainerStatus) {
	f.mu.Lock()
	f.completed = append(f.completed, s)
	f.mu.Unlock()
}

type fakeNM struct {
	rm      *fakeRM
	mu      sync.Mutex
	started map[yarn.ContainerID]yarn.ContainerLaunchContext
	stopped []yarn.ContainerID
}

func (n *fakeNM) StartContainer(_ context.Context, c yarn.Container, clc yarn.ContainerLaunchContext) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.started[c.ID] = clc
	return nil
}

func (n *fakeNM) StopContainers(_ context.Context, _ yarn.NodeID, ids ...yarn.ContainerID) (map[yarn.ContainerID]error, error) {
	n.mu.Lock()
	n.stopped = append(n.stopped, ids...)
	n.mu.Unlock()
	for _, id := range ids {
		n.rm.complete(yarn.ContainerStatus{ID: id, State: yarn.ContainerComplete, ExitStatus: yarn.ExitKilledByAppMaster})
	}
	return map[yarn.ContainerID]error{}, nil
}

func (n *fakeNM) snapshot() (map[yarn.ContainerID]yarn.ContainerLaunchContext, []yarn.ContainerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := map[yarn.ContainerID]yarn.ContainerLaunchContext{}
	for k, v := range n.started {
		s[k] = v
	}
	return s, append([]yarn.ContainerID(nil), n.stopped...)
}

type fakeJM struct {
	mu   sync.Mutex
	tms  map[string]TMView
	lost map[string]string
}

func (j *fakeJM) TaskManagerViews() map[string]TMView {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]TMView{}
	for k, v := range j.tms {
		out[k] = v
	}
	return out
}

func (j *fakeJM) TaskManagerLost(id, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.tms, id)
	j.lost[id] = reason
}

func (j *fakeJM) register(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tms[id] = TMView{Slots: 1}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDriverAgainstFakeYARN drives the whole driver (book, heartbeat loop, launches, stops) against
// an in-memory RM and NM: 2 slots → 2 containers launched with the contract's environment; a
// container exiting 137 is reported lost to the JobManager and replaced; the job's end stops the
// rest; an oversized TaskManager is refused with the options to change.
func TestDriverAgainstFakeYARN(t *testing.T) {
	rm := &fakeRM{}
	nm := &fakeNM{rm: rm, started: map[yarn.ContainerID]yarn.ContainerLaunchContext{}}
	jm := &fakeJM{tms: map[string]TMView{}, lost: map[string]string{}}
	spec := func(_ context.Context, job *jobmanager.JobInfo, slots int) (TaskManagerSpec, error) {
		return TaskManagerSpec{BinaryName: "counting", Binary: yarn.LocalResource{URL: "hdfs://nn:9000/s/counting", Size: 10, Timestamp: 5},
			JobManager: "am-host:6123", JobID: job.ID, ConfigJSON: `{}`, Args: job.Graph.Args, Slots: slots, User: "alice"}, nil
	}
	d, ctx := runDriver(t, DriverConfig{Allocator: rm, NM: nm, Spec: spec, Interval: 20 * time.Millisecond, FastInterval: 5 * time.Millisecond,
		MaxResource: yarn.Resource{MemoryMB: 4096, VCores: 8}, Logger: zerolog.Nop(),
		Settings: map[string]string{"taskmanager.memory.process.size": "512m", "taskmanager.numberOfTaskSlots": "1"}}, jm)

	job := &jobmanager.JobInfo{ID: "job1", Graph: &jobgraph.JobGraph{Args: []string{"--records", "10"}, Config: map[string]string{}}}
	if err := d.RequestSlots(ctx, job, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2 containers started", func() bool { s, _ := nm.snapshot(); return len(s) == 2 })
	started, _ := nm.snapshot()
	for id, clc := range started {
		if clc.Environment[cluster.EnvResourceID] != id.String() || clc.Environment[cluster.EnvRole] != cluster.RoleTaskManger ||
			clc.Environment[cluster.EnvJobID] != "job1" || clc.Environment[cluster.EnvHost] != "nm1" {
			t.Fatalf("container %s environment %v", id, clc.Environment)
		}
		if !strings.HasPrefix(clc.Commands[0], "./counting --records 10 1><LOG_DIR>/taskmanager.out") {
			t.Fatalf("command %q", clc.Commands[0])
		}
		jm.register(id.String())
	}
	if c := d.Counts("job1"); c.Requested != 0 {
		t.Fatalf("counts after allocation %+v", c)
	}
	eventually(t, "both registered", func() bool { return d.Counts("job1").Registered == 2 })

	// A TaskManager process dies: YARN reports the container completed.
	rm.complete(yarn.ContainerStatus{ID: cid(1), State: yarn.ContainerComplete, ExitStatus: 137, Diagnostics: "Killed by external signal"})
	eventually(t, "the loss reported and a replacement started", func() bool {
		jm.mu.Lock()
		_, lost := jm.lost[cid(1).String()]
		jm.mu.Unlock()
		s, _ := nm.snapshot()
		return lost && len(s) == 3
	})
	jm.mu.Lock()
	reason := jm.lost[cid(1).String()]
	jm.mu.Unlock()
	if !strings.Contains(reason, "exited with status 137") || !strings.Contains(reason, "Killed by external signal") {
		t.Errorf("loss reason %q", reason)
	}
	// The JobManager's restart asks for the missing slot while the replacement starts: nothing new.
	if err := d.RequestSlots(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if s, _ := nm.snapshot(); len(s) != 3 {
		t.Fatalf("%d containers started; the restart's request must not over-allocate", len(s))
	}

	d.JobEnded("job1")
	eventually(t, "the job's containers stopped", func() bool { _, stopped := nm.snapshot(); return len(stopped) == 2 })
	eventually(t, "the job forgotten", func() bool { c := d.Counts("job1"); return c == Counts{} })

	big := &jobmanager.JobInfo{ID: "job2", Graph: &jobgraph.JobGraph{Config: map[string]string{"taskmanager.memory.process.size": "8g"}}}
	if err := d.RequestSlots(ctx, big, 1); err == nil || !strings.Contains(err.Error(), "taskmanager.memory.process.size") {
		t.Fatalf("oversized TaskManager: %v", err)
	}
}

func TestFinalStatus(t *testing.T) {
	for _, c := range []struct {
		st   jobmanager.JobStatus
		fail string
		want yarn.FinalStatus
		diag string
	}{
		{jobmanager.JobFinished, "", yarn.FinalSucceeded, "finished"},
		{jobmanager.JobCanceled, "", yarn.FinalKilled, "cancelled"},
		{jobmanager.JobFailed, "Count (1/2) failed: boom", yarn.FinalFailed, "failed: Count (1/2) failed: boom"},
	} {
		got, diag := FinalStatus(jobmanager.JobSnapshot{ID: "j", Name: "n", Status: c.st, Failure: c.fail})
		if got != c.want || !strings.Contains(diag, c.diag) {
			t.Errorf("%s: %s %q", c.st, got, diag)
		}
	}
}
