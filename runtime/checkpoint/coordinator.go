package checkpoint

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// pending is a triggered checkpoint that has not completed or failed yet.
type pending struct {
	id        int64
	trigger   time.Time
	deadline  time.Time
	savepoint bool
	kind      SavepointKind
	dir       string
	// dataDir is where tasks write (TriggerAction.Dir): dir, or with entropy
	// injection the same directory below Config.DataJobDir.
	dataDir string
	// awaiting holds the tasks whose acknowledgement is still missing.
	awaiting map[TaskID]bool
	acks     map[TaskID]*TaskStateHandle
	// opVertex and opMaxPar check that acks agree about operators.
	opVertex map[string]string
	opMaxPar map[string]int
	// shared holds the shared files this checkpoint holds a reference on
	// (acquired when an acknowledgement names them).
	shared     map[string]bool
	finalizing *Completed
	stats      *CheckpointStats
	maxAlign   time.Duration
	bytes      int64
	lastAck    time.Time
}

// Coordinator decides when checkpoints start, complete, fail and are
// discarded. It is pure: no goroutines, no I/O, time passed in; every input
// returns the Actions to carry out, in order. Not safe for concurrent use.
//
// Decisions worth knowing:
//   - The first periodic checkpoint is triggered Interval after the first
//     Tick; then every Interval, but never while MaxConcurrent checkpoints
//     (savepoints included) are pending, never earlier than MinPause after the
//     end of the previous periodic checkpoint, and never while a
//     stop-with-savepoint is pending. A trigger that was held back fires at
//     the first Tick after the obstacle cleared.
//   - A savepoint is triggered at once, regardless of pending checkpoints;
//     it is not retained (never subsumed, never discarded by the coordinator)
//     and its failure never fails the job.
//   - Once any task finished (bounded input), no more checkpoints or
//     savepoints are triggered, and pending ones still awaiting a finished
//     task are aborted at the next Tick, except a stop-with-savepoint (tasks
//     acknowledge it and then finish). Bounded jobs therefore commit their
//     two-phase sinks at end of input, not through a final checkpoint.
//   - When checkpoint N completes, pending checkpoints older than N are
//     aborted as subsumed; the oldest retained checkpoints beyond Retained are
//     discarded.
type Coordinator struct {
	cfg     Config
	log     zerolog.Logger
	tasks   []TaskID
	taskSet map[TaskID]bool
	sources []TaskID
	// parallelism per vertex.
	parallelism map[string]int

	finished map[TaskID]bool
	stopped  bool
	stopping int // pending stop-with-savepoints

	nextID      int64
	pending     map[int64]*pending
	nextTrigger time.Time
	lastEnd     time.Time

	retained []*Completed
	registry *SharedRegistry
	// abortedDirs remembers the directories of recently aborted checkpoints
	// and savepoints, for late acknowledgements.
	abortedDirs map[int64]string
	restored    *Completed

	failures      int
	countedIDs    map[int64]bool
	lastSucceeded int64

	counts        Counts
	summary       Summary
	history       []*CheckpointStats // newest first
	latestDone    *CheckpointStats
	latestSave    *CheckpointStats
	latestFail    *CheckpointStats
	latestRestore *RestoredStats
}

// NewCoordinator creates a coordinator for a job with the given tasks (every
// subtask of every vertex) and sources (the tasks that receive triggers).
// restoredFrom is the checkpoint the job starts from, or nil; checkpoint ids
// continue after it (and after nextID-1). A restored checkpoint of the same
// job (Config.JobID) that is not a savepoint and lies in Config.JobDir is
// owned: it is retained like the job's own checkpoints and discarded when it
// falls out of the retention. Other restored checkpoints are never discarded. Invalid Config values are
// replaced by defaults (see Config.Validate).
func NewCoordinator(cfg Config, tasks []TaskID, sources []TaskID, restoredFrom *Completed, nextID int64) *Coordinator {
	cfg = cfg.withDefaults()
	c := &Coordinator{
		cfg:           cfg,
		log:           zerolog.Nop(),
		finished:      map[TaskID]bool{},
		pending:       map[int64]*pending{},
		registry:      NewSharedRegistry(),
		abortedDirs:   map[int64]string{},
		countedIDs:    map[int64]bool{},
		lastSucceeded: -1,
	}
	c.setTasks(tasks, sources)
	if nextID < 1 {
		nextID = 1
	}
	if restoredFrom != nil {
		if restoredFrom.ID >= nextID {
			nextID = restoredFrom.ID + 1
		}
		c.lastSucceeded = restoredFrom.ID
		c.counts.Restored = 1
		c.latestRestore = &RestoredStats{ID: restoredFrom.ID, IsSavepoint: restoredFrom.Savepoint, ExternalPath: restoredFrom.ExternalPath}
		if owns(cfg, restoredFrom) {
			c.retained = append(c.retained, restoredFrom)
			c.registry.Register(restoredFrom)
		} else {
			c.restored = restoredFrom
		}
	}
	c.nextID = nextID
	return c
}

