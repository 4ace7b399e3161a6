// Package jobmanager is the JobManager: the dispatcher (jobs by id), one JobMaster per job
// (scheduling, state tracking, failover), the resource manager (TaskManagers and their slots),
// the gRPC gateway TaskManagers talk to, and Flink's REST API. It does not know where it runs:
// TaskManagers register themselves, and an optional Driver starts more when a job needs them
// (local processes, YARN containers).
package jobmanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/netutil"
)

// Driver starts TaskManagers for a job when the registered ones lack free slots.
type Driver interface {
	// RequestSlots asks for TaskManagers offering at least `slots` more slots for job.
	RequestSlots(ctx context.Context, job *JobInfo, slots int) error
	// JobEnded lets the driver release what it started for job.
	JobEnded(jobID string)
}

// JobInfo describes a submitted job to a Driver.
type JobInfo struct {
	ID       string
	Name     string
	Graph    *jobgraph.JobGraph
	Artifact string // local path of the job binary (session clusters), if any
	// FirstAttempt numbers the job's first execution attempt (0 for a new job). A job recovered
	// by a new JobManager starts above every attempt number the previous one may have used, so
	// its execution and result partition ids never collide with those of the cancelled tasks
	// on the TaskManagers that served the previous JobManager.
	FirstAttempt int
}

// Config configures a JobManager.
type Config struct {
	RPCAddress       string // gRPC bind address, e.g. "127.0.0.1:0"; the port may be a range or list (netutil.Listen)
	RESTAddress      string // REST bind address, e.g. "127.0.0.1:8081" or "0.0.0.0:50100-50200"; "" disables REST
	Logger           zerolog.Logger
	Driver           Driver
	Settings         map[string]string // the effective cluster configuration (/config, job defaults)
	HeartbeatTimeout time.Duration
	// HeartbeatInterval is how often TaskManagers heartbeat (heartbeat.interval; default 1 s);
	// they learn it when they register.
	HeartbeatInterval time.Duration
	SlotWaitTimeout   time.Duration // how long a job waits for slots before failing
	// JobStore, when set (high availability), keeps every submitted job durably until it ends,
	// so another JobManager can recover it (HAStore, docs/ha.md). A job is acknowledged as
	// submitted only once it is stored.
	JobStore JobStore
}

// JobManager is a running JobManager.
type JobManager struct {
	cfg      Config
	log      zerolog.Logger
	id       string
	grpcSrv  *grpc.Server
	rpcLis   net.Listener
	restSrv  *http.Server
	restLis  net.Listener
	started  time.Time
	mu       sync.Mutex
	tms      map[string]*tmEntry
	jobs     map[string]*JobMaster
	order    []string
	slotCond chan struct{} // closed and replaced when slots change
	closed   chan struct{}
	stopReq  chan struct{} // closed by DELETE /cluster
	stopOnce sync.Once
	jobgraph.UnimplementedJobManagerGatewayServer
}

type tmEntry struct {
	req           *jobgraph.RegisterTaskManagerRequest
	conn          *grpc.ClientConn
	client        jobgraph.TaskExecutorGatewayClient
	used          map[int]string // slot index -> job id
	lastHeartbeat time.Time
	registered    time.Time
}

// Start starts the JobManager's gRPC and REST servers.
func Start(cfg Config) (*JobManager, error) {
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 10 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.SlotWaitTimeout == 0 {
		cfg.SlotWaitTimeout = 5 * time.Minute
	}
	if cfg.RPCAddress == "" {
		cfg.RPCAddress = "127.0.0.1:0"
	}
	jm := &JobManager{cfg: cfg, log: cfg.Logger.With().Str("component", "jobmanager").Logger(), id: newID(),
		tms: map[string]*tmEntry{}, jobs: map[string]*JobMaster{}, slotCond: make(chan struct{}), closed: make(chan struct{}), started: time.Now(),
		stopReq: make(chan struct{})}
	lis, err := netutil.ListenAddr(cfg.RPCAddress)
	if err != nil {
		return nil, fmt.Errorf("jobmanager rpc: listening on %s: %w (is jobmanager.rpc.port in use?)", cfg.RPCAddress, err)
	}
	jm.rpcLis = lis
	jm.grpcSrv = grpc.NewServer()
	jobgraph.RegisterJobManagerGatewayServer(jm.grpcSrv, jm)
	go func() { _ = jm.grpcSrv.Serve(lis) }()
	if cfg.RESTAddress != "" {
		rl, err := netutil.ListenAddr(cfg.RESTAddress)
		if err != nil {
			jm.grpcSrv.Stop()
			return nil, fmt.Errorf("jobmanager REST: listening on %s: %w (is another cluster using rest.port? set -D rest.port=0 for any free port)", cfg.RESTAddress, err)
		}
		jm.restLis = rl
		jm.restSrv = &http.Server{Handler: jm.restHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = jm.restSrv.Serve(rl) }()
	}
	go jm.watchHeartbeats()
	jm.log.Info().Str("rpc", jm.RPCAddr()).Str("rest", jm.RESTAddr()).Msg("JobManager started")
	return jm, nil
}

