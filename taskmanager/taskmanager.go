// Package taskmanager is the TaskExecutor: it offers slots to the JobManager, runs the tasks
// deployed to it (each in its own goroutine), reports their states, heartbeats, and hosts the
// process's data plane (network.Environment).
package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/netutil"
	"github.com/flink-go/flink-go/runtime/network"
	"github.com/flink-go/flink-go/runtime/task"
)

// Config configures a TaskExecutor.
type Config struct {
	ResourceID  string
	JobManager  string // gRPC address of the JobManager
	RPCAddress  string // bind address of the TaskExecutor gRPC service ("127.0.0.1:0"; the port may be a range or list)
	Host        string // advertised host ("127.0.0.1")
	Slots       int
	JobID       string // non-empty: a per-job TaskManager
	Registry    task.Registry
	Network     network.Config
	MemoryBytes int64
	Logger      zerolog.Logger
	// HALeader is the URI of the JobManager leader file (high availability, jobmanager.HAStore).
	// When set, a TaskManager that loses its JobManager cancels its tasks and registers with the
	// JobManager the leader file names, instead of shutting down (docs/ha.md).
	HALeader string
	// RegistrationTimeout bounds the wait for a new JobManager after the old one was lost
	// (taskmanager.registration.timeout; default 5 minutes). Then the TaskManager shuts down.
	RegistrationTimeout time.Duration
}

// EnvHALeader is the environment variable that passes Config.HALeader to TaskManager processes.
const EnvHALeader = "FLINK_GO_HA_LEADER"

// TaskExecutor is a running TaskManager.
type TaskExecutor struct {
	cfg  Config
	log  zerolog.Logger
	net  *network.Environment
	srv  *grpc.Server
	lis  net.Listener
	gwMu sync.Mutex
	conn *grpc.ClientConn
	jm   jobgraph.JobManagerGatewayClient
	jmAt string // the JobManager's address
	// hbInterval is the heartbeat interval in ms the JobManager gave at registration.
	hbInterval atomic.Int64
	mu         sync.Mutex
	tasks      map[string]*task.Task
	wg         sync.WaitGroup
	done       chan struct{}
	once       sync.Once
	why        string
	jobgraph.UnimplementedTaskExecutorGatewayServer
}

// Start starts the TaskExecutor and registers it with the JobManager.
func Start(ctx context.Context, cfg Config) (*TaskExecutor, error) {
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.RPCAddress == "" {
		cfg.RPCAddress = cfg.Host + ":0"
	}
	if cfg.Network.BindAddress == "" {
		cfg.Network.BindAddress = cfg.Host + ":0"
	}
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = 5 * time.Minute
	}
	if cfg.ResourceID == "" {
		h, _ := os.Hostname()
		cfg.ResourceID = fmt.Sprintf("%s-%d-%d", h, os.Getpid(), time.Now().UnixNano()%100000)
	}
	te := &TaskExecutor{cfg: cfg, log: cfg.Logger.With().Str("component", "taskmanager").Str("taskmanager", cfg.ResourceID).Logger(),
		tasks: map[string]*task.Task{}, done: make(chan struct{})}
	nl := te.log
	cfg.Network.Logger = &nl
	env, err := network.NewEnvironment(cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("starting the data plane: %w", err)
	}
	te.net = env
	lis, err := netutil.ListenAddr(cfg.RPCAddress)
	if err != nil {
		_ = env.Close()
		return nil, fmt.Errorf("taskmanager rpc: listening on %s: %w", cfg.RPCAddress, err)
	}
	te.lis = lis
	te.srv = grpc.NewServer()
	jobgraph.RegisterTaskExecutorGatewayServer(te.srv, te)
	go func() { _ = te.srv.Serve(lis) }()
	conn, err := grpc.NewClient(cfg.JobManager, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		te.Close()
		return nil, fmt.Errorf("connecting to the JobManager at %s: %w", cfg.JobManager, err)
	}
	te.conn, te.jm, te.jmAt = conn, jobgraph.NewJobManagerGatewayClient(conn), cfg.JobManager
	if err := te.register(ctx); err != nil {
		te.Close()
		return nil, err
	}
	go te.heartbeats()
	return te, nil
}

// gateway returns the current JobManager client and its address.
func (te *TaskExecutor) gateway() (jobgraph.JobManagerGatewayClient, string) {
	te.gwMu.Lock()
	defer te.gwMu.Unlock()
	return te.jm, te.jmAt
}

func (te *TaskExecutor) registration() *jobgraph.RegisterTaskManagerRequest {
	return &jobgraph.RegisterTaskManagerRequest{ResourceId: te.cfg.ResourceID, RpcAddress: te.lis.Addr().String(), DataAddress: te.net.Addr(),
		Slots: int32(te.cfg.Slots), MemoryBytes: te.cfg.MemoryBytes, Host: te.cfg.Host, Pid: int64(os.Getpid()), JobId: te.cfg.JobID}
}

