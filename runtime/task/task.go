package task

import (
	"context"
	"errors"
	"fmt"
	"github.com/flink-go/flink-go/configs"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/network"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
)

// Registry finds the typed factory of an operator by its id (the job binary's in-memory graph).
type Registry interface {
	Factory(operatorID string) (Factory, error)
}

// ErrCanceled is returned by Run when the task was cancelled.
var ErrCanceled = errors.New("task canceled")

// Failure is a task failure with the stack of the panic that caused it, if any.
type Failure struct {
	Err   error
	Stack string
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Task is one running subtask.
type Task struct {
	d        *jobgraph.TaskDeployment
	registry Registry
	net      *network.Environment
	log      zerolog.Logger
	info     *taskInfo

	autoWatermarkMs int64
	clock           func() int64

	// mailbox: actions run on the task goroutine between records.
	mu          sync.Mutex
	mail        []func()
	hasMail     atomic.Bool
	epochCtx    context.Context
	epochCancel context.CancelFunc
	canceled    atomic.Bool

	instances []Instance // chain order
	byID      map[string]Instance
	writers   []*network.RecordWriter
	parts     []*network.ResultPartition
	gate      *network.InputGate
	reader    *network.RecordReader
	decoders  []func([]byte) error // per input channel
	valve     *valve
	headWM    int64
	contexts  []*OperatorContext

	// checkpoints
	acker       Acker
	exactlyOnce bool
	aligning    *barrier
	// lastDoneCheckpoint is the highest checkpoint id the JobManager notified as aborted or
	// completed; barriers up to it are ignored.
	lastDoneCheckpoint int64
	// asyncAborts cancels the asynchronous part of a checkpoint (by id) when it is aborted.
	asyncMu        sync.Mutex
	asyncAborts    map[int64]context.CancelFunc
	alignStart     time.Time
	barriersSeen   map[int]bool
	eopPending     bool
	eopChannels    []int
	finishedInput  bool
	finalCommitted bool
}

// New prepares a task from its deployment. Nothing runs until Run.
func New(d *jobgraph.TaskDeployment, reg Registry, net *network.Environment, log zerolog.Logger) *Task {
	t := &Task{d: d, registry: reg, net: net,
		log:   log.With().Str("task", fmt.Sprintf("%s (%d/%d)", d.Vertex.Name, d.Subtask+1, d.Vertex.Parallelism)).Logger(),
		clock: func() int64 { return time.Now().UnixMilli() }}
	t.info = &taskInfo{d: d, log: &t.log}
	t.autoWatermarkMs = 200
	if v, ok := d.Config["pipeline.auto-watermark-interval"]; ok {
		// The configuration was validated at submission (configs.ParseDuration syntax).
		if dur, err := configs.ParseDuration(v); err == nil {
			t.autoWatermarkMs = dur.Milliseconds()
		}
	}
	t.exactlyOnce = !strings.EqualFold(strings.ReplaceAll(d.Config["execution.checkpointing.mode"], "-", "_"), "AT_LEAST_ONCE")
	t.epochCtx, t.epochCancel = context.WithCancel(context.Background())
	return t
}

// ExecutionID returns the deployment's execution id.
func (t *Task) ExecutionID() string { return t.d.ExecutionId }

// Cancel asks the task to stop; Run returns ErrCanceled soon after.
func (t *Task) Cancel() {
	t.canceled.Store(true)
	t.post(func() {})
	for _, p := range t.partsSnapshot() {
		p.Release()
	}
}

func (t *Task) partsSnapshot() []*network.ResultPartition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*network.ResultPartition(nil), t.parts...)
}

// post enqueues fn for the task goroutine and interrupts a blocking wait.
func (t *Task) post(fn func()) {
	t.mu.Lock()
	t.mail = append(t.mail, fn)
	t.hasMail.Store(true)
	cancel := t.epochCancel
	t.mu.Unlock()
	cancel()
}

func (t *Task) runMail() {
	t.mu.Lock()
	mail := t.mail
	t.mail = nil
	t.hasMail.Store(false)
	if t.epochCtx.Err() != nil {
		t.epochCtx, t.epochCancel = context.WithCancel(context.Background())
	}
	t.mu.Unlock()
	for _, fn := range mail {
		fn()
	}
}

func (t *Task) scheduleAt(ts int64, fn func(now int64)) {
	d := time.Duration(ts-t.clock()) * time.Millisecond
	if d < 0 {
		d = 0
	}
	time.AfterFunc(d, func() {
		t.post(func() { fn(t.clock()) })
	})
}