// ShutdownRequested is closed when a client asked the cluster to shut down (REST DELETE /cluster,
// as Flink's). Whoever runs the cluster (session entry points) stops it then.
func (jm *JobManager) ShutdownRequested() <-chan struct{} { return jm.stopReq }

// RequestShutdown asks the cluster's owner to shut it down.
func (jm *JobManager) RequestShutdown() { jm.stopOnce.Do(func() { close(jm.stopReq) }) }

// RPCAddr returns the gRPC address TaskManagers register at.
func (jm *JobManager) RPCAddr() string { return jm.rpcLis.Addr().String() }

// RESTAddr returns the REST address ("" when disabled).
func (jm *JobManager) RESTAddr() string {
	if jm.restLis == nil {
		return ""
	}
	return jm.restLis.Addr().String()
}

// Close stops the servers and shuts down registered TaskManagers' connections.
func (jm *JobManager) Close() error {
	select {
	case <-jm.closed:
		return nil
	default:
	}
	close(jm.closed)
	jm.mu.Lock()
	jobs := make([]*JobMaster, 0, len(jm.jobs))
	for _, j := range jm.jobs {
		jobs = append(jobs, j)
	}
	jm.mu.Unlock()
	for _, j := range jobs {
		j.Cancel()
	}
	if jm.restSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = jm.restSrv.Shutdown(ctx)
		cancel()
	}
	jm.grpcSrv.Stop()
	jm.mu.Lock()
	for _, tm := range jm.tms {
		_ = tm.conn.Close()
	}
	jm.mu.Unlock()
	return nil
}

// ShutdownTaskManagers asks every registered TaskManager to exit.
func (jm *JobManager) ShutdownTaskManagers(reason string) {
	jm.mu.Lock()
	var clients []jobgraph.TaskExecutorGatewayClient
	for _, tm := range jm.tms {
		clients = append(clients, tm.client)
	}
	jm.mu.Unlock()
	for _, c := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = c.Shutdown(ctx, &jobgraph.ShutdownRequest{Reason: reason})
		cancel()
	}
}

// NewID returns a random 32-hex-character id (Flink's JobID form).
func NewID() string { return newID() }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RegisterTaskManager implements the gateway.
func (jm *JobManager) RegisterTaskManager(_ context.Context, req *jobgraph.RegisterTaskManagerRequest) (*jobgraph.RegisterTaskManagerResponse, error) {
	if req.ResourceId == "" || req.RpcAddress == "" || req.DataAddress == "" || req.Slots <= 0 {
		return nil, fmt.Errorf("invalid TaskManager registration: %v", req)
	}
	conn, err := grpc.NewClient(req.RpcAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connecting back to TaskManager %s at %s: %w", req.ResourceId, req.RpcAddress, err)
	}
	jm.mu.Lock()
	if old, ok := jm.tms[req.ResourceId]; ok {
		_ = old.conn.Close()
	}
	jm.tms[req.ResourceId] = &tmEntry{req: req, conn: conn, client: jobgraph.NewTaskExecutorGatewayClient(conn), used: map[int]string{},
		lastHeartbeat: time.Now(), registered: time.Now()}
	jm.signalSlotsLocked()
	jm.mu.Unlock()
	jm.log.Info().Str("taskmanager", req.ResourceId).Str("rpc", req.RpcAddress).Str("data", req.DataAddress).Int32("slots", req.Slots).Msg("TaskManager registered")
	return &jobgraph.RegisterTaskManagerResponse{JobmanagerId: jm.id, HeartbeatIntervalMs: jm.cfg.HeartbeatInterval.Milliseconds(), HeartbeatTimeoutMs: jm.cfg.HeartbeatTimeout.Milliseconds()}, nil
}

