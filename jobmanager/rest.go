package jobmanager

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// Version is reported as "flink-version" by the REST API.
const Version = "flink-go-0.1"

// REST API: Flink's v1 endpoints and JSON shapes for what exists (see docs/rest.md). Paths work
// with and without the /v1 prefix, as in Flink.
func (jm *JobManager) restHandler() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"", "/v1"} {
		mux.HandleFunc("GET "+prefix+"/overview", jm.handleOverview)
		mux.HandleFunc("GET "+prefix+"/config", jm.handleConfig)
		mux.HandleFunc("GET "+prefix+"/jobmanager/config", jm.handleJMConfig)
		mux.HandleFunc("GET "+prefix+"/jobs", jm.handleJobs)
		mux.HandleFunc("POST "+prefix+"/jobs", jm.handleSubmit)
		mux.HandleFunc("GET "+prefix+"/jobs/overview", jm.handleJobsOverview)
		mux.HandleFunc("GET "+prefix+"/jobs/{id}", jm.handleJob)
		mux.HandleFunc("PATCH "+prefix+"/jobs/{id}", jm.handleCancel)
		mux.HandleFunc("GET "+prefix+"/jobs/{id}/exceptions", jm.handleExceptions)
		mux.HandleFunc("GET "+prefix+"/taskmanagers", jm.handleTaskManagers)
		mux.HandleFunc("GET "+prefix+"/jobs/{id}/checkpoints", jm.handleCheckpoints)
		mux.HandleFunc("POST "+prefix+"/jobs/{id}/savepoints", jm.handleSavepoint)
		mux.HandleFunc("GET "+prefix+"/jobs/{id}/savepoints/{trigger}", jm.handleSavepointStatus)
		mux.HandleFunc("POST "+prefix+"/jobs/{id}/stop", jm.handleStop)
		mux.HandleFunc("DELETE "+prefix+"/cluster", func(w http.ResponseWriter, _ *http.Request) {
			jm.RequestShutdown()
			writeJSON(w, 202, map[string]any{})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		restError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// restError answers with Flink's error shape {"errors": [...]}.
func restError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string][]string{"errors": {msg}})
}

func (jm *JobManager) handleOverview(w http.ResponseWriter, _ *http.Request) {
	tms := jm.TaskManagers()
	total, free := 0, 0
	for _, t := range tms {
		total += t.Slots
		free += t.FreeSlots
	}
	counts := map[JobStatus]int{}
	for _, j := range jm.Jobs() {
		counts[j.Snapshot().Status]++
	}
	running := len(jm.Jobs()) - counts[JobFinished] - counts[JobCanceled] - counts[JobFailed]
	writeJSON(w, 200, map[string]any{
		"taskmanagers": len(tms), "slots-total": total, "slots-available": free,
		"jobs-running": running, "jobs-finished": counts[JobFinished], "jobs-cancelled": counts[JobCanceled], "jobs-failed": counts[JobFailed],
		"flink-version": Version, "flink-commit": "",
	})
}

func (jm *JobManager) handleConfig(w http.ResponseWriter, _ *http.Request) {
	_, off := time.Now().Zone()
	writeJSON(w, 200, map[string]any{
		"refresh-interval": 3000, "timezone-name": time.Local.String(), "timezone-offset": off * 1000,
		"flink-version": Version, "flink-revision": "", "features": map[string]bool{"web-submit": false, "web-cancel": true, "web-history": false},
	})
}

func (jm *JobManager) handleJMConfig(w http.ResponseWriter, _ *http.Request) {
	keys := make([]string, 0, len(jm.cfg.Settings))
	for k := range jm.cfg.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]string{"key": k, "value": jm.cfg.Settings[k]})
	}
	writeJSON(w, 200, out)
}

func (jm *JobManager) handleJobs(w http.ResponseWriter, _ *http.Request) {
	jobs := []map[string]string{}
	for _, j := range jm.Jobs() {
		s := j.Snapshot()
		jobs = append(jobs, map[string]string{"id": s.ID, "status": string(s.Status)})
	}
	writeJSON(w, 200, map[string]any{"jobs": jobs})
}

// handleSubmit accepts a serialized job graph (application/x-protobuf). Session clusters run
// the job with the TaskManagers their driver starts for it.
func (jm *JobManager) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		restError(w, 400, "reading the job graph: "+err.Error())
		return
	}
	g := &jobgraph.JobGraph{}
	if err := proto.Unmarshal(body, g); err != nil {
		restError(w, 400, "the request body is not a flink-go job graph: "+err.Error())
		return
	}
	j, err := jm.Submit(g, r.URL.Query().Get("artifact"))
	if err != nil {
		restError(w, 400, err.Error())
		return
	}
	writeJSON(w, 202, map[string]string{"jobUrl": "/jobs/" + j.ID(), "jobid": j.ID()})
}