// Run executes the task until its input ends (nil), it is cancelled (ErrCanceled) or it fails.
func (t *Task) Run(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicToFailure(r)
		}
		if err != nil {
			for _, p := range t.partsSnapshot() {
				p.Release()
			}
		}
		for _, inst := range t.instances {
			if inst == nil { // build failed before creating it
				continue
			}
			if cerr := inst.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("closing operator: %w", cerr)
			}
		}
		if t.gate != nil {
			_ = t.gate.Close()
		}
		t.closeBackends()
		if t.canceled.Load() && err != nil {
			err = ErrCanceled
		}
	}()
	stop := context.AfterFunc(ctx, t.Cancel)
	defer stop()

	if err := t.build(); err != nil {
		return err
	}
	for i := len(t.instances) - 1; i >= 0; i-- {
		if err := t.instances[i].Open(); err != nil {
			return fmt.Errorf("opening operator %s: %w", t.d.Vertex.Operators[i].Name, err)
		}
	}
	if src, ok := t.instances[0].(SourceInstance); ok {
		err = t.runSource(src)
	} else {
		err = t.runInputs()
	}
	if err != nil {
		return err
	}
	if t.canceled.Load() {
		return ErrCanceled
	}
	for i, inst := range t.instances {
		if err := inst.Finish(); err != nil {
			return fmt.Errorf("finishing operator %s: %w", t.d.Vertex.Operators[i].Name, err)
		}
	}
	for _, w := range t.writers {
		if err := w.Close(); err != nil {
			return fmt.Errorf("closing output: %w", err)
		}
	}
	return t.awaitFinalCommit()
}

// awaitFinalCommit keeps a task with uncommitted output (an exactly-once sink) alive after its
// input ended until the JobManager reports that the whole job finished: committing earlier could
// duplicate output if another task failed and the job restarted from the last checkpoint.
func (t *Task) awaitFinalCommit() error {
	need := false
	for _, inst := range t.instances {
		if f, ok := inst.(FinalCommitter); ok && f.NeedsFinalCommit() {
			need = true
		}
	}
	if !need || t.acker == nil {
		return nil
	}
	t.finishedInput = true
	t.acker.EndOfInput(t.d)
	for !t.finalCommitted {
		if t.canceled.Load() {
			return ErrCanceled
		}
		<-t.epochCtx.Done()
		t.runMail()
	}
	return nil
}

func (t *Task) runSource(src SourceInstance) error {
	for {
		if t.hasMail.Load() {
			t.runMail()
		}
		if t.canceled.Load() {
			return ErrCanceled
		}
		st, err := src.Poll(t.epochCtx)
		if err != nil {
			if t.canceled.Load() {
				return ErrCanceled
			}
			return err
		}
		if st == op.End {
			return nil
		}
	}
}

func (t *Task) runInputs() error {
	if t.reader == nil {
		return nil
	}
	for {
		if t.hasMail.Load() {
			t.runMail()
		}
		if t.canceled.Load() {
			return ErrCanceled
		}
		ch, rec, ev, err := t.reader.Next(t.epochCtx)
		if t.eopPending {
			t.eopPending = false
			for _, c := range t.eopChannels {
				if wm, adv := t.valve.status(c, true); adv {
					t.instances[0].ProcessWatermark(wm)
				}
			}
			t.eopChannels = t.eopChannels[:0]
			t.maybeCompleteAlignment()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, context.Canceled) && !t.canceled.Load() {
				continue // mail arrived
			}
			if t.canceled.Load() {
				return ErrCanceled
			}
			return fmt.Errorf("reading input: %w", err)
		}
		if rec != nil {
			if err := t.decoders[ch](rec); err != nil {
				return fmt.Errorf("decoding a record from input channel %d: %w", ch, err)
			}
			continue
		}
		if ev != nil {
			if err := t.handleEvent(ch, ev); err != nil {
				return err
			}
		}
	}
}

func (t *Task) handleEvent(ch int, b []byte) error {
	e, err := decodeEvent(b)
	if err != nil {
		return fmt.Errorf("input channel %d: %w", ch, err)
	}
	var wm int64
	var adv bool
	switch e.kind {
	case evWatermark:
		wm, adv = t.valve.watermark(ch, e.watermark)
	case evWatermarkStatus:
		wasIdle := t.valve.allIdle
		wm, adv = t.valve.status(ch, e.idle)
		if t.valve.allIdle != wasIdle {
			t.forwardStatus(t.valve.allIdle)
		}
	case evBarrier:
		t.onBarrier(ch, e.barrier)
		return nil
	}
	if adv {
		t.instances[0].ProcessWatermark(wm)
	}
	return nil
}