func (c *Coordinator) setTasks(tasks, sources []TaskID) {
	taskSet, par := map[TaskID]bool{}, map[string]int{}
	var ts, ss []TaskID
	for _, t := range tasks {
		if taskSet[t] {
			continue
		}
		taskSet[t] = true
		ts = append(ts, t)
		par[t.Vertex]++
	}
	for _, t := range sources {
		if taskSet[t] {
			ss = append(ss, t)
		}
	}
	c.tasks, c.sources, c.taskSet, c.parallelism = ts, ss, taskSet, par
}

// owns reports whether a restored checkpoint belongs to this job: a
// checkpoint (not a savepoint) of the same job id stored in the job's own
// directory. Anything else is never deleted by this coordinator (Flink's
// NO_CLAIM restore mode).
func owns(cfg Config, c *Completed) bool {
	if c.Savepoint || c.JobID == "" || c.JobID != cfg.JobID {
		return false
	}
	if cfg.JobDir == "" {
		return true
	}
	return strings.TrimRight(parentURI(strings.TrimRight(c.ExternalPath, "/")), "/") == strings.TrimRight(cfg.JobDir, "/")
}

// SetLogger sets the logger for decisions worth a line (failures, ignored
// messages). The default discards.
func (c *Coordinator) SetLogger(l zerolog.Logger) { c.log = l }

// Config returns the effective configuration (defaults applied).
func (c *Coordinator) Config() Config { return c.cfg }

// NextID returns the id the next checkpoint will get.
func (c *Coordinator) NextID() int64 { return c.nextID }

// Tick advances time: it aborts expired checkpoints and checkpoints still
// waiting for finished tasks, and triggers a periodic checkpoint when due.
func (c *Coordinator) Tick(now time.Time) []Action {
	var acts []Action
	for _, p := range c.sortedPending() {
		if p.finalizing != nil {
			continue
		}
		if !now.Before(p.deadline) {
			acts = append(acts, c.abort(now, p, fmt.Sprintf("checkpoint expired before completing (timeout %v; %d of %d tasks acknowledged; see execution.checkpointing.timeout)", c.cfg.Timeout, len(p.acks), len(p.acks)+len(p.awaiting)), true)...)
			continue
		}
		if p.kind.IsStop() {
			continue
		}
		for _, t := range c.tasks {
			if p.awaiting[t] && c.finished[t] {
				acts = append(acts, c.abort(now, p, fmt.Sprintf("task %v finished before acknowledging", t), false)...)
				break
			}
		}
	}
	if c.cfg.Interval <= 0 || c.stopped || c.stopping > 0 || len(c.finished) > 0 {
		return acts
	}
	if c.nextTrigger.IsZero() {
		c.nextTrigger = now.Add(c.cfg.Interval)
		return acts
	}
	if now.Before(c.nextTrigger) || len(c.pending) >= c.cfg.MaxConcurrent {
		return acts
	}
	if !c.lastEnd.IsZero() && now.Before(c.lastEnd.Add(c.cfg.MinPause)) {
		return acts
	}
	c.nextTrigger = now.Add(c.cfg.Interval)
	_, trig := c.trigger(now, false, SavepointNone, "")
	return append(acts, trig...)
}

// NextDeadline returns the earliest time at which Tick has something to do
// (a periodic trigger or a timeout), or the zero time when nothing is
// scheduled. Ticking at least then (or simply every 100 ms) is enough; call
// Tick once after NewCoordinator to schedule the first checkpoint.
func (c *Coordinator) NextDeadline() time.Time {
	var d time.Time
	if c.cfg.Interval > 0 && !c.stopped && c.stopping == 0 && len(c.finished) == 0 && !c.nextTrigger.IsZero() {
		d = c.nextTrigger
		if !c.lastEnd.IsZero() && c.lastEnd.Add(c.cfg.MinPause).After(d) {
			d = c.lastEnd.Add(c.cfg.MinPause)
		}
	}
	for _, p := range c.pending {
		if p.finalizing == nil && (d.IsZero() || p.deadline.Before(d)) {
			d = p.deadline
		}
	}
	return d
}