func (te *TaskExecutor) register(ctx context.Context) error {
	req := te.registration()
	var last error
	for attempt := 0; attempt < 50; attempt++ {
		gw, at := te.gateway()
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := gw.RegisterTaskManager(rctx, req)
		cancel()
		if err == nil {
			te.registered(resp)
			te.log.Info().Str("jobmanager", at).Int("slots", te.cfg.Slots).Str("data", te.net.Addr()).Msg("registered at the JobManager")
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("registering at the JobManager %s: %w (is the JobManager running and jobmanager.rpc.address right?)", te.cfg.JobManager, last)
}

// registered takes the JobManager's settings from its registration response: the heartbeat
// interval (heartbeat.interval).
func (te *TaskExecutor) registered(resp *jobgraph.RegisterTaskManagerResponse) {
	if ms := resp.GetHeartbeatIntervalMs(); ms > 0 {
		te.hbInterval.Store(ms)
	}
}

// heartbeatInterval is the JobManager's heartbeat.interval (1 s until it is known).
func (te *TaskExecutor) heartbeatInterval() time.Duration {
	if ms := te.hbInterval.Load(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Second
}

func (te *TaskExecutor) heartbeats() {
	interval := te.heartbeatInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-te.done:
			return
		case <-t.C:
		}
		if d := te.heartbeatInterval(); d != interval { // a new JobManager (HA) may use another
			interval = d
			t.Reset(d)
		}
		te.mu.Lock()
		var running []string
		for id := range te.tasks {
			running = append(running, id)
		}
		te.mu.Unlock()
		gw, _ := te.gateway()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := gw.Heartbeat(ctx, &jobgraph.HeartbeatRequest{ResourceId: te.cfg.ResourceID, RunningExecutions: running})
		cancel()
		if err != nil {
			failures++
			if te.cfg.HALeader != "" && failures >= haFailoverHeartbeats {
				if ferr := te.failover(err); ferr != nil {
					te.shutdown(ferr.Error())
					return
				}
				failures = 0
				continue
			}
			if failures >= 10 {
				te.shutdown("lost the JobManager: " + err.Error())
				return
			}
			continue
		}
		failures = 0
		if resp.Unknown {
			te.log.Warn().Msg("the JobManager does not know this TaskManager: registering again")
			_ = te.register(context.Background())
		}
	}
}

// SubmitTask implements the gateway: it starts the task in its own goroutine.
func (te *TaskExecutor) SubmitTask(_ context.Context, d *jobgraph.TaskDeployment) (*jobgraph.Ack, error) {
	if d.Vertex == nil {
		return nil, errors.New("deployment without a vertex")
	}
	if te.cfg.Registry == nil {
		return nil, errors.New("this TaskManager has no job code to run tasks with")
	}
	t := task.New(d, te.cfg.Registry, te.net, te.log)
	t.SetAcker(te)
	te.mu.Lock()
	te.tasks[d.ExecutionId] = t
	te.mu.Unlock()
	te.wg.Add(1)
	go te.runTask(t, d)
	return &jobgraph.Ack{}, nil
}

func (te *TaskExecutor) runTask(t *task.Task, d *jobgraph.TaskDeployment) {
	defer te.wg.Done()
	te.report(d, jobgraph.ExecutionState_RUNNING, nil)
	err := t.Run(context.Background())
	te.mu.Lock()
	delete(te.tasks, d.ExecutionId)
	te.mu.Unlock()
	switch {
	case err == nil:
		te.report(d, jobgraph.ExecutionState_FINISHED, nil)
	case errors.Is(err, task.ErrCanceled):
		te.report(d, jobgraph.ExecutionState_CANCELED, nil)
	default:
		te.report(d, jobgraph.ExecutionState_FAILED, err)
	}
}

func (te *TaskExecutor) report(d *jobgraph.TaskDeployment, st jobgraph.ExecutionState, err error) {
	msg := &jobgraph.TaskExecutionState{JobId: d.JobId, ExecutionId: d.ExecutionId, State: st, ResourceId: te.cfg.ResourceID}
	if err != nil {
		msg.Error = err.Error()
		var f *task.Failure
		if errors.As(err, &f) {
			msg.ErrorDetail = f.Stack
		}
		te.log.Warn().Str("execution", d.ExecutionId).Str("task", d.Vertex.Name).Err(err).Msg("task failed")
	}
	te.send(msg)
}

// send delivers a task state message to the JobManager, retrying for about half a minute (the
// JobManager may be busy or, with HA, about to be replaced).
func (te *TaskExecutor) send(msg *jobgraph.TaskExecutionState) {
	var rerr error
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gw, _ := te.gateway()
		_, rerr = gw.UpdateTaskExecutionState(ctx, msg)
		cancel()
		if rerr == nil {
			return
		}
		time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
	}
	te.log.Error().Err(rerr).Str("execution", msg.ExecutionId).Str("state", msg.State.String()).Bool("end_of_input", msg.EndOfInput).
		Msg("could not report a task state to the JobManager")
}