func (t *Task) forwardStatus(idle bool) {
	ev := encodeWatermarkStatus(idle)
	for _, w := range t.writers {
		if err := w.BroadcastEvent(ev); err != nil {
			op.Fail(err)
		}
	}
}

// build creates partitions, instances (downstream first), and the input gate.
func (t *Task) build() error {
	v := t.d.Vertex
	maxPar := int(v.MaxParallelism)
	kg := serde.KeyGroupRangeFor(maxPar, int(v.Parallelism), int(t.d.Subtask))
	factories := make(map[string]Factory, len(v.Operators))
	for _, o := range v.Operators {
		f, err := t.registry.Factory(o.Id)
		if err != nil {
			return err
		}
		factories[o.Id] = f
	}
	// Network outputs per (operator, side tag).
	type outKey struct{ op, side string }
	netOuts := map[outKey][]any{}
	wmTargets := map[string][]func(int64){} // operator id -> watermark receivers
	for _, e := range v.Outputs {
		n := int(t.d.OutputParallelism[e.Id])
		if n <= 0 {
			return fmt.Errorf("deployment has no consumer parallelism for output edge %s", e.Id)
		}
		p, err := t.net.CreatePartition(network.PartitionID{Job: t.d.JobId, Vertex: e.Id, Subtask: int(t.d.Subtask), Attempt: int(t.d.Attempt)}, n)
		if err != nil {
			return fmt.Errorf("creating result partition for edge %s: %w", e.Id, err)
		}
		t.mu.Lock()
		t.parts = append(t.parts, p)
		t.mu.Unlock()
		w := network.NewRecordWriter(p)
		t.writers = append(t.writers, w)
		target, err := t.registry.Factory(e.TargetOperator)
		if err != nil {
			return err
		}
		out, err := target.InputType(int(e.TargetInput)).NetworkOutput(w, OutputSpec{
			Partitioning: e.Partitioning, NumChannels: n, Subtask: int(t.d.Subtask), MaxParallelism: maxParallelismOf(t.d, e),
		})
		if err != nil {
			return fmt.Errorf("output edge %s: %w", e.Id, err)
		}
		k := outKey{e.SourceOperator, e.SideOutput}
		netOuts[k] = append(netOuts[k], out)
		if e.SideOutput == "" {
			wmTargets[e.SourceOperator] = append(wmTargets[e.SourceOperator], func(wm int64) {
				if err := w.BroadcastEvent(encodeWatermark(wm)); err != nil {
					op.Fail(err)
				}
			})
		}
	}
	t.instances = make([]Instance, len(v.Operators))
	t.contexts = make([]*OperatorContext, len(v.Operators))
	t.byID = map[string]Instance{}
	for i := len(v.Operators) - 1; i >= 0; i-- {
		o := v.Operators[i]
		outs := map[string][]any{}
		var fanoutType = map[string]InputType{}
		for _, l := range v.Links {
			if l.FromOperator != o.Id {
				continue
			}
			target := t.byID[l.ToOperator]
			if target == nil {
				return fmt.Errorf("chain of %s is not in topological order (%s before %s)", v.Name, o.Id, l.ToOperator)
			}
			it := factories[l.ToOperator].InputType(int(l.ToInput))
			outs[l.SideOutput] = append(outs[l.SideOutput], it.ChainedOutput(target, int(l.ToInput)))
			fanoutType[l.SideOutput] = it
			if l.SideOutput == "" {
				wmTargets[o.Id] = append(wmTargets[o.Id], target.ProcessWatermark)
			}
		}
		for k, list := range netOuts {
			if k.op != o.Id {
				continue
			}
			outs[k.side] = append(outs[k.side], list...)
			if fanoutType[k.side] == nil {
				for _, e := range v.Outputs {
					if e.SourceOperator == o.Id && e.SideOutput == k.side {
						f, err := t.registry.Factory(e.TargetOperator)
						if err != nil {
							return err
						}
						fanoutType[k.side] = f.InputType(int(e.TargetInput))
						break
					}
				}
			}
		}
		var main any
		sides := map[string]any{}
		for side, list := range outs {
			var combined any
			if len(list) == 1 {
				combined = list[0]
			} else {
				combined = fanoutType[side].Fanout(list)
			}
			if side == "" {
				main = combined
			} else {
				sides[side] = combined
			}
		}
		targets := wmTargets[o.Id]
		ctx := &OperatorContext{info: t.info, opID: o.Id, opName: o.Name, MaxParallelism: maxPar, KeyGroups: kg, task: t,
			Watermarks: wmFanout(targets)}
		if err := t.restoreInto(i, ctx); err != nil {
			return err
		}
		t.contexts[i] = ctx
		inst, err := factories[o.Id].NewInstance(ctx, main, sides)
		if err != nil {
			return fmt.Errorf("creating operator %s: %w", o.Name, err)
		}
		t.instances[i] = inst
		t.byID[o.Id] = inst
	}
	return t.buildInputs(factories)
}

