package jobmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/task"
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
	ck         *checkpointing
	stopped    bool // stopped with a savepoint: ends FINISHED
	initErr    error
	// cleanups are the running deletions of aborted and discarded checkpoints; the job waits
	// for them when it ends (a one-shot local run exits right after).
	cleanups sync.WaitGroup
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
	if info.FirstAttempt > 0 {
		j.eg.reset(info.FirstAttempt)
	}
	if err != nil {
		j.log.Warn().Err(err).Msg("invalid restart strategy; not restarting")
	}
	j.ck, j.initErr = newCheckpointing(info.Graph, j.log)
	if j.ck == nil {
		j.ck = &checkpointing{msgs: make(chan ckptMsg, 1), savepoints: make(chan *SavepointRequest, 1), requests: map[int64]*SavepointRequest{}}
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

// shutdownCheckpoints ends checkpointing: checkpoints of a finished job are discarded, those of a
// cancelled job unless RETAIN_ON_CANCELLATION, those of a failed job are kept for a restart.
func (j *JobMaster) shutdownCheckpoints(status JobStatus) {
	if j.ck.coord == nil {
		return
	}
	discard := status == JobFinished || (status == JobCanceled && !strings.EqualFold(j.info.Graph.Config["execution.checkpointing.externalized-checkpoint-retention"], "RETAIN_ON_CANCELLATION"))
	j.mu.Lock()
	eg := j.eg
	j.mu.Unlock()
	j.ckActions(eg, j.ck.coord.Shutdown(time.Now(), "job "+strings.ToLower(string(status)), discard))
	waited := make(chan struct{})
	go func() { j.cleanups.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		j.log.Warn().Msg("checkpoint files are still being deleted 30 s after the job ended; leaving them")
	}
	j.ck.mu.Lock()
	for id, r := range j.ck.requests {
		r.Err = fmt.Errorf("the job ended (%s) before savepoint %d completed", status, id)
		close(r.done)
		delete(j.ck.requests, id)
	}
	j.ck.mu.Unlock()
}

// TriggerSavepoint asks for a savepoint (stop: then stop the job) and returns the request.
func (j *JobMaster) TriggerSavepoint(dir string, stop bool) *SavepointRequest {
	r := &SavepointRequest{Dir: dir, Stop: stop, done: make(chan struct{})}
	select {
	case j.ck.savepoints <- r:
	case <-j.done:
		r.Err = errors.New("the job already ended")
		close(r.done)
	}
	return r
}

// CheckpointStats returns the checkpoint statistics of the job.
func (j *JobMaster) CheckpointStats() checkpoint.Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ck.stats
}