func taskCounts(execs []Execution) map[string]int {
	c := map[string]int{}
	for _, s := range []string{"CREATED", "SCHEDULED", "DEPLOYING", "INITIALIZING", "RUNNING", "FINISHED", "CANCELING", "CANCELED", "FAILED", "RECONCILING"} {
		c[s] = 0
	}
	for _, e := range execs {
		c[e.State.String()]++
	}
	return c
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

func duration(start, end time.Time) int64 {
	if end.IsZero() {
		return time.Since(start).Milliseconds()
	}
	return end.Sub(start).Milliseconds()
}

func jobOverview(s JobSnapshot) map[string]any {
	counts := taskCounts(s.Executions)
	counts["total"] = len(s.Executions)
	lower := map[string]int{}
	for k, v := range counts {
		lower[strings.ToLower(k)] = v
	}
	return map[string]any{
		"jid": s.ID, "name": s.Name, "state": string(s.Status), "start-time": millis(s.Start), "end-time": millis(s.End),
		"duration": duration(s.Start, s.End), "last-modification": time.Now().UnixMilli(), "tasks": lower,
	}
}

func (jm *JobManager) handleJobsOverview(w http.ResponseWriter, _ *http.Request) {
	jobs := []map[string]any{}
	for _, j := range jm.Jobs() {
		jobs = append(jobs, jobOverview(j.Snapshot()))
	}
	writeJSON(w, 200, map[string]any{"jobs": jobs})
}

func (jm *JobManager) handleJob(w http.ResponseWriter, r *http.Request) {
	j, ok := jm.Job(r.PathValue("id"))
	if !ok {
		restError(w, 404, "Job "+r.PathValue("id")+" not found")
		return
	}
	s := j.Snapshot()
	out := jobOverview(s)
	out["isStoppable"] = false
	out["now"] = time.Now().UnixMilli()
	out["status-counts"] = taskCounts(s.Executions)
	out["timestamps"] = map[string]int64{string(s.Status): time.Now().UnixMilli(), "CREATED": millis(s.Start)}
	var vertices []map[string]any
	var nodes []map[string]any
	for _, v := range s.Graph.Vertices {
		var execs []Execution
		for _, e := range s.Executions {
			if e.Vertex.Id == v.Id {
				execs = append(execs, e)
			}
		}
		vstatus := vertexStatus(execs)
		vertices = append(vertices, map[string]any{"id": v.Id, "name": v.Name, "parallelism": v.Parallelism, "maxParallelism": v.MaxParallelism,
			"status": vstatus, "start-time": millis(s.Start), "end-time": -1, "duration": duration(s.Start, s.End), "tasks": taskCounts(execs), "metrics": map[string]any{}})
		var inputs []map[string]any
		for i, in := range v.Inputs {
			inputs = append(inputs, map[string]any{"num": i, "id": in.SourceVertex, "ship_strategy": in.Partitioning.String(), "exchange": "pipelined_bounded"})
		}
		nodes = append(nodes, map[string]any{"id": v.Id, "parallelism": v.Parallelism, "operator": "", "description": v.Name, "inputs": inputs})
	}
	out["vertices"] = vertices
	out["plan"] = map[string]any{"jid": s.ID, "name": s.Name, "type": "STREAMING", "nodes": nodes}
	if s.Failure != "" {
		out["failure-cause"] = s.Failure
	}
	writeJSON(w, 200, out)
}

func vertexStatus(execs []Execution) string {
	counts := taskCounts(execs)
	for _, s := range []string{"FAILED", "CANCELING", "RUNNING", "DEPLOYING", "INITIALIZING", "CREATED"} {
		if counts[s] > 0 {
			return s
		}
	}
	if counts["CANCELED"] > 0 {
		return "CANCELED"
	}
	return "FINISHED"
}

func (jm *JobManager) handleCancel(w http.ResponseWriter, r *http.Request) {
	mode := r.URL.Query().Get("mode")
	if mode != "" && mode != "cancel" {
		restError(w, 400, fmt.Sprintf("mode %q is not supported: use mode=cancel (stop with a savepoint is POST /jobs/:id/stop)", mode))
		return
	}
	j, ok := jm.Job(r.PathValue("id"))
	if !ok {
		restError(w, 404, "Job "+r.PathValue("id")+" not found")
		return
	}
	j.Cancel()
	writeJSON(w, 202, map[string]any{})
}

func (jm *JobManager) handleExceptions(w http.ResponseWriter, r *http.Request) {
	j, ok := jm.Job(r.PathValue("id"))
	if !ok {
		restError(w, 404, "Job "+r.PathValue("id")+" not found")
		return
	}
	s := j.Snapshot()
	var history []map[string]any
	for _, e := range s.Exceptions {
		history = append(history, map[string]any{"exceptionName": "TaskFailure", "stacktrace": e.Message + "\n" + e.Stacktrace,
			"timestamp": e.Time.UnixMilli(), "taskName": e.Task, "location": e.Location})
	}
	out := map[string]any{"exceptionHistory": map[string]any{"entries": history, "truncated": false}}
	if len(s.Exceptions) > 0 {
		last := s.Exceptions[len(s.Exceptions)-1]
		out["root-exception"] = last.Message + "\n" + last.Stacktrace
		out["timestamp"] = last.Time.UnixMilli()
	}
	writeJSON(w, 200, out)
}

func (jm *JobManager) handleTaskManagers(w http.ResponseWriter, _ *http.Request) {
	var tms []map[string]any
	for _, t := range jm.TaskManagers() {
		tms = append(tms, map[string]any{"id": t.ID, "path": t.RPCAddress, "dataPort": portOf(t.DataAddress), "timeSinceLastHeartbeat": t.LastHeartbeat.UnixMilli(),
			"slotsNumber": t.Slots, "freeSlots": t.FreeSlots, "hardware": map[string]any{"cpuCores": 0, "physicalMemory": t.Memory, "freeMemory": 0, "managedMemory": 0},
			"host": t.Host, "pid": t.PID})
	}
	if tms == nil {
		tms = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"taskmanagers": tms})
}