// TriggerSavepoint starts a savepoint into dir (the savepoint's own
// directory, see NewSavepointDir) and returns its id. Every savepoint ends in
// a NotifyCompleteAction or an AbortAction with that id. A stop kind holds
// back periodic checkpoints while pending and ends periodic checkpointing when
// it completes.
func (c *Coordinator) TriggerSavepoint(now time.Time, dir string, kind SavepointKind) (int64, []Action) {
	if kind == SavepointNone {
		kind = SavepointPlain
	}
	return c.trigger(now, true, kind, dir)
}

// TriggerCheckpoint starts a checkpoint now, outside the periodic schedule
// (REST POST /jobs/:id/checkpoints), ignoring MaxConcurrent and MinPause.
func (c *Coordinator) TriggerCheckpoint(now time.Time) (int64, []Action) {
	return c.trigger(now, false, SavepointNone, "")
}

func (c *Coordinator) trigger(now time.Time, savepoint bool, kind SavepointKind, dir string) (int64, []Action) {
	id := c.nextID
	c.nextID++
	dataDir := dir
	if !savepoint {
		dir, dataDir = c.checkpointDir(id), c.dataDir(id)
	}
	p := &pending{
		id: id, trigger: now, deadline: now.Add(c.cfg.Timeout), savepoint: savepoint, kind: kind, dir: dir, dataDir: dataDir,
		awaiting: map[TaskID]bool{}, acks: map[TaskID]*TaskStateHandle{},
		opVertex: map[string]string{}, opMaxPar: map[string]int{}, shared: map[string]bool{},
	}
	for _, t := range c.tasks {
		p.awaiting[t] = true
	}
	p.stats = &CheckpointStats{ID: id, Status: StatusInProgress, IsSavepoint: savepoint, CheckpointType: kind.String(),
		TriggerTimestamp: now.UnixMilli(), NumSubtasks: len(c.tasks), ExternalPath: dir}
	c.counts.Total++
	c.counts.InProgress++
	c.addHistory(p.stats)
	c.pending[id] = p
	if kind.IsStop() {
		c.stopping++
	}
	switch {
	case c.stopped:
		return id, c.abort(now, p, "checkpointing has stopped (the job is stopping or has been shut down)", false)
	case len(c.finished) > 0:
		return id, c.abort(now, p, "some tasks have already finished; flink-go takes no checkpoints once a task finished", false)
	case len(c.tasks) > 0 && len(c.sources) == 0:
		return id, c.abort(now, p, "the job has no source tasks to send barriers from", false)
	case savepoint && dir == "":
		return id, c.abort(now, p, "no savepoint directory (pass one, or set execution.checkpointing.savepoint-dir)", false)
	}
	c.log.Debug().Int64("checkpoint", id).Str("kind", kind.String()).Msg("triggering checkpoint")
	acts := []Action{&TriggerAction{ID: id, Timestamp: now.UnixMilli(), Savepoint: savepoint, Kind: kind, Mode: c.cfg.Mode,
		Dir: dataDir, Targets: append([]TaskID(nil), c.sources...)}}
	if len(p.awaiting) == 0 {
		acts = append(acts, c.startFinalize(now, p)...)
	}
	return id, acts
}

func (c *Coordinator) checkpointDir(id int64) string {
	if c.cfg.JobDir == "" {
		return ""
	}
	return CheckpointDir(c.cfg.JobDir, id)
}

// dataDir is the directory tasks write checkpoint id's files to.
func (c *Coordinator) dataDir(id int64) string {
	if c.cfg.DataJobDir == "" {
		return c.checkpointDir(id)
	}
	return CheckpointDir(c.cfg.DataJobDir, id)
}

