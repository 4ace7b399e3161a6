package jobmanager

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// JobMaster runs one job: it allocates slots, deploys the executions, follows their states and
// restarts or fails the job on failures.
type JobMaster struct {
	jm      *JobManager
	info    *JobInfo
	log     zerolog.Logger
	updates chan *jobgraph.TaskExecutionState
	cancel  chan struct{}
	once    sync.Once
	done    chan struct{}

	mu         sync.Mutex
	eg         *ExecutionGraph
	submitted  time.Time
	ended      time.Time
	restarts   int
	exceptions []ExceptionInfo
	restart    RestartStrategy
}

// ExceptionInfo is one failure in the job's history (/jobs/:id/exceptions).
type ExceptionInfo struct {
	Time       time.Time
	Message    string
	Stacktrace string
	Task       string
	Location   string
}

func newJobMaster(jm *JobManager, info *JobInfo) *JobMaster {
	rs, err := RestartStrategyFrom(info.Graph.Config)
	j := &JobMaster{jm: jm, info: info, log: jm.log.With().Str("job", info.ID).Logger(), updates: make(chan *jobgraph.TaskExecutionState, 1024),
		cancel: make(chan struct{}), done: make(chan struct{}), eg: NewExecutionGraph(info.Graph), submitted: time.Now(), restart: rs}
	if err != nil {
		j.log.Warn().Err(err).Msg("invalid restart strategy; not restarting")
	}
	return j
}

// ID returns the job id.
func (j *JobMaster) ID() string { return j.info.ID }

// Name returns the job name.
func (j *JobMaster) Name() string { return j.info.Name }

// Done is closed when the job reached a terminal state.
func (j *JobMaster) Done() <-chan struct{} { return j.done }

// Snapshot returns a consistent copy of the job's status for display.
func (j *JobMaster) Snapshot() JobSnapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := JobSnapshot{ID: j.info.ID, Name: j.info.Name, Status: j.eg.Status, Failure: j.eg.Failure, Start: j.submitted, End: j.ended,
		Graph: j.info.Graph, Restarts: j.restarts, Exceptions: append([]ExceptionInfo(nil), j.exceptions...)}
	for _, e := range j.eg.Executions {
		s.Executions = append(s.Executions, *e)
	}
	return s
}

// JobSnapshot is a point-in-time copy of a job.
type JobSnapshot struct {
	ID, Name   string
	Status     JobStatus
	Failure    string
	Start, End time.Time
	Graph      *jobgraph.JobGraph
	Executions []Execution
	Restarts   int
	Exceptions []ExceptionInfo
}

// Cancel cancels the job.
func (j *JobMaster) Cancel() { j.once.Do(func() { close(j.cancel) }) }

func (j *JobMaster) update(st *jobgraph.TaskExecutionState) {
	select {
	case j.updates <- st:
	case <-j.done:
	}
}

func (j *JobMaster) taskManagerLost(tm, reason string) {
	j.mu.Lock()
	var affected []string
	for _, e := range j.eg.Executions {
		if e.Slot.TaskManager == tm && !isTerminal(e.State) {
			affected = append(affected, e.ID)
		}
	}
	j.mu.Unlock()
	for _, id := range affected {
		j.update(&jobgraph.TaskExecutionState{JobId: j.info.ID, ExecutionId: id, State: jobgraph.ExecutionState_FAILED, Error: reason})
	}
}

func (j *JobMaster) setStatus(s JobStatus) {
	j.mu.Lock()
	j.eg.Status = s
	j.mu.Unlock()
}

func (j *JobMaster) finish(status JobStatus, failure string) {
	j.mu.Lock()
	j.eg.Status = status
	if failure != "" {
		j.eg.Failure = failure
	}
	j.ended = time.Now()
	j.mu.Unlock()
	j.jm.release(j.info.ID)
	if j.jm.cfg.Driver != nil {
		j.jm.cfg.Driver.JobEnded(j.info.ID)
	}
	ev := j.log.Info()
	if status == JobFailed {
		ev = j.log.Error().Str("cause", failure)
	}
	ev.Str("status", string(status)).Msg("job ended")
	close(j.done)
}

func (j *JobMaster) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-j.cancel:
			cancel()
		case <-j.done:
		}
	}()
	for {
		status, failure, retry := j.runAttempt(ctx)
		if !retry {
			j.finish(status, failure)
			return
		}
		delay, ok := j.restart.NextDelay(time.Now())
		if !ok {
			j.finish(JobFailed, failure)
			return
		}
		j.mu.Lock()
		j.restarts++
		j.eg.Restart()
		j.mu.Unlock()
		j.log.Warn().Str("cause", failure).Dur("delay", delay).Int("restart", j.restarts).Msg("restarting job")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			j.finish(JobCanceled, "")
			return
		}
	}
}