func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	var p int
	fmt.Sscan(addr[i+1:], &p)
	return p
}

func (jm *JobManager) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	j, ok := jm.Job(r.PathValue("id"))
	if !ok {
		restError(w, 404, "Job "+r.PathValue("id")+" not found")
		return
	}
	writeJSON(w, 200, j.CheckpointStats())
}

// savepoint triggers by request id (Flink's asynchronous operation handles).
var (
	triggersMu sync.Mutex
	triggers   = map[string]*SavepointRequest{}
)

func (jm *JobManager) savepointRequest(w http.ResponseWriter, r *http.Request, stop bool) {
	j, ok := jm.Job(r.PathValue("id"))
	if !ok {
		restError(w, 404, "Job "+r.PathValue("id")+" not found")
		return
	}
	var body struct {
		TargetDirectory  string `json:"target-directory"`
		TargetDirectory2 string `json:"targetDirectory"`
		CancelJob        bool   `json:"cancel-job"`
		Drain            bool   `json:"drain"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && err != io.EOF {
			restError(w, 400, "malformed request body: "+err.Error())
			return
		}
	}
	dir := body.TargetDirectory
	if dir == "" {
		dir = body.TargetDirectory2
	}
	req := j.TriggerSavepoint(dir, stop || body.CancelJob)
	id := newID()
	triggersMu.Lock()
	triggers[id] = req
	triggersMu.Unlock()
	writeJSON(w, 202, map[string]string{"request-id": id})
}

func (jm *JobManager) handleSavepoint(w http.ResponseWriter, r *http.Request) {
	jm.savepointRequest(w, r, false)
}
func (jm *JobManager) handleStop(w http.ResponseWriter, r *http.Request) {
	jm.savepointRequest(w, r, true)
}

func (jm *JobManager) handleSavepointStatus(w http.ResponseWriter, r *http.Request) {
	triggersMu.Lock()
	req, ok := triggers[r.PathValue("trigger")]
	triggersMu.Unlock()
	if !ok {
		restError(w, 404, "unknown savepoint trigger "+r.PathValue("trigger"))
		return
	}
	select {
	case <-req.Done():
	default:
		writeJSON(w, 200, map[string]any{"status": map[string]string{"id": "IN_PROGRESS"}})
		return
	}
	triggersMu.Lock()
	delete(triggers, r.PathValue("trigger")) // the result was delivered
	triggersMu.Unlock()
	if req.Err != nil {
		writeJSON(w, 200, map[string]any{"status": map[string]string{"id": "COMPLETED"},
			"operation": map[string]any{"failure-cause": map[string]string{"class": "SavepointFailure", "stack-trace": req.Err.Error()}}})
		return
	}
	writeJSON(w, 200, map[string]any{"status": map[string]string{"id": "COMPLETED"}, "operation": map[string]string{"location": req.Location}})
}

// WaitSavepointResultsFetched waits (up to timeout) until every savepoint result was fetched by
// its client: a one-shot cluster stopped with a savepoint stays up until the CLI got the path.
func (jm *JobManager) WaitSavepointResultsFetched(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		triggersMu.Lock()
		n := len(triggers)
		triggersMu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