// relativize rewrites the absolute file URIs (or absolute local paths, when
// the checkpoint directory is one) of h that lie in the checkpoint's
// directory dir (exclusive files) or the job's shared directory (shared
// files) as paths relative to them, so _metadata stays relocatable; other
// absolute URIs (entropy-injected files) are kept. It returns a copy: h is
// not modified.
func (c *Coordinator) relativize(dir string, h TaskStateHandle) TaskStateHandle {
	if dir == "" {
		return h
	}
	exclusive := strings.TrimRight(dir, "/") + "/"
	shared := strings.TrimRight(SharedDir(dir), "/") + "/"
	rel := func(files []StateFile) []StateFile {
		var out []StateFile
		for i, f := range files {
			if !IsAbsolutePath(f.Path) && !strings.HasPrefix(f.Path, "/") {
				continue
			}
			base := exclusive
			if f.Shared {
				base = shared
			}
			r, ok := strings.CutPrefix(f.Path, base)
			if !ok || r == "" {
				continue
			}
			if out == nil {
				out = append([]StateFile(nil), files...)
			}
			out[i].Path = r
		}
		if out == nil {
			return files
		}
		return out
	}
	ops := make([]OperatorSubtaskState, len(h.Operators))
	for i, op := range h.Operators {
		op.Files = rel(op.Files)
		if len(op.Keyed) > 0 {
			keyed := make([]KeyedState, len(op.Keyed))
			for j, k := range op.Keyed {
				k.Files = rel(k.Files)
				keyed[j] = k
			}
			op.Keyed = keyed
		}
		ops[i] = op
	}
	h.Operators = ops
	return h
}