// runAttempt deploys one attempt and follows it. retry tells whether the job failed and may be
// restarted.
func (j *JobMaster) runAttempt(ctx context.Context) (status JobStatus, failure string, retry bool) {
	j.mu.Lock()
	eg := j.eg
	j.mu.Unlock()
	slots, err := j.jm.allocate(ctx, j.info, SlotsNeeded(j.info.Graph))
	if err != nil {
		if ctx.Err() != nil {
			return JobCanceled, "", false
		}
		return JobFailed, fmt.Sprintf("scheduling failed: %v", err), false
	}
	defer j.jm.release(j.info.ID)
	j.mu.Lock()
	eg.Assign(slots)
	j.mu.Unlock()
	// Deploy sinks first and sources last, so consumers are ready when data flows.
	for i := len(eg.Executions) - 1; i >= 0; i-- {
		e := eg.Executions[i]
		client, _, ok := j.jm.tmClient(e.Slot.TaskManager)
		if !ok {
			j.onUpdate(eg, &jobgraph.TaskExecutionState{ExecutionId: e.ID, State: jobgraph.ExecutionState_FAILED, Error: "TaskManager " + e.Slot.TaskManager + " is gone"})
			break
		}
		j.mu.Lock()
		d := eg.Deployment(e, func(tm string) string { _, addr, _ := j.jm.tmClient(tm); return addr })
		e.State = jobgraph.ExecutionState_DEPLOYING
		j.mu.Unlock()
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := client.SubmitTask(dctx, d)
		dcancel()
		if err != nil {
			j.onUpdate(eg, &jobgraph.TaskExecutionState{ExecutionId: e.ID, State: jobgraph.ExecutionState_FAILED,
				Error: fmt.Sprintf("deploying to TaskManager %s: %v", e.Slot.TaskManager, err)})
			break
		}
	}
	canceling := false
	for {
		j.mu.Lock()
		st := eg.Status
		j.mu.Unlock()
		if st.Terminal() {
			return st, eg.Failure, false
		}
		select {
		case u := <-j.updates:
			if tr := j.onUpdate(eg, u); tr != NoChange {
				switch tr {
				case CancelOthers:
					j.cancelExecutions(eg)
				case AllStopped:
					if canceling {
						return JobCanceled, "", false
					}
					return JobFailed, eg.Failure, true
				case JobDone:
					j.mu.Lock()
					st := eg.Status
					j.mu.Unlock()
					return st, eg.Failure, false
				}
			}
		case <-ctx.Done():
			if !canceling {
				canceling = true
				j.mu.Lock()
				done := eg.Cancel()
				j.mu.Unlock()
				if done {
					return JobCanceled, "", false
				}
				j.cancelExecutions(eg)
			}
		}
	}
}

func (j *JobMaster) onUpdate(eg *ExecutionGraph, u *jobgraph.TaskExecutionState) Transition {
	j.mu.Lock()
	defer j.mu.Unlock()
	if u.State == jobgraph.ExecutionState_FAILED {
		e := eg.Lookup(u.ExecutionId)
		task := ""
		if e != nil {
			task = fmt.Sprintf("%s (%d/%d)", e.Vertex.Name, e.Subtask+1, e.Vertex.Parallelism)
		}
		if eg.Status == JobFailing || eg.Status == JobCancelling {
			// A consequence of the first failure (e.g. its released partitions): not a root cause.
			j.log.Debug().Str("task", task).Str("error", u.Error).Msg("task failed while the job was already failing")
		} else {
			j.exceptions = append(j.exceptions, ExceptionInfo{Time: time.Now(), Message: u.Error, Stacktrace: u.ErrorDetail, Task: task, Location: u.ResourceId})
			j.log.Error().Str("task", task).Str("error", u.Error).Msg("task failed")
			if u.ErrorDetail != "" {
				j.log.Error().Str("task", task).Msg("stack trace:\n" + u.ErrorDetail)
			}
		}
	}
	return eg.Update(u.ExecutionId, u.State, u.Error, u.ErrorDetail, time.Now().UnixMilli())
}

func (j *JobMaster) cancelExecutions(eg *ExecutionGraph) {
	j.mu.Lock()
	running := eg.Running()
	j.mu.Unlock()
	for _, e := range running {
		client, _, ok := j.jm.tmClient(e.Slot.TaskManager)
		if !ok {
			go j.update(&jobgraph.TaskExecutionState{JobId: j.info.ID, ExecutionId: e.ID, State: jobgraph.ExecutionState_CANCELED})
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.CancelTask(ctx, &jobgraph.CancelTaskRequest{ExecutionId: e.ID})
		cancel()
		if err != nil {
			go j.update(&jobgraph.TaskExecutionState{JobId: j.info.ID, ExecutionId: e.ID, State: jobgraph.ExecutionState_CANCELED})
		}
	}
}

// RestartStrategy decides whether and when a failed job restarts (Flink's restart-strategy.*).
type RestartStrategy interface {
	NextDelay(now time.Time) (time.Duration, bool)
}

type noRestart struct{}

func (noRestart) NextDelay(time.Time) (time.Duration, bool) { return 0, false }

type fixedDelay struct {
	attempts, used int
	delay          time.Duration
}

func (f *fixedDelay) NextDelay(time.Time) (time.Duration, bool) {
	if f.used >= f.attempts {
		return 0, false
	}
	f.used++
	return f.delay, true
}

// RestartStrategyFrom reads restart-strategy.type and its options from a job configuration.
func RestartStrategyFrom(cfg map[string]string) (RestartStrategy, error) {
	typ := strings.ToLower(strings.TrimSpace(cfg["restart-strategy.type"]))
	switch typ {
	case "", "none", "off", "disable":
		return noRestart{}, nil
	case "fixed-delay", "fixeddelay":
		attempts := 1
		if v := cfg["restart-strategy.fixed-delay.attempts"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return noRestart{}, fmt.Errorf("restart-strategy.fixed-delay.attempts: %w", err)
			}
			attempts = n
		}
		delay := time.Second
		if v := cfg["restart-strategy.fixed-delay.delay"]; v != "" {
			d, err := parseDuration(v)
			if err != nil {
				return noRestart{}, fmt.Errorf("restart-strategy.fixed-delay.delay: %w", err)
			}
			delay = d
		}
		return &fixedDelay{attempts: attempts, delay: delay}, nil
	default:
		return noRestart{}, fmt.Errorf("restart-strategy.type %q is not supported yet (use none or fixed-delay)", typ)
	}
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	if strings.HasSuffix(s, "min") {
		s = strings.TrimSuffix(s, "in") // Flink's "10 min" -> Go's "10m"
	}
	return time.ParseDuration(s)
}