func maxParallelismOf(d *jobgraph.TaskDeployment, e *jobgraph.Edge) int {
	if e.TargetMaxParallelism > 0 {
		return int(e.TargetMaxParallelism)
	}
	return int(d.Vertex.MaxParallelism)
}

func (t *Task) buildInputs(factories map[string]Factory) error {
	v := t.d.Vertex
	if len(v.Inputs) == 0 {
		return nil
	}
	if len(t.d.Inputs) != len(v.Inputs) {
		return fmt.Errorf("deployment locates %d inputs, vertex has %d", len(t.d.Inputs), len(v.Inputs))
	}
	var specs []network.ChannelSpec
	head := t.instances[0]
	for i, e := range v.Inputs {
		loc := t.d.Inputs[i]
		dec := factories[e.TargetOperator].InputType(int(e.TargetInput)).Decoder(head, int(e.TargetInput))
		for p, addr := range loc.ProducerAddresses {
			attempt := 0
			if p < len(loc.ProducerAttempts) {
				attempt = int(loc.ProducerAttempts[p])
			}
			specs = append(specs, network.ChannelSpec{
				Partition:    network.PartitionID{Job: t.d.JobId, Vertex: e.Id, Subtask: p, Attempt: attempt},
				Subpartition: int(t.d.Subtask), Addr: addr,
			})
			t.decoders = append(t.decoders, dec)
		}
	}
	g, err := t.net.CreateInputGate(context.Background(), specs)
	if err != nil {
		return fmt.Errorf("creating input gate: %w", err)
	}
	t.attachInputGate(g)
	return nil
}

// attachInputGate makes g the task's input: its reader, watermark valve and end-of-partition
// handling.
func (t *Task) attachInputGate(g *network.InputGate) {
	t.gate = g
	t.reader = network.NewRecordReader(g)
	t.valve = newValve(g.NumChannels(), op.MinWatermark)
	t.reader.SetEndOfPartitionHandler(func(ch int) {
		// Handled after Next returns: an ended channel no longer holds the watermark back, and
		// counts as having delivered any pending barrier.
		t.eopChannels = append(t.eopChannels, ch)
		t.eopPending = true
	})
}

type wmFanout []func(int64)

func (f wmFanout) EmitWatermark(wm int64) {
	for _, fn := range f {
		fn(wm)
	}
}

func panicToFailure(r any) error {
	stack := string(debug.Stack())
	switch v := r.(type) {
	case *op.TaskError:
		return &Failure{Err: v.Err, Stack: stack}
	case error:
		return &Failure{Err: fmt.Errorf("user code panicked: %w", v), Stack: stack}
	default:
		return &Failure{Err: fmt.Errorf("user code panicked: %v", v), Stack: stack}
	}
}

type taskInfo struct {
	d   *jobgraph.TaskDeployment
	log *zerolog.Logger
}

type opTaskInfo struct {
	*taskInfo
	opID, opName string
}

func (i *opTaskInfo) JobID() string        { return i.d.JobId }
func (i *opTaskInfo) OperatorID() string   { return i.opID }
func (i *opTaskInfo) OperatorName() string { return i.opName }
func (i *opTaskInfo) Subtask() int         { return int(i.d.Subtask) }
func (i *opTaskInfo) Parallelism() int     { return int(i.d.Vertex.Parallelism) }
func (i *opTaskInfo) Attempt() int         { return int(i.d.Attempt) }
func (i *opTaskInfo) Config(key string) string {
	return i.d.Config[key]
}
func (i *opTaskInfo) Logger() *zerolog.Logger { return i.log }