// TriggerCheckpoint implements the gateway (sent to source tasks).
func (te *TaskExecutor) TriggerCheckpoint(_ context.Context, req *jobgraph.CheckpointRequest) (*jobgraph.Ack, error) {
	te.mu.Lock()
	t := te.tasks[req.ExecutionId]
	te.mu.Unlock()
	if t == nil {
		return nil, fmt.Errorf("no running task %s (finished or not deployed yet)", req.ExecutionId)
	}
	t.TriggerCheckpoint(req.CheckpointId, req.Timestamp, req.Savepoint, req.TargetDir)
	return &jobgraph.Ack{}, nil
}

// NotifyCheckpoint implements the gateway.
func (te *TaskExecutor) NotifyCheckpoint(_ context.Context, req *jobgraph.NotifyCheckpointRequest) (*jobgraph.Ack, error) {
	te.mu.Lock()
	t := te.tasks[req.ExecutionId]
	te.mu.Unlock()
	if t != nil {
		t.NotifyCheckpoint(req.CheckpointId, req.Aborted)
	}
	return &jobgraph.Ack{}, nil
}

// AckCheckpoint implements task.Acker.
func (te *TaskExecutor) AckCheckpoint(d *jobgraph.TaskDeployment, id int64, s *jobgraph.TaskStateSnapshot) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, _ := te.gateway()
	if _, err := gw.AcknowledgeCheckpoint(ctx, &jobgraph.CheckpointAck{JobId: d.JobId, ExecutionId: d.ExecutionId, CheckpointId: id, State: s}); err != nil {
		te.log.Warn().Err(err).Int64("checkpoint", id).Msg("acknowledging a checkpoint failed")
	}
}

// DeclineCheckpoint implements task.Acker.
func (te *TaskExecutor) DeclineCheckpoint(d *jobgraph.TaskDeployment, id int64, reason string) {
	te.log.Warn().Int64("checkpoint", id).Str("task", d.Vertex.Name).Str("reason", reason).Msg("declining checkpoint")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gw, _ := te.gateway()
	_, _ = gw.DeclineCheckpoint(ctx, &jobgraph.CheckpointDecline{JobId: d.JobId, ExecutionId: d.ExecutionId, CheckpointId: id, Reason: reason})
}

// EndOfInput implements task.Acker.
func (te *TaskExecutor) EndOfInput(d *jobgraph.TaskDeployment) {
	msg := &jobgraph.TaskExecutionState{JobId: d.JobId, ExecutionId: d.ExecutionId, State: jobgraph.ExecutionState_RUNNING, ResourceId: te.cfg.ResourceID, EndOfInput: true}
	// The task waits for the final notification this message leads to: a lost message would
	// keep it (and the job) waiting forever, so it is retried like the state reports.
	te.send(msg)
}

// CancelTask implements the gateway.
func (te *TaskExecutor) CancelTask(_ context.Context, req *jobgraph.CancelTaskRequest) (*jobgraph.Ack, error) {
	te.mu.Lock()
	t := te.tasks[req.ExecutionId]
	te.mu.Unlock()
	if t != nil {
		t.Cancel()
	}
	return &jobgraph.Ack{}, nil
}

// Shutdown implements the gateway.
func (te *TaskExecutor) Shutdown(_ context.Context, req *jobgraph.ShutdownRequest) (*jobgraph.Ack, error) {
	go te.shutdown(req.Reason)
	return &jobgraph.Ack{}, nil
}

func (te *TaskExecutor) shutdown(reason string) {
	te.once.Do(func() {
		te.why = reason
		te.log.Info().Str("reason", reason).Msg("TaskManager shutting down")
		close(te.done)
	})
}

// Done is closed when the TaskManager was asked to shut down or lost its JobManager.
func (te *TaskExecutor) Done() <-chan struct{} { return te.done }

// Reason tells why the TaskManager shut down.
func (te *TaskExecutor) Reason() string { return te.why }

// Network returns the process's data plane.
func (te *TaskExecutor) Network() *network.Environment { return te.net }

// ResourceID returns the TaskManager's id.
func (te *TaskExecutor) ResourceID() string { return te.cfg.ResourceID }

// Close cancels running tasks and stops the servers.
func (te *TaskExecutor) Close() {
	te.shutdown("closed")
	te.mu.Lock()
	for _, t := range te.tasks {
		t.Cancel()
	}
	te.mu.Unlock()
	waited := make(chan struct{})
	go func() { te.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		te.log.Warn().Msg("tasks did not stop within 5 s")
	}
	if te.srv != nil {
		te.srv.Stop()
	}
	te.gwMu.Lock()
	if te.conn != nil {
		_ = te.conn.Close()
	}
	te.gwMu.Unlock()
	if te.net != nil {
		_ = te.net.Close()
	}
}