// Heartbeat implements the gateway.
func (jm *JobManager) Heartbeat(_ context.Context, req *jobgraph.HeartbeatRequest) (*jobgraph.HeartbeatResponse, error) {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	tm, ok := jm.tms[req.ResourceId]
	if !ok {
		return &jobgraph.HeartbeatResponse{Unknown: true}, nil
	}
	tm.lastHeartbeat = time.Now()
	return &jobgraph.HeartbeatResponse{}, nil
}

// UpdateTaskExecutionState implements the gateway.
func (jm *JobManager) UpdateTaskExecutionState(_ context.Context, st *jobgraph.TaskExecutionState) (*jobgraph.Ack, error) {
	jm.mu.Lock()
	j := jm.jobs[st.JobId]
	jm.mu.Unlock()
	if j != nil {
		j.update(st)
	}
	return &jobgraph.Ack{}, nil
}

// AcknowledgeCheckpoint implements the gateway.
func (jm *JobManager) AcknowledgeCheckpoint(_ context.Context, a *jobgraph.CheckpointAck) (*jobgraph.Ack, error) {
	if j, ok := jm.Job(a.JobId); ok {
		j.checkpointMsg(ckptMsg{ack: a})
	}
	return &jobgraph.Ack{}, nil
}

// DeclineCheckpoint implements the gateway.
func (jm *JobManager) DeclineCheckpoint(_ context.Context, d *jobgraph.CheckpointDecline) (*jobgraph.Ack, error) {
	if j, ok := jm.Job(d.JobId); ok {
		j.checkpointMsg(ckptMsg{decline: d})
	}
	return &jobgraph.Ack{}, nil
}

func (jm *JobManager) signalSlotsLocked() {
	close(jm.slotCond)
	jm.slotCond = make(chan struct{})
}

func (jm *JobManager) watchHeartbeats() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-jm.closed:
			return
		case <-t.C:
		}
		var lost []string
		jm.mu.Lock()
		for id, tm := range jm.tms {
			if time.Since(tm.lastHeartbeat) > jm.cfg.HeartbeatTimeout {
				lost = append(lost, id)
			}
		}
		jm.mu.Unlock()
		for _, id := range lost {
			jm.TaskManagerLost(id, fmt.Sprintf("heartbeat of TaskManager %s timed out after %s", id, jm.cfg.HeartbeatTimeout))
		}
	}
}

// TaskManagerLost removes a TaskManager (heartbeat timeout, or its process/container ended) and
// fails the executions that ran on it.
func (jm *JobManager) TaskManagerLost(id, reason string) {
	jm.mu.Lock()
	tm, ok := jm.tms[id]
	if ok {
		delete(jm.tms, id)
		_ = tm.conn.Close()
		jm.signalSlotsLocked()
	}
	jobs := make([]*JobMaster, 0, len(jm.jobs))
	for _, j := range jm.jobs {
		jobs = append(jobs, j)
	}
	jm.mu.Unlock()
	if !ok {
		return
	}
	jm.log.Warn().Str("taskmanager", id).Str("reason", reason).Msg("TaskManager lost")
	for _, j := range jobs {
		j.taskManagerLost(id, reason)
	}
}

// freeSlots lists free slots usable by job.
func (jm *JobManager) freeSlotsLocked(jobID string) []Slot {
	var out []Slot
	for id, tm := range jm.tms {
		if tm.req.JobId != "" && tm.req.JobId != jobID {
			continue
		}
		for i := 0; i < int(tm.req.Slots); i++ {
			if _, used := tm.used[i]; !used {
				out = append(out, Slot{TaskManager: id, Index: i})
			}
		}
	}
	return out
}

// allocate reserves slots for job, waiting up to the slot timeout and asking the driver for more.
func (jm *JobManager) allocate(ctx context.Context, info *JobInfo, n int) ([]Slot, error) {
	deadline := time.NewTimer(jm.cfg.SlotWaitTimeout)
	defer deadline.Stop()
	requested := false
	for {
		jm.mu.Lock()
		free := jm.freeSlotsLocked(info.ID)
		if len(free) >= n {
			slots, err := AssignSlots(free, n)
			if err == nil {
				for _, s := range slots {
					jm.tms[s.TaskManager].used[s.Index] = info.ID
				}
			}
			jm.mu.Unlock()
			return slots, err
		}
		wait := jm.slotCond
		missing := n - len(free)
		jm.mu.Unlock()
		if !requested && jm.cfg.Driver != nil {
			requested = true
			if err := jm.cfg.Driver.RequestSlots(ctx, info, missing); err != nil {
				return nil, fmt.Errorf("requesting TaskManagers for %d more slots: %w", missing, err)
			}
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("could not get %d slots within %s (have %d free): are TaskManagers starting? (taskmanager.numberOfTaskSlots, local.taskmanagers)", n, jm.cfg.SlotWaitTimeout, len(free))
		case <-jm.closed:
			return nil, errors.New("JobManager shut down")
		}
	}
}

