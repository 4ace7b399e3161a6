package am

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/taskmanager"
	"github.com/flink-go/flink-go/yarn"
)

func TestAttemptOf(t *testing.T) {
	cases := map[string]yarn.AttemptID{
		"container_1700000000000_0007_02_000001":     {App: yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 7}, Attempt: 2},
		"container_e17_1700000000000_0007_01_000001": {App: yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 7}, Attempt: 1},
		" container_1_0001_000003_000001\n":          {App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}, Attempt: 3},
	}
	for in, want := range cases {
		got, err := AttemptOf(in)
		if err != nil || got != want {
			t.Errorf("AttemptOf(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "container_", "application_1_0001", "container_1_0001_x_000001", "container_1_0001_00_000001", "container_ex_1_0001_01_000001"} {
		if _, err := AttemptOf(bad); err == nil {
			t.Errorf("AttemptOf(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "CONTAINER_ID") {
			t.Errorf("AttemptOf(%q): error %q does not name CONTAINER_ID", bad, err)
		}
	}
}

// haConf returns a configuration with the keys of m set (configs.SetAll, origin "test"); a key
// or value it refuses fails the test.
func haConf(t *testing.T, m map[string]string) *configs.Configuration {
	t.Helper()
	c := configs.New()
	if err := c.SetAll(m, configs.CodeOrigin("test")); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecideHA(t *testing.T) {
	app := yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 3}
	staging := "hdfs://nn:8020/user/u/.flink-go/" + app.String()
	// Off by default and with one attempt.
	for _, c := range []*configs.Configuration{haConf(t, nil), haConf(t, map[string]string{"yarn.application-attempts": "1"})} {
		if s, err := DecideHA(c, app, staging); err != nil || s.Enabled {
			t.Fatalf("HA on without being asked: %+v %v", s, err)
		}
	}
	// Two attempts imply FILESYSTEM HA in the staging directory, cluster id = application id.
	s, err := DecideHA(haConf(t, map[string]string{"yarn.application-attempts": "2"}), app, staging)
	if err != nil || !s.Enabled || s.Root != staging+"/ha/"+app.String() || !strings.Contains(s.Reason, "yarn.application-attempts=2") {
		t.Fatalf("attempts=2: %+v %v", s, err)
	}
	// An explicit storage directory and cluster id.
	s, err = DecideHA(haConf(t, map[string]string{"high-availability.type": "FILESYSTEM", "high-availability.storageDir": "s3://b/ha/", "high-availability.cluster-id": "/etl"}), app, staging)
	if err != nil || !s.Enabled || s.Root != "s3://b/ha/etl" {
		t.Fatalf("explicit: %+v %v", s, err)
	}
	// The default cluster id ("/default") means: the application id.
	s, err = DecideHA(haConf(t, map[string]string{"high-availability.type": "ZOOKEEPER", "high-availability.cluster-id": "/default"}), app, staging)
	if err != nil || s.Root != staging+"/ha/"+app.String() {
		t.Fatalf("zookeeper/default id: %+v %v", s, err)
	}
	// No place to store anything.
	if _, err := DecideHA(haConf(t, map[string]string{"yarn.application-attempts": "2"}), app, ""); err == nil || !strings.Contains(err.Error(), "high-availability.storageDir") {
		t.Fatalf("no storage: %v", err)
	}
	if _, err := DecideHA(haConf(t, map[string]string{"yarn.application-attempts": "2", "high-availability.cluster-id": "a/b"}), app, staging); err == nil {
		t.Fatal("a cluster id with a slash was accepted")
	}
}

func storedJob(id string) jobmanager.StoredJob {
	return jobmanager.StoredJob{Graph: &jobgraph.JobGraph{JobId: id, Name: "n-" + id}}
}

func TestPlanRecovery(t *testing.T) {
	res := []jobmanager.JobResult{{JobID: "old", Status: jobmanager.JobFinished}}
	// Application, first attempt, empty store: run the command line's job.
	if p := PlanRecovery(true, true, nil, nil, nil); len(p.Recover) != 0 || p.Ended != nil || p.Fail != "" || p.AdoptFor != "" {
		t.Fatalf("empty: %+v", p)
	}
	// Application, later attempt: the stored job, and the kept containers are its.
	p := PlanRecovery(true, false, []jobmanager.StoredJob{storedJob("a")}, nil, nil)
	if len(p.Recover) != 1 || p.AdoptFor != "a" || p.Ended != nil {
		t.Fatalf("stored job: %+v", p)
	}
	// The job ended before the AM died: finish with its result, run nothing.
	if p := PlanRecovery(true, false, nil, res, nil); p.Ended == nil || p.Ended.JobID != "old" || len(p.Recover) != 0 {
		t.Fatalf("ended: %+v", p)
	}
	// ... but never in a first attempt (another application's result under a shared cluster id).
	if p := PlanRecovery(true, true, nil, res, nil); p.Ended != nil {
		t.Fatalf("first attempt inherited a result: %+v", p)
	}
	// The stored job is unreadable: fail, never rerun from scratch.
	p = PlanRecovery(true, false, nil, nil, []error{errors.New("hdfs:///x/jobs/a.pb: corrupt")})
	if p.Fail == "" || !strings.Contains(p.Fail, "jobs/a.pb") || len(p.Recover) != 0 {
		t.Fatalf("corrupt: %+v", p)
	}
	// Session: every stored job; containers are adopted only when there is exactly one.
	p = PlanRecovery(false, false, []jobmanager.StoredJob{storedJob("a"), storedJob("b")}, res, nil)
	if len(p.Recover) != 2 || p.AdoptFor != "" || p.Ended != nil || p.Fail != "" {
		t.Fatalf("session: %+v", p)
	}
}

func TestBookAdoptedContainersCountUntilTheyRegister(t *testing.T) {
	b := newBook(t, BookConfig{MaxFailuresPerMinute: 10, RegistrationTimeout: time.Minute})
	if err := b.Adopt("j1", keyA, 1, []yarn.Container{ctr(1), ctr(2)}, t0); err != nil {
		t.Fatal(err)
	}
	// The recovered job asks for its 2 slots before the TaskManagers registered again: nothing new.
	if a := mustRequest(t, b, "j1", keyA, 1, 2, nil, t0); requested(a) != 0 {
		t.Fatalf("adopted containers not counted as in flight: %+v", a.Request)
	}
	tms := map[string]TMView{cid(1).String(): {Slots: 1, FreeSlots: 1}}
	b.Tick(tms, t0.Add(time.Second))
	if c := b.Counts("j1"); c.Registered != 1 || c.Starting != 1 {
		t.Fatalf("counts after one re-registration: %+v", c)
	}
	// The other never registers: stopped and replaced after the registration timeout.
	a := b.Tick(tms, t0.Add(2*time.Minute))
	if len(a.Stop) != 1 || a.Stop[0].Container != cid(2) || requested(a) != 1 {
		t.Fatalf("registration timeout of an adopted container: %+v", a)
	}
	// Bad input.
	if err := b.Adopt("j1", keyA, 1, []yarn.Container{ctr(1)}, t0); err == nil {
		t.Fatal("a container adopted twice")
	}
	if err := b.Adopt("j1", keyB, 1, []yarn.Container{ctr(9)}, t0); err == nil {
		t.Fatal("adopted with another container size")
	}
	if err := b.Adopt("", keyA, 1, nil, t0); err == nil {
		t.Fatal("empty job accepted")
	}
}

func TestLaunchContextPassesTheLeaderFile(t *testing.T) {
	spec := TaskManagerSpec{BinaryName: "job", JobManager: "h:1", JobID: "j", Slots: 1, HALeader: "hdfs:///s/ha/app/leader"}
	clc, err := spec.LaunchContext(ctr(1))
	if err != nil {
		t.Fatal(err)
	}
	if clc.Environment[taskmanager.EnvHALeader] != "hdfs:///s/ha/app/leader" {
		t.Fatalf("environment %v lacks %s", clc.Environment, taskmanager.EnvHALeader)
	}
	spec.HALeader = ""
	clc, _ = spec.LaunchContext(ctr(1))
	if _, ok := clc.Environment[taskmanager.EnvHALeader]; ok {
		t.Fatal("leader file passed without HA")
	}
}

// The driver adopts kept containers for the recovered job: the job's slot request asks YARN for
// nothing; their TaskManagers registering again make them registered; a kept container that
// completes is reported lost and replaced with a new container.
func TestDriverAdoptsKeptContainers(t *testing.T) {
	rm := &fakeRM{}
	nm := &fakeNM{rm: rm, started: map[yarn.ContainerID]yarn.ContainerLaunchContext{}}
	jm := &fakeJM{tms: map[string]TMView{}, lost: map[string]string{}}
	spec := func(_ context.Context, job *jobmanager.JobInfo, slots int) (TaskManagerSpec, error) {
		return TaskManagerSpec{BinaryName: "counting", JobManager: "am:1", JobID: job.ID, Slots: slots, HALeader: "hdfs:///ha/leader"}, nil
	}
	d, ctx := runDriver(t, DriverConfig{Allocator: rm, NM: nm, Spec: spec, Interval: 20 * time.Millisecond, FastInterval: 5 * time.Millisecond,
		Logger: zerolog.Nop(), Settings: map[string]string{"taskmanager.memory.process.size": "1024m", "taskmanager.numberOfTaskSlots": "1"}}, jm)

	job := &jobmanager.JobInfo{ID: "rec", Graph: &jobgraph.JobGraph{JobId: "rec", Config: map[string]string{}}}
	// Kept containers carry ids of attempt 1; the fake RM's new ones start at 1 as well, so use
	// high sequence numbers for the kept ones.
	kept := []yarn.Container{ctr(101), ctr(102)}
	if err := d.Adopt(ctx, job, kept); err != nil {
		t.Fatal(err)
	}
	if err := d.RequestSlots(ctx, job, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if s, _ := nm.snapshot(); len(s) != 0 {
		t.Fatalf("%d new containers started although 2 kept ones are on their way", len(s))
	}
	if c := d.Counts("rec"); c.Starting != 2 || c.Requested != 0 {
		t.Fatalf("counts %+v, want 2 starting", c)
	}
	jm.register(cid(101).String())
	jm.register(cid(102).String())
	eventually(t, "both kept TaskManagers registered", func() bool { return d.Counts("rec").Registered == 2 })

	rm.complete(yarn.ContainerStatus{ID: cid(102), State: yarn.ContainerComplete, ExitStatus: 137})
	eventually(t, "a replacement for the lost kept container", func() bool { s, _ := nm.snapshot(); return len(s) == 1 })
	started, _ := nm.snapshot()
	for _, clc := range started {
		if clc.Environment[taskmanager.EnvHALeader] != "hdfs:///ha/leader" {
			t.Fatalf("replacement environment %v lacks the leader file", clc.Environment)
		}
	}
	if err := d.Adopt(ctx, job, []yarn.Container{ctr(101)}); err == nil {
		t.Fatal("a container adopted twice")
	}
}