func (j *JobMaster) checkpointMsg(m ckptMsg) {
	select {
	case j.ck.msgs <- m:
	case <-j.done:
	}
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
	if st := j.jm.cfg.JobStore; st != nil {
		// Globally terminal: a recovering JobManager must not run it again.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := st.JobEnded(ctx, JobResult{JobID: j.info.ID, Name: j.info.Name, Status: status, Failure: failure, Ended: time.Now()})
		cancel()
		if err != nil {
			j.log.Error().Err(err).Msg("could not record the job's end in the high-availability store; a new JobManager attempt may run it again")
		}
	}
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
	if j.initErr != nil {
		j.finish(JobFailed, j.initErr.Error())
		return
	}
	for {
		status, failure, retry := j.runAttempt(ctx)
		if !retry {
			j.mu.Lock()
			if status == JobCanceled && j.stopped {
				status = JobFinished
			}
			j.mu.Unlock()
			j.shutdownCheckpoints(status)
			j.finish(status, failure)
			return
		}
		delay, ok := j.restart.NextDelay(time.Now())
		if !ok {
			j.shutdownCheckpoints(JobFailed)
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
	ck := j.ck
	slots, err := j.jm.allocate(ctx, j.info, SlotsNeeded(j.info.Graph))
	if err != nil {
		if ctx.Err() != nil {
			return JobCanceled, "", false
		}
		return JobFailed, fmt.Sprintf("scheduling failed: %v", err), false
	}
	defer j.jm.release(j.info.ID)
	restore := ck.restoreFrom(j.log)
	coord := ck.newCoordinator(eg, ck.coord)
	coord.SetLogger(j.log)
	j.mu.Lock()
	eg.Assign(slots)
	ck.coord = coord
	j.mu.Unlock()
	if restore != nil {
		j.log.Info().Int64("checkpoint", restore.ID).Str("path", restore.ExternalPath).Msg("restoring from checkpoint")
	}
	// Deploy sinks first and sources last, so consumers are ready when data flows.
	for i := len(eg.Executions) - 1; i >= 0; i-- {
		e := eg.Executions[i]
		client, _, ok := j.jm.tmClient(e.Slot.TaskManager)
		if !ok {
			if j.deployFailed(eg, coord, e.ID, "TaskManager "+e.Slot.TaskManager+" is gone") {
				return JobFailed, eg.Failure, true
			}
			break
		}
		j.mu.Lock()
		d := eg.Deployment(e, func(tm string) string { _, addr, _ := j.jm.tmClient(tm); return addr })
		if restore != nil {
			d.RestoreCheckpointId = restore.ID
			d.RestoreState = restoreState(restore, e.Vertex)
		}
		e.State = jobgraph.ExecutionState_DEPLOYING
		j.mu.Unlock()
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := client.SubmitTask(dctx, d)
		dcancel()
		if err != nil {
			if grpcstatus.Code(err) == codes.Unavailable {
				// The TaskManager cannot be reached (its process or node died, and no heartbeat
				// timeout or container report told us yet): drop it now, so the restart does not
				// deploy to it again.
				go j.jm.TaskManagerLost(e.Slot.TaskManager, fmt.Sprintf("TaskManager %s unreachable: %v", e.Slot.TaskManager, err))
			}
			if j.deployFailed(eg, coord, e.ID, fmt.Sprintf("deploying to TaskManager %s: %v", e.Slot.TaskManager, err)) {
				return JobFailed, eg.Failure, true
			}
			break
		}
	}
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
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
			tr := j.onUpdate(eg, u)
			j.checkFinal(eg)
			switch tr {
			case CancelOthers:
				j.ckActions(eg, coord.Reset(time.Now(), "job failing over"))
				j.cancelExecutions(eg)
			case AllStopped:
				j.ckActions(eg, coord.Reset(time.Now(), "job failing over"))
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
		case <-ticker.C:
			if st == JobRunning {
				j.ckActions(eg, coord.Tick(time.Now()))
			}
		case m := <-ck.msgs:
			j.onCheckpointMsg(eg, coord, m)
		case r := <-ck.savepoints:
			j.startSavepoint(eg, coord, r, st)
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

// deployFailed fails an execution whose deployment failed (e.g. its TaskManager died and is not
// yet known to be lost), marks the executions not deployed yet CANCELED and cancels the deployed
// ones, so the attempt fails over instead of waiting for tasks that never run. It reports whether
// every execution already stopped (then no further update will arrive).
func (j *JobMaster) deployFailed(eg *ExecutionGraph, coord *checkpoint.Coordinator, id, reason string) bool {
	tr := j.onUpdate(eg, &jobgraph.TaskExecutionState{ExecutionId: id, State: jobgraph.ExecutionState_FAILED, Error: reason})
	j.mu.Lock()
	for _, e := range eg.Executions {
		if e.State == jobgraph.ExecutionState_CREATED {
			if t := eg.Update(e.ID, jobgraph.ExecutionState_CANCELED, "", "", time.Now().UnixMilli()); t == AllStopped {
				tr = AllStopped
			}
		}
	}
	j.mu.Unlock()
	j.ckActions(eg, coord.Reset(time.Now(), "job failing over"))
	if tr == AllStopped {
		return true
	}
	j.cancelExecutions(eg)
	return false
}

// notReady prefixes declines of tasks that cannot take part in a checkpoint (not running yet, or
// already finished); they abort the checkpoint without counting as a failure.
const notReady = task.DeclineNotReadyPrefix

// declineIsFailure reports whether a task's decline counts towards
// execution.checkpointing.tolerable-failed-checkpoints. As in Flink, it does not when the task
// could not take part (not running yet, or finished) or when a newer checkpoint replaced the
// declined one during barrier alignment (subsumed).
func declineIsFailure(reason string) bool {
	return !strings.HasPrefix(reason, notReady) && !strings.HasPrefix(reason, task.DeclineSubsumedPrefix)
}

func (j *JobMaster) taskID(e *Execution) checkpoint.TaskID {
	return checkpoint.TaskID{Vertex: e.Vertex.Id, Subtask: e.Subtask}
}

func (j *JobMaster) onCheckpointMsg(eg *ExecutionGraph, coord *checkpoint.Coordinator, m ckptMsg) {
	now := time.Now()
	if m.decline != nil {
		e := eg.Lookup(m.decline.ExecutionId)
		if e == nil {
			return
		}
		if !declineIsFailure(m.decline.Reason) {
			j.ckActions(eg, coord.DeclineNotReady(now, j.taskID(e), m.decline.CheckpointId, m.decline.Reason))
			return
		}
		j.ckActions(eg, coord.Decline(now, j.taskID(e), m.decline.CheckpointId, m.decline.Reason))
		return
	}
	e := eg.Lookup(m.ack.ExecutionId)
	if e == nil {
		return // an earlier attempt
	}
	h, err := handleFromAck(e, m.ack.State)
	if err != nil {
		j.ckActions(eg, coord.Decline(now, j.taskID(e), m.ack.CheckpointId, err.Error()))
		return
	}
	j.ckActions(eg, coord.Ack(now, j.taskID(e), m.ack.CheckpointId, h))
}

func (j *JobMaster) startSavepoint(eg *ExecutionGraph, coord *checkpoint.Coordinator, r *SavepointRequest, st JobStatus) {
	fail := func(err error) {
		r.Err = err
		close(r.done)
	}
	if st != JobRunning {
		fail(fmt.Errorf("the job is %s, not RUNNING: savepoints need all tasks running", st))
		return
	}
	dir := r.Dir
	if dir == "" {
		dir = j.ck.savepointDir
	}
	if dir == "" {
		fail(errors.New("no savepoint directory: pass one or set execution.checkpointing.savepoint-dir"))
		return
	}
	spDir, err := checkpoint.NewSavepointDir(dir, j.info.ID)
	if err != nil {
		fail(err)
		return
	}
	kind := checkpoint.SavepointPlain
	if r.Stop {
		kind = checkpoint.SavepointStop
	}
	id, actions := coord.TriggerSavepoint(time.Now(), spDir, kind)
	if id <= 0 {
		fail(errors.New("the savepoint could not be triggered"))
		return
	}
	r.ID = id
	j.ck.mu.Lock()
	j.ck.requests[id] = r
	if r.Stop {
		j.ck.stopAfter = id
	}
	j.ck.mu.Unlock()
	j.ckActions(eg, actions)
}

// ckActions carries out the coordinator's actions, in order.
func (j *JobMaster) ckActions(eg *ExecutionGraph, actions []checkpoint.Action) {
	ck := j.ck
	for len(actions) > 0 {
		a := actions[0]
		actions = actions[1:]
		switch a := a.(type) {
		case *checkpoint.TriggerAction:
			for _, t := range a.Targets {
				e := j.execFor(eg, t)
				if e == nil {
					continue
				}
				client, _, ok := j.jm.tmClient(e.Slot.TaskManager)
				req := &jobgraph.CheckpointRequest{ExecutionId: e.ID, CheckpointId: a.ID, Timestamp: a.Timestamp, Savepoint: a.Savepoint, TargetDir: a.Dir}
				go func(t checkpoint.TaskID) {
					var err error
					if ok {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err = client.TriggerCheckpoint(ctx, req)
						cancel()
					} else {
						err = errors.New("TaskManager gone")
					}
					if err != nil {
						ck.msgs <- ckptMsg{decline: &jobgraph.CheckpointDecline{ExecutionId: req.ExecutionId, CheckpointId: req.CheckpointId, Reason: notReady + "trigger: " + err.Error()}}
					}
				}(t)
			}
		case *checkpoint.CompleteAction:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := func() error {
				fsys, p, err := fs.Get(ctx, a.Checkpoint.ExternalPath)
				if err != nil {
					return err
				}
				return checkpoint.WriteMetadata(ctx, fsys, p, a.Checkpoint)
			}()
			cancel()
			if err != nil {
				j.log.Warn().Err(err).Int64("checkpoint", a.Checkpoint.ID).Msg("writing checkpoint metadata failed")
			}
			actions = append(j.ck.coord.Finalized(time.Now(), a.Checkpoint.ID, err), actions...)
		case *checkpoint.NotifyCompleteAction:
			j.log.Info().Int64("checkpoint", a.ID).Bool("savepoint", a.Savepoint).Str("path", a.Path).Msg("checkpoint completed")
			j.notifyTasks(eg, a.ID, false)
			ck.mu.Lock()
			r := ck.requests[a.ID]
			delete(ck.requests, a.ID)
			stop := ck.stopAfter == a.ID
			ck.mu.Unlock()
			if r != nil {
				r.Location = a.Path
				close(r.done)
			}
			if stop {
				j.mu.Lock()
				j.stopped = true
				j.mu.Unlock()
				j.Cancel()
			}
		case *checkpoint.AbortAction:
			j.log.Warn().Int64("checkpoint", a.ID).Str("reason", a.Reason).Msg("checkpoint aborted")
			j.notifyTasks(eg, a.ID, true)
			j.cleanup(a)
			ck.mu.Lock()
			r := ck.requests[a.ID]
			delete(ck.requests, a.ID)
			ck.mu.Unlock()
			if r != nil {
				r.Err = fmt.Errorf("savepoint %d failed: %s", a.ID, a.Reason)
				close(r.done)
			}
		case *checkpoint.DiscardAction, *checkpoint.DiscardStateAction:
			j.cleanup(a)
		case *checkpoint.FailJobAction:
			j.log.Error().Str("reason", a.Reason).Msg("failing the job: too many failed checkpoints")
			for _, e := range eg.Running() {
				go j.update(&jobgraph.TaskExecutionState{JobId: j.info.ID, ExecutionId: e.ID, State: jobgraph.ExecutionState_FAILED, Error: a.Reason})
				break
			}
		}
	}
	j.mu.Lock()
	ck.stats = ck.coord.Stats()
	j.mu.Unlock()
}

// cleanup deletes the files of an aborted or discarded checkpoint (or of acknowledgements that
// came too late) in the background; shutdownCheckpoints waits for it.
func (j *JobMaster) cleanup(a checkpoint.Action) {
	j.cleanups.Add(1)
	go func() {
		defer j.cleanups.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := checkpoint.Cleanup(ctx, a); err != nil {
			j.log.Warn().Err(err).Msg("deleting the files of a discarded checkpoint failed")
		}
	}()
}

func (j *JobMaster) execFor(eg *ExecutionGraph, t checkpoint.TaskID) *Execution {
	for _, e := range eg.Executions {
		if e.Vertex.Id == t.Vertex && e.Subtask == t.Subtask {
			return e
		}
	}
	return nil
}

func (j *JobMaster) notifyTasks(eg *ExecutionGraph, id int64, aborted bool) {
	for _, e := range eg.Running() {
		j.notify(e, &jobgraph.NotifyCheckpointRequest{ExecutionId: e.ID, CheckpointId: id, Aborted: aborted}, 1)
	}
}

// notify sends a checkpoint notification to e's TaskManager in the background, making up to
// attempts calls (with a growing pause between them, while the job runs); the failure of the
// last one is logged when it was retried.
func (j *JobMaster) notify(e *Execution, req *jobgraph.NotifyCheckpointRequest, attempts int) {
	client, _, ok := j.jm.tmClient(e.Slot.TaskManager)
	if !ok {
		return
	}
	go func() {
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := client.NotifyCheckpoint(ctx, req)
			cancel()
			if err == nil {
				return
			}
			if attempt >= attempts {
				if attempts > 1 {
					j.log.Error().Err(err).Str("execution", req.ExecutionId).Int64("checkpoint", req.CheckpointId).Msg("could not send a checkpoint notification")
				}
				return
			}
			select {
			case <-j.done:
				return
			case <-time.After(time.Duration(200*attempt) * time.Millisecond):
			}
		}
	}()
}

// checkFinal sends the final commit notification once every task either finished or waits
// after its end of input.
func (j *JobMaster) checkFinal(eg *ExecutionGraph) {
	j.mu.Lock()
	var waiting []*Execution
	for _, e := range eg.Executions {
		switch {
		case e.State == jobgraph.ExecutionState_FINISHED:
		case e.EndOfInput && e.State == jobgraph.ExecutionState_RUNNING:
			if !e.FinalNotified {
				waiting = append(waiting, e)
			}
		default:
			j.mu.Unlock()
			return
		}
	}
	for _, e := range waiting {
		e.FinalNotified = true
	}
	j.mu.Unlock()
	// The task waits for this notification to commit and finish: a failed call is retried (a
	// lost TaskManager fails the task, which ends the wait anyway).
	for _, e := range waiting {
		j.notify(e, &jobgraph.NotifyCheckpointRequest{ExecutionId: e.ID, CheckpointId: finalNotification}, 5)
	}
}

func (j *JobMaster) onUpdate(eg *ExecutionGraph, u *jobgraph.TaskExecutionState) Transition {
	j.mu.Lock()
	defer j.mu.Unlock()
	if eg.Lookup(u.ExecutionId) == nil {
		// An execution of an earlier attempt, e.g. a task of the previous JobManager cancelled by
		// a TaskManager that registered with this one (high availability): not this attempt's.
		j.log.Debug().Str("execution", u.ExecutionId).Str("state", u.State.String()).Str("error", u.Error).Msg("update of an execution that is not part of the current attempt ignored")
		return NoChange
	}
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
	if e := eg.Lookup(u.ExecutionId); e != nil && j.ck.coord != nil {
		if u.EndOfInput || u.State == jobgraph.ExecutionState_FINISHED {
			j.ck.coord.TasksFinished(j.taskID(e))
		}
		if u.EndOfInput {
			e.EndOfInput = true
			return NoChange
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