// outsideFiles returns the distinct exclusive files of fn's files that are
// absolute URIs (written outside the checkpoint's directory, so its
// recursive deletion does not reach them), sorted.
func outsideFiles(each func(func(StateFile))) []string {
	seen := map[string]bool{}
	var out []string
	each(func(f StateFile) {
		if !f.Shared && IsAbsolutePath(f.Path) && !seen[f.Path] && validatePath(f.Path) == nil {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	})
	sort.Strings(out)
	return out
}

// discardOutside returns a DiscardStateAction for the exclusive files of
// checkpoint id outside its directory dir, or nil when there are none.
func discardOutside(id int64, dir string, files []string) []Action {
	if len(files) == 0 {
		return nil
	}
	return []Action{&DiscardStateAction{ID: id, Dir: dir, Exclusive: files}}
}

// Ack records a task's acknowledgement. When the last task acknowledged, it
// returns a CompleteAction; the caller writes the metadata and calls
// Finalized. An acknowledgement for a checkpoint that was aborted returns a
// DiscardStateAction for the files written in vain; duplicates and unknown
// tasks are ignored.
func (c *Coordinator) Ack(now time.Time, t TaskID, id int64, h TaskStateHandle) []Action {
	p := c.pending[id]
	if p == nil {
		dir, ok := c.abortedDirs[id]
		if !ok {
			dir = c.checkpointDir(id)
		}
		h = c.relativize(dir, h)
		return c.lateAck(t, id, &h)
	}
	h = c.relativize(p.dir, h)
	if !c.taskSet[t] {
		c.log.Warn().Int64("checkpoint", id).Stringer("task", t).Msg("acknowledgement from an unknown task ignored")
		return nil
	}
	if p.finalizing != nil || !p.awaiting[t] {
		c.log.Warn().Int64("checkpoint", id).Stringer("task", t).Msg("duplicate acknowledgement ignored")
		return nil
	}
	if err := c.checkAck(p, t, &h); err != nil {
		c.log.Warn().Err(err).Int64("checkpoint", id).Stringer("task", t).Msg("rejecting checkpoint")
		acts := c.abort(now, p, fmt.Sprintf("task %v acknowledged an invalid state handle: %v", t, err), true)
		// The refused handle's shared files that nobody references were
		// uploaded in vain: delete them with the checkpoint.
		ab := acts[0].(*AbortAction)
		seen := map[string]bool{}
		for _, f := range ab.DiscardShared {
			seen[f] = true
		}
		h.eachFile(func(f StateFile) {
			if f.Shared && f.New && !p.savepoint && !seen[f.Path] && validatePath(f.Path) == nil && c.registry.Refs(f.Path) == 0 {
				seen[f.Path] = true
				ab.DiscardShared = append(ab.DiscardShared, f.Path)
			}
		})
		sort.Strings(ab.DiscardShared)
		return append(acts, discardOutside(p.id, p.dir, outsideFiles(h.eachFile))...)
	}
	for _, op := range h.Operators {
		p.opVertex[op.OperatorID] = t.Vertex
		p.opMaxPar[op.OperatorID] = op.MaxParallelism
	}
	for _, path := range h.sharedPaths() {
		if !p.shared[path] {
			p.shared[path] = true
			c.registry.Acquire(path)
		}
	}
	hc := h
	p.acks[t] = &hc
	delete(p.awaiting, t)
	if d := time.Duration(h.AlignmentDuration); d > p.maxAlign {
		p.maxAlign = d
	}
	p.bytes += h.BytesWritten
	p.lastAck = now
	p.stats.NumAcknowledgedSubtasks = len(p.acks)
	p.stats.LatestAckTimestamp = now.UnixMilli()
	if len(p.awaiting) > 0 {
		return nil
	}
	return c.startFinalize(now, p)
}

func (c *Coordinator) checkAck(p *pending, t TaskID, h *TaskStateHandle) error {
	if err := h.Validate(p.savepoint); err != nil {
		return err
	}
	for _, op := range h.Operators {
		if v, ok := p.opVertex[op.OperatorID]; ok && v != t.Vertex {
			return fmt.Errorf("%w: operator %s reported by vertices %s and %s", ErrInvalidHandle, op.OperatorID, v, t.Vertex)
		}
		if m, ok := p.opMaxPar[op.OperatorID]; ok && m != op.MaxParallelism {
			return fmt.Errorf("%w: operator %s reported max parallelism %d and %d", ErrInvalidHandle, op.OperatorID, m, op.MaxParallelism)
		}
	}
	var err error
	h.eachFile(func(f StateFile) {
		switch {
		case err != nil || !f.Shared:
		case f.New && c.registry.Refs(f.Path) > 0:
			err = fmt.Errorf("%w: shared file %q is marked new but another checkpoint already references that name (new shared files need unique names)", ErrInvalidHandle, f.Path)
		case !f.New && c.registry.Refs(f.Path) == 0:
			err = fmt.Errorf("%w: reuses shared file %q that no retained checkpoint references any more (it may already be deleted: the backend must re-upload it, or mark files it uploaded for this checkpoint as New)", ErrInvalidHandle, f.Path)
		}
	})
	return err
}

func (c *Coordinator) lateAck(t TaskID, id int64, h *TaskStateHandle) []Action {
	if id >= c.nextID || id < 1 {
		c.log.Warn().Int64("checkpoint", id).Stringer("task", t).Msg("acknowledgement for a checkpoint never triggered ignored")
		return nil
	}
	for _, r := range c.retained {
		if r.ID == id {
			return nil // a duplicate of a completed checkpoint's ack: its files are in use
		}
	}
	if c.restored != nil && c.restored.ID == id {
		return nil
	}
	dir, ok := c.abortedDirs[id]
	if !ok {
		dir = c.checkpointDir(id)
	}
	a := &DiscardStateAction{ID: id, Task: t, Dir: dir}
	seen := map[string]bool{}
	h.eachFile(func(f StateFile) {
		if validatePath(f.Path) != nil {
			return // never touch a path that could escape the directory
		}
		key := strconv.FormatBool(f.Shared) + f.Path
		if seen[key] {
			return
		}
		seen[key] = true
		if f.Shared {
			// Only files uploaded for this checkpoint: a reused file with no
			// reference is already gone, or belongs to a checkpoint this job
			// does not own.
			if f.New && c.registry.Refs(f.Path) == 0 {
				a.Shared = append(a.Shared, f.Path)
			}
		} else {
			a.Exclusive = append(a.Exclusive, f.Path)
		}
	})
	sort.Strings(a.Exclusive)
	sort.Strings(a.Shared)
	c.log.Info().Int64("checkpoint", id).Stringer("task", t).Msg("late acknowledgement for a checkpoint that is no longer pending; discarding its files")
	if len(a.Exclusive) == 0 && len(a.Shared) == 0 {
		return nil
	}
	return []Action{a}
}

// Decline records that a task could not take its snapshot (an error in the
// snapshot or its upload). The checkpoint is aborted and the failure counts
// towards Config.TolerableFailures (unless it is a savepoint).
func (c *Coordinator) Decline(now time.Time, t TaskID, id int64, reason string) []Action {
	return c.decline(now, t, id, reason, true)
}

// DeclineNotReady records that a task declined because it was not ready to
// checkpoint (still restoring, closing, input ended). The checkpoint is
// aborted without counting as a failure, as in Flink.
func (c *Coordinator) DeclineNotReady(now time.Time, t TaskID, id int64, reason string) []Action {
	return c.decline(now, t, id, reason, false)
}

func (c *Coordinator) decline(now time.Time, t TaskID, id int64, reason string, counted bool) []Action {
	p := c.pending[id]
	if p == nil || p.finalizing != nil || !c.taskSet[t] {
		return nil
	}
	return c.abort(now, p, fmt.Sprintf("task %v declined: %s", t, reason), counted)
}

// TasksFinished records that a task reached the end of its input. From now
// on nothing is triggered; pending checkpoints still waiting for it are
// aborted at the next Tick (not counted as failures).
func (c *Coordinator) TasksFinished(t TaskID) {
	if c.taskSet[t] {
		c.finished[t] = true
	}
}

// startFinalize turns a fully acknowledged checkpoint into a Completed and
// asks the caller to persist it.
func (c *Coordinator) startFinalize(now time.Time, p *pending) []Action {
	cp := &Completed{JobID: c.cfg.JobID, ID: p.id, Timestamp: p.trigger.UnixMilli(), CompletedAt: now.UnixMilli(),
		Savepoint: p.savepoint, Kind: p.kind, ExternalPath: p.dir, BytesWritten: p.bytes}
	ops := map[string]*OperatorState{}
	for _, t := range c.tasks {
		h := p.acks[t]
		if h == nil {
			continue
		}
		for _, o := range h.Operators {
			op := ops[o.OperatorID]
			if op == nil {
				op = &OperatorState{OperatorID: o.OperatorID, Parallelism: c.parallelism[t.Vertex], MaxParallelism: o.MaxParallelism}
				ops[o.OperatorID] = op
				cp.Operators = append(cp.Operators, op)
			}
			st := SubtaskState{Subtask: t.Subtask, Keyed: copyKeyed(o.Keyed), Files: copyFiles(o.Files), Committables: copyBlobs(o.Committables)}
			if o.SourceReader != nil {
				st.SourceReader = append([]byte{}, o.SourceReader...)
			}
			if !st.empty() {
				op.Subtasks = append(op.Subtasks, st)
			}
		}
	}
	sort.Slice(cp.Operators, func(i, j int) bool { return cp.Operators[i].OperatorID < cp.Operators[j].OperatorID })
	for _, op := range cp.Operators {
		sort.Slice(op.Subtasks, func(i, j int) bool { return op.Subtasks[i].Subtask < op.Subtasks[j].Subtask })
	}
	p.finalizing = cp
	return []Action{&CompleteAction{Checkpoint: cp}}
}

// Finalized reports the outcome of writing a completed checkpoint's metadata
// (the CompleteAction). With err == nil the checkpoint is complete: tasks are
// notified, older pending checkpoints are subsumed and checkpoints beyond the
// retention are discarded. With an error the checkpoint fails (counted).
func (c *Coordinator) Finalized(now time.Time, id int64, err error) []Action {
	p := c.pending[id]
	if p == nil || p.finalizing == nil {
		c.log.Warn().Int64("checkpoint", id).Msg("Finalized for a checkpoint that is not being finalized ignored")
		return nil
	}
	if err != nil {
		return c.abort(now, p, fmt.Sprintf("writing the checkpoint metadata failed: %v", err), true)
	}
	cp := p.finalizing
	delete(c.pending, id)
	if !p.savepoint {
		c.lastEnd = now
	}
	if id > c.lastSucceeded {
		c.lastSucceeded = id
		c.failures = 0
		clear(c.countedIDs)
	}
	st := p.stats
	st.Status = StatusCompleted
	st.StateSize = cp.StateSize()
	st.CheckpointedSize = p.bytes
	st.EndToEndDuration = now.Sub(p.trigger).Milliseconds()
	st.AlignmentDuration = p.maxAlign.Milliseconds()
	st.LatestAckTimestamp = p.lastAck.UnixMilli()
	c.counts.InProgress--
	c.counts.Completed++
	c.summary.StateSize.add(st.StateSize)
	c.summary.CheckpointedSize.add(st.CheckpointedSize)
	c.summary.EndToEndDuration.add(st.EndToEndDuration)
	c.summary.AlignmentDuration.add(st.AlignmentDuration)
	if p.savepoint {
		c.latestSave = st
	} else {
		c.latestDone = st
	}
	c.log.Info().Int64("checkpoint", id).Str("kind", p.kind.String()).Int64("duration_ms", st.EndToEndDuration).
		Int64("state_size", st.StateSize).Msg("checkpoint completed")

	acts := []Action{&NotifyCompleteAction{ID: id, Savepoint: p.savepoint, Kind: p.kind, Path: cp.ExternalPath}}
	if p.kind.IsStop() {
		c.stopping--
		c.stopped = true
		for _, q := range c.sortedPending() {
			acts = append(acts, c.abort(now, q, fmt.Sprintf("the job is stopping with savepoint %d", id), false)...)
		}
		return acts
	}
	if p.savepoint {
		return acts
	}
	for _, q := range c.sortedPending() {
		if q.id < id && !q.savepoint && q.finalizing == nil {
			acts = append(acts, c.abort(now, q, fmt.Sprintf("subsumed by checkpoint %d", id), false)...)
		}
	}
	// The shared files' references were acquired with the acknowledgements.
	c.retained = append(c.retained, cp)
	for len(c.retained) > c.cfg.Retained {
		old := c.retained[0]
		c.retained = c.retained[1:]
		acts = append(acts, c.discard(old)...)
		for _, h := range c.history {
			if h.ID == old.ID {
				h.Discarded = true
			}
		}
	}
	return acts
}

// abort ends a pending checkpoint as failed.
func (c *Coordinator) abort(now time.Time, p *pending, reason string, counted bool) []Action {
	delete(c.pending, p.id)
	if !p.savepoint {
		c.lastEnd = now
	}
	if p.kind.IsStop() {
		c.stopping--
	}
	p.stats.Status = StatusFailed
	p.stats.FailureTimestamp = now.UnixMilli()
	p.stats.FailureMessage = reason
	c.counts.InProgress--
	c.counts.Failed++
	c.latestFail = p.stats
	a := &AbortAction{ID: p.id, Reason: reason, Savepoint: p.savepoint, Kind: p.kind, Dir: p.dir}
	c.rememberAborted(p.id, p.dir)
	held := make([]string, 0, len(p.shared))
	for path := range p.shared {
		held = append(held, path)
	}
	sort.Strings(held)
	a.DiscardShared = c.registry.Release(held...)
	outside := outsideFiles(func(fn func(StateFile)) {
		for _, h := range p.acks {
			h.eachFile(fn)
		}
	})
	ev := c.log.Info()
	if counted {
		ev = c.log.Warn()
	}
	ev.Int64("checkpoint", p.id).Str("kind", p.kind.String()).Str("reason", reason).Msg("checkpoint aborted")
	acts := append([]Action{a}, discardOutside(p.id, p.dir, outside)...)
	if counted && !p.savepoint {
		if f := c.countFailure(p.id, reason); f != nil {
			acts = append(acts, f)
		}
	}
	return acts
}

// countFailure follows Flink's CheckpointFailureManager: consecutive failures
// of checkpoints newer than the last completed one, each id once.
func (c *Coordinator) countFailure(id int64, reason string) Action {
	if c.cfg.TolerableFailures == UnlimitedFailures || id <= c.lastSucceeded || c.countedIDs[id] {
		return nil
	}
	c.countedIDs[id] = true
	c.failures++
	if c.failures <= c.cfg.TolerableFailures {
		return nil
	}
	n := c.failures
	c.failures = 0
	clear(c.countedIDs)
	return &FailJobAction{Reason: fmt.Sprintf("exceeded the checkpoint tolerable failure threshold: %d consecutive checkpoint failures, %d tolerated (execution.checkpointing.tolerable-failed-checkpoints); last: checkpoint %d: %s",
		n, c.cfg.TolerableFailures, id, reason)}
}

// Reset is called when the job fails over (all tasks restart): pending
// checkpoints are aborted (not counted), finished tasks run again, and the
// periodic schedule restarts at the next Tick. The tasks restore from
// Latest(). Keep using the same Coordinator across restarts (rather than
// creating a new one) so retained checkpoints, shared-file counts, pending
// checkpoints' cleanup and statistics carry over.
func (c *Coordinator) Reset(now time.Time, reason string) []Action {
	return c.Restart(now, reason, c.tasks, c.sources)
}

// Restart is Reset with a new set of tasks and sources (e.g. the job was
// rescaled).
func (c *Coordinator) Restart(now time.Time, reason string, tasks, sources []TaskID) []Action {
	var acts []Action
	for _, p := range c.sortedPending() {
		acts = append(acts, c.abort(now, p, "job failover: "+reason, false)...)
	}
	c.setTasks(tasks, sources)
	clear(c.finished)
	c.nextTrigger = time.Time{}
	if l := c.Latest(); l != nil {
		c.counts.Restored++
		c.latestRestore = &RestoredStats{ID: l.ID, RestoreTimestamp: now.UnixMilli(), IsSavepoint: l.Savepoint, ExternalPath: l.ExternalPath}
	}
	return acts
}

// Shutdown stops checkpointing for good (the job reached a terminal state):
// pending checkpoints are aborted (not counted); with discard, every retained
// checkpoint is discarded too (Flink's DELETE_ON_CANCELLATION, and
// NO_EXTERNALIZED_CHECKPOINTS on any terminal state); without, they stay on
// storage (RETAIN_ON_CANCELLATION).
func (c *Coordinator) Shutdown(now time.Time, reason string, discard bool) []Action {
	var acts []Action
	for _, p := range c.sortedPending() {
		acts = append(acts, c.abort(now, p, "checkpoint coordinator shut down: "+reason, false)...)
	}
	c.stopped = true
	if discard {
		for len(c.retained) > 0 {
			old := c.retained[0]
			c.retained = c.retained[1:]
			acts = append(acts, c.discard(old)...)
		}
	}
	return acts
}

// discard drops a retained checkpoint: its DiscardAction, then a
// DiscardStateAction for its exclusive files outside its directory
// (entropy-injected), if any.
func (c *Coordinator) discard(old *Completed) []Action {
	acts := []Action{&DiscardAction{Checkpoint: old, SharedFiles: c.registry.Unregister(old)}}
	return append(acts, discardOutside(old.ID, old.ExternalPath, outsideFiles(old.eachFile))...)
}

// Completed returns the retained checkpoints, oldest first.
func (c *Coordinator) Completed() []*Completed {
	return append([]*Completed(nil), c.retained...)
}

// Latest returns the newest retained checkpoint, else the checkpoint the job
// was restored from, else nil: what tasks restore from after a failover.
func (c *Coordinator) Latest() *Completed {
	if n := len(c.retained); n > 0 {
		return c.retained[n-1]
	}
	return c.restored
}

// Pending returns the ids of pending checkpoints, ascending.
func (c *Coordinator) Pending() []int64 {
	var ids []int64
	for _, p := range c.sortedPending() {
		ids = append(ids, p.id)
	}
	return ids
}

// SharedRegistry exposes the reference counts of shared files (read-only use).
func (c *Coordinator) SharedRegistry() *SharedRegistry { return c.registry }

// Stats returns a copy of the statistics.
func (c *Coordinator) Stats() Stats {
	s := Stats{Counts: c.counts, Summary: c.summary, ConsecutiveFailures: c.failures}
	s.Latest.Completed = copyStats(c.latestDone)
	s.Latest.Savepoint = copyStats(c.latestSave)
	s.Latest.Failed = copyStats(c.latestFail)
	if c.latestRestore != nil {
		r := *c.latestRestore
		s.Latest.Restored = &r
	}
	s.History = make([]CheckpointStats, 0, len(c.history))
	for _, h := range c.history {
		s.History = append(s.History, *h)
	}
	return s
}

func (c *Coordinator) addHistory(s *CheckpointStats) {
	c.history = append([]*CheckpointStats{s}, c.history...)
	if len(c.history) > c.cfg.History {
		c.history = c.history[:c.cfg.History]
	}
}

// maxAbortedDirs bounds abortedDirs; older entries fall back to chk-<id>.
const maxAbortedDirs = 256

func (c *Coordinator) rememberAborted(id int64, dir string) {
	c.abortedDirs[id] = dir
	if len(c.abortedDirs) <= maxAbortedDirs {
		return
	}
	oldest := id
	for k := range c.abortedDirs {
		oldest = min(oldest, k)
	}
	delete(c.abortedDirs, oldest)
}

func (c *Coordinator) sortedPending() []*pending {
	ps := make([]*pending, 0, len(c.pending))
	for _, p := range c.pending {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].id < ps[j].id })
	return ps
}
