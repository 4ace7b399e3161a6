package jobmanager

import (
	"fmt"
	"sort"

	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// Slot is one task slot offered by a TaskManager.
type Slot struct {
	TaskManager string // resource id
	Index       int
}

// SlotsNeeded returns how many slots a job needs with slot sharing: subtask i of every vertex
// shares slot i, so the job needs as many slots as its largest parallelism (as Flink's default
// slot sharing group).
func SlotsNeeded(g *jobgraph.JobGraph) int {
	n := 0
	for _, v := range g.Vertices {
		if int(v.Parallelism) > n {
			n = int(v.Parallelism)
		}
	}
	return n
}

// AssignSlots picks the slots for a job from the free ones, spreading the job over TaskManagers
// round-robin (Flink's cluster.evenly-spread-out-slots) so a job at parallelism 2 on two
// TaskManagers uses both, and its network exchange crosses the process boundary. It is pure: the
// same input always gives the same assignment.
func AssignSlots(free []Slot, needed int) ([]Slot, error) {
	if needed > len(free) {
		return nil, fmt.Errorf("the job needs %d slots but only %d are free", needed, len(free))
	}
	byTM := map[string][]Slot{}
	var tms []string
	for _, s := range free {
		if _, ok := byTM[s.TaskManager]; !ok {
			tms = append(tms, s.TaskManager)
		}
		byTM[s.TaskManager] = append(byTM[s.TaskManager], s)
	}
	sort.Strings(tms)
	for _, tm := range tms {
		sort.Slice(byTM[tm], func(i, j int) bool { return byTM[tm][i].Index < byTM[tm][j].Index })
	}
	out := make([]Slot, 0, needed)
	for round := 0; len(out) < needed; round++ {
		for _, tm := range tms {
			if round < len(byTM[tm]) && len(out) < needed {
				out = append(out, byTM[tm][round])
			}
		}
	}
	return out, nil
}

// JobStatus is a job's state, with Flink's names.
type JobStatus string

// Job states.
const (
	JobCreated    JobStatus = "CREATED"
	JobRunning    JobStatus = "RUNNING"
	JobFailing    JobStatus = "FAILING"
	JobFailed     JobStatus = "FAILED"
	JobCancelling JobStatus = "CANCELLING"
	JobCanceled   JobStatus = "CANCELED"
	JobFinished   JobStatus = "FINISHED"
	JobRestarting JobStatus = "RESTARTING"
)

// Terminal reports whether the job can no longer change state.
func (s JobStatus) Terminal() bool { return s == JobFailed || s == JobCanceled || s == JobFinished }

// Execution is one attempt of one subtask.
type Execution struct {
	ID          string
	Vertex      *jobgraph.Vertex
	Subtask     int
	Attempt     int
	State       jobgraph.ExecutionState
	Slot        Slot
	Failure     string
	FailureInfo string
	StartTime   int64
	EndTime     int64
	// EndOfInput: the task consumed its input and waits for the final commit notification.
	EndOfInput    bool
	FinalNotified bool
}

// ExecutionGraph tracks a job's executions and derives the job's state from them. It does no
// I/O; the JobMaster feeds it state updates and acts on what it returns.
type ExecutionGraph struct {
	Graph      *jobgraph.JobGraph
	Executions []*Execution
	byID       map[string]*Execution
	Status     JobStatus
	Failure    string
	attempt    int
}

// NewExecutionGraph creates the executions of attempt 0.
func NewExecutionGraph(g *jobgraph.JobGraph) *ExecutionGraph {
	eg := &ExecutionGraph{Graph: g, Status: JobCreated}
	eg.reset(0)
	return eg
}

func (eg *ExecutionGraph) reset(attempt int) {
	eg.attempt = attempt
	eg.Executions = nil
	eg.byID = map[string]*Execution{}
	for _, v := range eg.Graph.Vertices {
		for i := 0; i < int(v.Parallelism); i++ {
			e := &Execution{ID: fmt.Sprintf("%s-%d-%d", v.Id, i, attempt), Vertex: v, Subtask: i, Attempt: attempt, State: jobgraph.ExecutionState_CREATED}
			eg.Executions = append(eg.Executions, e)
			eg.byID[e.ID] = e
		}
	}
}

// Attempt returns the current global attempt number (restarts).
func (eg *ExecutionGraph) Attempt() int { return eg.attempt }

// Restart creates fresh executions for a new attempt.
func (eg *ExecutionGraph) Restart() {
	eg.reset(eg.attempt + 1)
	eg.Status = JobRestarting
	eg.Failure = ""
}

// Assign places subtask i of every vertex in slots[i].
func (eg *ExecutionGraph) Assign(slots []Slot) {
	for _, e := range eg.Executions {
		e.Slot = slots[e.Subtask]
	}
}

// Lookup returns the execution with the given id.
func (eg *ExecutionGraph) Lookup(id string) *Execution { return eg.byID[id] }

// Transition is what the JobMaster must do after an update.
type Transition int

// Transitions.
const (
	NoChange Transition = iota
	// CancelOthers: an execution failed; cancel the rest, then fail or restart the job.
	CancelOthers
	// JobDone: the job reached a terminal state.
	JobDone
	// AllStopped: after a failure every execution stopped; the job may restart.
	AllStopped
)

// Update applies an execution state update and tells the JobMaster what follows.
func (eg *ExecutionGraph) Update(id string, st jobgraph.ExecutionState, failure, detail string, now int64) Transition {
	e := eg.byID[id]
	if e == nil || isTerminal(e.State) {
		return NoChange // a stale update from an earlier attempt, or a duplicate
	}
	e.State = st
	if st == jobgraph.ExecutionState_RUNNING && e.StartTime == 0 {
		e.StartTime = now
	}
	if isTerminal(st) {
		e.EndTime = now
	}
	if st == jobgraph.ExecutionState_FAILED {
		e.Failure, e.FailureInfo = failure, detail
		if eg.Status == JobRunning || eg.Status == JobCreated || eg.Status == JobRestarting {
			eg.Status = JobFailing
			eg.Failure = fmt.Sprintf("%s (%d/%d) failed: %s", e.Vertex.Name, e.Subtask+1, e.Vertex.Parallelism, failure)
			if eg.allTerminal() {
				return AllStopped
			}
			return CancelOthers
		}
	}
	if st == jobgraph.ExecutionState_RUNNING && (eg.Status == JobCreated || eg.Status == JobRestarting) && eg.allAtLeastRunning() {
		eg.Status = JobRunning
	}
	if eg.allTerminal() {
		switch eg.Status {
		case JobFailing:
			return AllStopped
		case JobCancelling:
			eg.Status = JobCanceled
			return JobDone
		default:
			if eg.allFinished() {
				eg.Status = JobFinished
				return JobDone
			}
			eg.Status = JobFailed
			if eg.Failure == "" {
				eg.Failure = "tasks ended without finishing"
			}
			return JobDone
		}
	}
	return NoChange
}

// MarkFailed ends the job as FAILED (no restart left).
func (eg *ExecutionGraph) MarkFailed() { eg.Status = JobFailed }

// Cancel moves the job to CANCELLING; it returns true when there is nothing left to cancel.
func (eg *ExecutionGraph) Cancel() bool {
	if eg.Status.Terminal() {
		return false
	}
	eg.Status = JobCancelling
	if eg.allTerminal() {
		eg.Status = JobCanceled
		return true
	}
	return false
}

// Running returns the executions that are not terminal.
func (eg *ExecutionGraph) Running() []*Execution {
	var out []*Execution
	for _, e := range eg.Executions {
		if !isTerminal(e.State) {
			out = append(out, e)
		}
	}
	return out
}

func (eg *ExecutionGraph) allTerminal() bool {
	for _, e := range eg.Executions {
		if !isTerminal(e.State) {
			return false
		}
	}
	return true
}

func (eg *ExecutionGraph) allFinished() bool {
	for _, e := range eg.Executions {
		if e.State != jobgraph.ExecutionState_FINISHED {
			return false
		}
	}
	return true
}

func (eg *ExecutionGraph) allAtLeastRunning() bool {
	for _, e := range eg.Executions {
		if e.State != jobgraph.ExecutionState_RUNNING && e.State != jobgraph.ExecutionState_FINISHED {
			return false
		}
	}
	return true
}

func isTerminal(s jobgraph.ExecutionState) bool {
	return s == jobgraph.ExecutionState_FINISHED || s == jobgraph.ExecutionState_CANCELED || s == jobgraph.ExecutionState_FAILED
}

// Deployment builds the TaskDeployment of execution e, locating its producers through the
// TaskManagers' data addresses.
func (eg *ExecutionGraph) Deployment(e *Execution, dataAddr func(tm string) string) *jobgraph.TaskDeployment {
	g := eg.Graph
	d := &jobgraph.TaskDeployment{JobId: g.JobId, JobName: g.Name, ExecutionId: e.ID, Vertex: e.Vertex,
		Subtask: int32(e.Subtask), Attempt: int32(e.Attempt), Config: g.Config, OutputParallelism: map[string]int32{}}
	par := map[string]int{}
	for _, v := range g.Vertices {
		par[v.Id] = int(v.Parallelism)
	}
	for _, out := range e.Vertex.Outputs {
		d.OutputParallelism[out.Id] = int32(par[out.TargetVertex])
	}
	for _, in := range e.Vertex.Inputs {
		ic := &jobgraph.InputChannels{EdgeId: in.Id}
		for i := 0; i < par[in.SourceVertex]; i++ {
			var producer *Execution
			for _, x := range eg.Executions {
				if x.Vertex.Id == in.SourceVertex && x.Subtask == i {
					producer = x
					break
				}
			}
			ic.ProducerAddresses = append(ic.ProducerAddresses, dataAddr(producer.Slot.TaskManager))
			ic.ProducerAttempts = append(ic.ProducerAttempts, int32(producer.Attempt))
		}
		d.Inputs = append(d.Inputs, ic)
	}
	return d
}
