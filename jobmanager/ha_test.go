package jobmanager

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
)

func haGraph(id string, conf map[string]string) *jobgraph.JobGraph {
	return &jobgraph.JobGraph{JobId: id, Name: "job " + id, Config: conf, Args: []string{"-n", "5"},
		Vertices: []*jobgraph.Vertex{{Id: "v1", Name: "src", Parallelism: 2, MaxParallelism: 128,
			Operators: []*jobgraph.Operator{{Id: "op1", Kind: jobgraph.OperatorKind_SOURCE}}}}}
}

func TestStoredJobRoundTrip(t *testing.T) {
	in := StoredJob{Graph: haGraph("0123abcd", map[string]string{"parallelism.default": "2"}), Artifact: "hdfs:///s/jobs/bin", Submitted: time.UnixMilli(1700000000123)}
	b, err := EncodeStoredJob(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeStoredJob(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Graph.JobId != "0123abcd" || out.Graph.Name != "job 0123abcd" || out.Artifact != in.Artifact || !out.Submitted.Equal(in.Submitted) ||
		out.Graph.Config["parallelism.default"] != "2" || len(out.Graph.Vertices) != 1 || out.Graph.Vertices[0].Parallelism != 2 || len(out.Graph.Args) != 2 {
		t.Fatalf("round trip changed the job: %+v", out)
	}
}

func TestDecodeStoredJobRejectsDamage(t *testing.T) {
	b, err := EncodeStoredJob(StoredJob{Graph: haGraph("j1", nil), Submitted: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTAJOB!"), b[8:]...),
		"truncated": b[:len(b)-7],
		"flipped":   flipped,
	}
	for name, data := range cases {
		_, err := DecodeStoredJob(data)
		if !errors.Is(err, ErrCorruptHAFile) {
			t.Errorf("%s: got %v, want ErrCorruptHAFile", name, err)
		}
	}
	if _, err := EncodeStoredJob(StoredJob{}); err == nil {
		t.Error("encoding a job without a graph succeeded")
	}
}

func TestHAStoreJobsResultsAndLeader(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	root, err := HARoot("file://"+dir+"/", "application_1_0001")
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenHAStore(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Minute)
	if err := st.PutJob(ctx, StoredJob{Graph: haGraph("bbb", nil), Submitted: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutJob(ctx, StoredJob{Graph: haGraph("aaa", nil), Artifact: "hdfs:///x", Submitted: t0}); err != nil {
		t.Fatal(err)
	}
	jobs, errs := st.Jobs(ctx)
	if len(errs) > 0 || len(jobs) != 2 || jobs[0].Graph.JobId != "aaa" || jobs[1].Graph.JobId != "bbb" || jobs[0].Artifact != "hdfs:///x" {
		t.Fatalf("Jobs = %v, %v; want aaa then bbb", jobs, errs)
	}
	// A corrupt file is reported by name and left alone; the other job is still returned.
	bad := filepath.Join(dir, "application_1_0001", "jobs", "bbb.pb")
	if err := os.WriteFile(bad, []byte("FGHAJOB1 garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	jobs, errs = st.Jobs(ctx)
	if len(jobs) != 1 || jobs[0].Graph.JobId != "aaa" || len(errs) != 1 || !strings.Contains(errs[0].Error(), "jobs/bbb.pb") || !errors.Is(errs[0], ErrCorruptHAFile) {
		t.Fatalf("with a corrupt file: jobs %v, errors %v", jobs, errs)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("the corrupt file was removed: %v", err)
	}
	// A job file renamed to another job's name is corrupt too.
	good, _ := os.ReadFile(filepath.Join(dir, "application_1_0001", "jobs", "aaa.pb"))
	if err := os.WriteFile(bad, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs = st.Jobs(ctx); len(errs) != 1 || !strings.Contains(errs[0].Error(), "holds job aaa") {
		t.Fatalf("renamed file: %v", errs)
	}
	// Ending a job records its result and removes the stored job.
	if err := st.JobEnded(ctx, JobResult{JobID: "aaa", Name: "job aaa", Status: JobFinished, Ended: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "application_1_0001", "jobs", "aaa.pb")); !os.IsNotExist(err) {
		t.Fatalf("aaa.pb still there after JobEnded: %v", err)
	}
	res, errs := st.Results(ctx)
	if len(errs) > 0 || len(res) != 1 || res[0].JobID != "aaa" || res[0].Status != JobFinished {
		t.Fatalf("Results = %v, %v", res, errs)
	}
	if err := st.PutJob(ctx, StoredJob{Graph: haGraph("../x", nil)}); err == nil {
		t.Fatal("a job id with a slash was stored")
	}
	// Leader.
	if err := st.WriteLeader(ctx, Leader{RPC: "h:1", REST: "h:2", Attempt: "appattempt_1_0001_000002"}); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLeader(ctx, st.LeaderURI())
	if err != nil || l.RPC != "h:1" || l.REST != "h:2" || l.Written.IsZero() {
		t.Fatalf("ReadLeader = %+v, %v", l, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "application_1_0001", "leader"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLeader(ctx, st.LeaderURI()); !errors.Is(err, ErrCorruptHAFile) || !strings.Contains(err.Error(), "/leader") {
		t.Fatalf("corrupt leader: %v", err)
	}
	if _, err := ReadLeader(ctx, "file://"+dir+"/nope/leader"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing leader: %v", err)
	}
}

func TestHARootValidation(t *testing.T) {
	if _, err := HARoot("", "x"); err == nil {
		t.Error("empty storage dir accepted")
	}
	for _, id := range []string{"", "/", "a/b", ".."} {
		if _, err := HARoot("hdfs:///ha", id); err == nil {
			t.Errorf("cluster id %q accepted", id)
		}
	}
	if r, err := HARoot("hdfs:///ha/", "/default"); err != nil || r != "hdfs:///ha/default" {
		t.Errorf("HARoot = %q, %v", r, err)
	}
}

func TestPrepareRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	conf := map[string]string{"execution.checkpointing.dir": "file://" + dir, "execution.checkpointing.interval": "1s"}
	g := haGraph("feed", conf)
	// No checkpoint yet: the job restarts as submitted.
	r, err := PrepareRecovery(ctx, g)
	if err != nil || r.Checkpoint != nil || r.Graph.Config["execution.state-recovery.path"] != "" {
		t.Fatalf("no checkpoint: %+v, %v", r, err)
	}
	// chk-3 complete, chk-4 without metadata (the dead attempt's pending one): chk-3 is used.
	jobDir := checkpoint.JobDir(dir, "feed")
	if err := checkpoint.WriteMetadata(ctx, fs.Local{}, checkpoint.CheckpointDir(jobDir, 3), &checkpoint.Completed{JobID: "feed", ID: 3}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(checkpoint.CheckpointDir(jobDir, 4), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err = PrepareRecovery(ctx, g)
	if err != nil || r.Checkpoint == nil || r.Checkpoint.ID != 3 {
		t.Fatalf("PrepareRecovery = %+v, %v", r, err)
	}
	if p := r.Graph.Config["execution.state-recovery.path"]; !strings.HasSuffix(p, "/feed/chk-3") {
		t.Fatalf("recovery path %q", p)
	}
	if len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0].Error(), "chk-4") {
		t.Fatalf("skipped = %v", r.Skipped)
	}
	if g.Config["execution.state-recovery.path"] != "" || r.Graph.JobId != "feed" {
		t.Fatal("the stored graph was modified or the job id changed")
	}
	if _, err := os.Stat(checkpoint.CheckpointDir(jobDir, 4)); err != nil {
		t.Fatalf("the incomplete checkpoint was deleted: %v", err)
	}
}

// fakeStore records what the JobManager stores.
type fakeStore struct {
	mu      sync.Mutex
	put     []string
	ended   []JobResult
	failPut error
}

func (f *fakeStore) PutJob(_ context.Context, j StoredJob) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failPut != nil {
		return f.failPut
	}
	f.put = append(f.put, j.Graph.JobId)
	return nil
}

func (f *fakeStore) JobEnded(_ context.Context, r JobResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, r)
	return nil
}

// A job is stored before Submit returns and its end is recorded; a recovered job numbers its
// executions from the given attempt; a store that cannot write fails the submission.
func TestJobStoreAndRecoveredAttempts(t *testing.T) {
	st := &fakeStore{}
	jm, err := Start(Config{Logger: zerolog.Nop(), JobStore: st, SlotWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer jm.Close()
	j, err := jm.SubmitRecovered(haGraph("rec1", nil), "", 2_000_000)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	stored := append([]string(nil), st.put...)
	st.mu.Unlock()
	if len(stored) != 1 || stored[0] != "rec1" {
		t.Fatalf("stored %v before Submit returned, want [rec1]", stored)
	}
	for _, e := range j.Snapshot().Executions {
		if e.Attempt != 2_000_000 || !strings.HasSuffix(e.ID, "-2000000") {
			t.Fatalf("recovered execution %s has attempt %d", e.ID, e.Attempt)
		}
	}
	j.Cancel()
	select {
	case <-j.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled job did not end within 20 s")
	}
	st.mu.Lock()
	ended := append([]JobResult(nil), st.ended...)
	st.mu.Unlock()
	if len(ended) != 1 || ended[0].JobID != "rec1" || ended[0].Status != JobCanceled {
		t.Fatalf("recorded ends %+v, want rec1 CANCELED", ended)
	}
	st.failPut = errors.New("hdfs down")
	if _, err := jm.Submit(haGraph("rec2", nil), ""); err == nil || !strings.Contains(err.Error(), "hdfs down") {
		t.Fatalf("submission with a failing store: %v", err)
	}
	if _, ok := jm.Job("rec2"); ok {
		t.Fatal("a job that could not be stored is known to the JobManager")
	}
	if _, err := jm.SubmitRecovered(haGraph("rec3", nil), "", -1); err == nil {
		t.Fatal("negative first attempt accepted")
	}
}