func (jm *JobManager) release(jobID string) {
	jm.mu.Lock()
	for _, tm := range jm.tms {
		for i, j := range tm.used {
			if j == jobID {
				delete(tm.used, i)
			}
		}
	}
	jm.signalSlotsLocked()
	jm.mu.Unlock()
}

func (jm *JobManager) tmClient(id string) (jobgraph.TaskExecutorGatewayClient, string, bool) {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	tm, ok := jm.tms[id]
	if !ok {
		return nil, "", false
	}
	return tm.client, tm.req.DataAddress, true
}

// Submit starts a job and returns its JobMaster.
func (jm *JobManager) Submit(g *jobgraph.JobGraph, artifact string) (*JobMaster, error) {
	return jm.submit(g, artifact, 0)
}

// SubmitRecovered starts a job recovered from the HA store (same job id as before) whose
// execution attempts are numbered from firstAttempt on (JobInfo.FirstAttempt).
func (jm *JobManager) SubmitRecovered(g *jobgraph.JobGraph, artifact string, firstAttempt int) (*JobMaster, error) {
	if firstAttempt < 0 {
		return nil, fmt.Errorf("job %s: first attempt number %d is negative", g.JobId, firstAttempt)
	}
	return jm.submit(g, artifact, firstAttempt)
}

func (jm *JobManager) submit(g *jobgraph.JobGraph, artifact string, firstAttempt int) (*JobMaster, error) {
	if g.JobId == "" {
		g.JobId = newID()
	}
	if len(g.Vertices) == 0 {
		return nil, fmt.Errorf("job %q has no operators", g.Name)
	}
	jm.mu.Lock()
	if _, dup := jm.jobs[g.JobId]; dup {
		jm.mu.Unlock()
		return nil, fmt.Errorf("job %s was already submitted", g.JobId)
	}
	j := newJobMaster(jm, &JobInfo{ID: g.JobId, Name: g.Name, Graph: g, Artifact: artifact, FirstAttempt: firstAttempt})
	jm.jobs[g.JobId] = j
	jm.mu.Unlock()
	if st := jm.cfg.JobStore; st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := st.PutJob(ctx, StoredJob{Graph: g, Artifact: artifact, Submitted: j.submitted})
		cancel()
		if err != nil {
			jm.mu.Lock()
			delete(jm.jobs, g.JobId)
			jm.mu.Unlock()
			return nil, fmt.Errorf("job %s not submitted: %w", g.JobId, err)
		}
	}
	jm.mu.Lock()
	jm.order = append(jm.order, g.JobId)
	jm.mu.Unlock()
	go j.run()
	jm.log.Info().Str("job", g.JobId).Str("name", g.Name).Msg("job submitted")
	return j, nil
}

// Job returns the JobMaster of a job.
func (jm *JobManager) Job(id string) (*JobMaster, bool) {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	j, ok := jm.jobs[id]
	return j, ok
}

// Jobs returns all jobs in submission order.
func (jm *JobManager) Jobs() []*JobMaster {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	out := make([]*JobMaster, 0, len(jm.order))
	for _, id := range jm.order {
		out = append(out, jm.jobs[id])
	}
	return out
}

// TaskManagerInfo is a registered TaskManager as the REST API shows it.
type TaskManagerInfo struct {
	ID            string
	RPCAddress    string
	DataAddress   string
	Slots         int
	FreeSlots     int
	LastHeartbeat time.Time
	Memory        int64
	Host          string
	PID           int64
}

// TaskManagers lists the registered TaskManagers.
func (jm *JobManager) TaskManagers() []TaskManagerInfo {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	out := make([]TaskManagerInfo, 0, len(jm.tms))
	for id, tm := range jm.tms {
		out = append(out, TaskManagerInfo{ID: id, RPCAddress: tm.req.RpcAddress, DataAddress: tm.req.DataAddress, Slots: int(tm.req.Slots),
			FreeSlots: int(tm.req.Slots) - len(tm.used), LastHeartbeat: tm.lastHeartbeat, Memory: tm.req.MemoryBytes, Host: tm.req.Host, PID: tm.req.Pid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
