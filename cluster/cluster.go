// Package cluster is what a job binary's Execute runs, depending on the role the binary was
// started in (ARCHITECTURE.md section 2):
//
//	FLINK_GO_ROLE unset or "local"  build the graph, start an embedded cluster (JobManager + N
//	                                TaskManagers, as goroutines or processes), run the job, exit
//	FLINK_GO_ROLE=plan              write the job graph to FLINK_GO_PLAN_FILE and exit (the
//	                                client submits it)
//	FLINK_GO_ROLE=taskmanager       run a TaskManager for the JobManager at FLINK_GO_JOBMANAGER
//	                                with this binary's operators
package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/network"
	"github.com/flink-go/flink-go/runtime/task"
	"github.com/flink-go/flink-go/taskmanager"
)

// Environment variables of the process model.
const (
	EnvRole        = "FLINK_GO_ROLE"
	EnvPlanFile    = "FLINK_GO_PLAN_FILE"
	EnvJobConfig   = "FLINK_GO_JOB_CONFIG" // JSON object of Flink keys
	EnvJobManager  = "FLINK_GO_JOBMANAGER"
	EnvResourceID  = "FLINK_GO_RESOURCE_ID"
	EnvJobID       = "FLINK_GO_JOB_ID"
	EnvLogLevel    = "FLINK_GO_LOG_LEVEL"
	EnvStatusFile  = "FLINK_GO_STATUS_FILE" // local role: write the REST address here once up
	EnvCPUProfile  = "FLINK_GO_CPUPROFILE"  // local role: write a CPU profile of the whole run here
	EnvHost        = "FLINK_GO_HOST"        // taskmanager role: host to bind and advertise (default 127.0.0.1)
	RolePlan       = "plan"
	RoleLocal      = "local"
	RoleTaskManger = "taskmanager"
)

// LaunchConfig returns the job configuration the binary was started with.
func LaunchConfig() map[string]string {
	m := map[string]string{}
	if s := os.Getenv(EnvJobConfig); s != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			fmt.Fprintf(os.Stderr, "flink-go: ignoring malformed %s: %v\n", EnvJobConfig, err)
		}
	}
	return m
}

// Logger returns the process logger of a job binary, set up once per process by
// cluster/logging.go from the env.log.* keys of FLINK_GO_JOB_CONFIG (scope cluster) and the role:
// root and per-component levels, console and/or a rolling log file (jobmanager.log,
// taskmanager.log; in a YARN container in its log dir). FLINK_GO_LOG_LEVEL overrides the root
// level.
func Logger() zerolog.Logger { return processLogger() }

// RoleHandler runs a job binary in a role registered by another package (the YARN
// ApplicationMaster registers its roles from package am).
type RoleHandler func(g *jobgraph.JobGraph, reg task.Registry) error

var roleHandlers = map[string]RoleHandler{}

// RegisterRole makes Execute run h when FLINK_GO_ROLE is name. Call it from init.
func RegisterRole(name string, h RoleHandler) { roleHandlers[name] = h }

// Execute runs the job graph according to the process's role.
func Execute(g *jobgraph.JobGraph, reg task.Registry) error {
	if id := os.Getenv(EnvJobID); id != "" {
		g.JobId = id
	}
	if err := ConfigureFileSystems(g.Config); err != nil {
		return err
	}
	role := os.Getenv(EnvRole)
	if h, ok := roleHandlers[role]; ok {
		return h(g, reg)
	}
	switch role {
	case RolePlan:
		return writePlan(g)
	case RoleTaskManger:
		return runTaskManager(g, reg)
	case "", RoleLocal:
		if path := os.Getenv(EnvCPUProfile); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("%s: %w", EnvCPUProfile, err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("%s: %w", EnvCPUProfile, err)
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		return RunLocal(context.Background(), g, reg, Logger())
	default:
		return fmt.Errorf("unknown %s %q", EnvRole, role)
	}
}

func writePlan(g *jobgraph.JobGraph) error {
	path := os.Getenv(EnvPlanFile)
	if path == "" {
		return fmt.Errorf("%s=plan needs %s", EnvRole, EnvPlanFile)
	}
	b, err := proto.Marshal(g)
	if err != nil {
		return fmt.Errorf("serializing the job graph: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing the job graph: %w", err)
	}
	os.Exit(0)
	return nil
}

func settings(g *jobgraph.JobGraph) (*configs.Configuration, error) {
	c := configs.New()
	if err := c.SetAll(g.Config, configs.CodeOrigin("job")); err != nil {
		return nil, err
	}
	return c, nil
}

// NetworkConfig derives the data plane settings from the job configuration: buffer size and
// timeout, the buffer pool (taskmanager.memory.network.max / segment size) and the credits.
func NetworkConfig(c *configs.Configuration) network.Config {
	seg := configs.Get(c, configs.SegmentSize)
	nc := network.Config{SegmentSize: int(seg), BufferTimeout: configs.Get(c, configs.BufferTimeout),
		TotalBuffers:           int(max(configs.Get(c, configs.NetworkMemoryMax)/seg, 1)),
		BuffersPerChannel:      configs.Get(c, configs.BuffersPerChannel),
		FloatingBuffersPerGate: configs.Get(c, configs.FloatingBuffersPerGate)}
	if nc.FloatingBuffersPerGate == 0 {
		nc.FloatingBuffersPerGate = -1 // none (the network package reads 0 as its default)
	}
	if !configs.Get(c, configs.BufferTimeoutEnabled) {
		nc.BufferTimeout = -1
	}
	return nc
}

// RESTBindAddress is where a JobManager's REST server listens: rest.bind-address, else
// defaultHost; rest.bind-port (a port, range or list), else defaultPort, else rest.port.
func RESTBindAddress(c *configs.Configuration, defaultHost, defaultPort string) string {
	host := cmp.Or(configs.Get(c, configs.RestBindAddress), defaultHost)
	port := cmp.Or(configs.Get(c, configs.RestBindPort), defaultPort, strconv.Itoa(configs.Get(c, configs.RestPort)))
	return net.JoinHostPort(host, port)
}

// taskManagerAddresses returns a TaskManager process's advertised host, resource id, RPC bind
// address and data plane settings. The deployer's environment (EnvHost, EnvResourceID: the
// NodeManager host and container id on YARN) wins over taskmanager.host and
// taskmanager.resource-id; taskmanager.bind-host, taskmanager.rpc.port (a port, range or list)
// and taskmanager.data.port say where the endpoints listen.
func taskManagerAddresses(c *configs.Configuration) (host, resourceID, rpcAddr string, nc network.Config) {
	host = cmp.Or(os.Getenv(EnvHost), configs.Get(c, configs.TaskManagerHost))
	resourceID = cmp.Or(os.Getenv(EnvResourceID), configs.Get(c, configs.TaskManagerResourceID))
	bind := cmp.Or(configs.Get(c, configs.TaskManagerBindHost), host, "127.0.0.1")
	rpcAddr = net.JoinHostPort(bind, configs.Get(c, configs.TaskManagerRPCPort))
	nc = NetworkConfig(c)
	nc.BindAddress = net.JoinHostPort(bind, strconv.Itoa(configs.Get(c, configs.TaskManagerDataPort)))
	nc.ExternalHost = host
	return host, resourceID, rpcAddr, nc
}

// RunTaskManager runs this binary as a TaskManager of the JobManager at $FLINK_GO_JOBMANAGER
// (the taskmanager role; YARN containers use it too).
func RunTaskManager(g *jobgraph.JobGraph, reg task.Registry) error { return runTaskManager(g, reg) }

func runTaskManager(g *jobgraph.JobGraph, reg task.Registry) error {
	log := Logger()
	c, err := settings(g)
	if err != nil {
		return err
	}
	jmAddr := os.Getenv(EnvJobManager)
	if jmAddr == "" {
		return fmt.Errorf("%s=taskmanager needs %s (the JobManager's rpc address)", EnvRole, EnvJobManager)
	}
	slots := configs.Get(c, configs.NumberOfTaskSlots)
	if s, err := strconv.Atoi(os.Getenv("FLINK_GO_SLOTS")); err == nil && s > 0 {
		slots = s
	}
	host, resourceID, rpcAddr, nc := taskManagerAddresses(c)
	te, err := taskmanager.Start(context.Background(), taskmanager.Config{
		ResourceID: resourceID, JobManager: jmAddr, Slots: slots, Host: host, RPCAddress: rpcAddr,
		JobID: os.Getenv(EnvJobID), Registry: reg, Network: nc, Logger: log,
		HALeader: os.Getenv(taskmanager.EnvHALeader), RegistrationTimeout: configs.Get(c, configs.TaskManagerRegistrationTimeout),
	})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-te.Done():
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("TaskManager stopping")
	}
	te.Close()
	os.Exit(0)
	return nil
}

// RunLocal runs g on an embedded cluster: a JobManager and local.taskmanagers TaskManagers, as
// goroutines of this process or (local.taskmanagers.processes) as child processes of this binary.
// It returns when the job ended; a failed job returns its failure.
func RunLocal(ctx context.Context, g *jobgraph.JobGraph, reg task.Registry, log zerolog.Logger) error {
	c, err := settings(g)
	if err != nil {
		return err
	}
	if g.JobId == "" {
		g.JobId = jobmanager.NewID()
	}
	numTM := configs.Get(c, configs.LocalTaskManagers)
	if numTM < 1 {
		return fmt.Errorf("local.taskmanagers must be at least 1, got %d", numTM)
	}
	needed := jobmanager.SlotsNeeded(g)
	slots := configs.Get(c, configs.NumberOfTaskSlots)
	if !configs.IsSet(c, configs.NumberOfTaskSlots) {
		slots = (needed + numTM - 1) / numTM
		if slots < 1 {
			slots = 1
		}
		c.Set("taskmanager.numberOfTaskSlots", strconv.Itoa(slots), configs.CodeOrigin("local cluster"))
		g.Config["taskmanager.numberOfTaskSlots"] = strconv.Itoa(slots)
	}
	jcfg := jobmanager.Config{RPCAddress: "127.0.0.1:0", RESTAddress: RESTBindAddress(c, "127.0.0.1", ""), Logger: log, Settings: c.Map(),
		HeartbeatTimeout: configs.Get(c, configs.HeartbeatTimeout), HeartbeatInterval: configs.Get(c, configs.HeartbeatInterval), SlotWaitTimeout: time.Minute}
	jm, err := jobmanager.Start(jcfg)
	if err != nil && !configs.IsSet(c, configs.RestPort) && !configs.IsSet(c, configs.RestBindPort) {
		log.Warn().Err(err).Msg("REST port busy; using a free port")
		host, _, _ := net.SplitHostPort(jcfg.RESTAddress)
		jcfg.RESTAddress = net.JoinHostPort(host, "0")
		jm, err = jobmanager.Start(jcfg)
	}
	if err != nil {
		return err
	}
	defer jm.Close()
	if f := os.Getenv(EnvStatusFile); f != "" {
		_ = os.WriteFile(f, []byte(jm.RESTAddr()), 0o600)
	}
	fmt.Fprintf(os.Stderr, "Local cluster: JobManager REST API at http://%s\n", jm.RESTAddr())

	var stopTMs func()
	if configs.Get(c, configs.LocalTaskManagerProcesses) {
		stopTMs, err = startProcessTMs(g, jm, numTM, log)
	} else {
		stopTMs, err = startGoroutineTMs(ctx, c, jm, reg, numTM, slots, g.JobId, log)
	}
	if err != nil {
		return err
	}
	defer stopTMs()

	j, err := jm.Submit(g, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Job has been submitted with JobID %s\n", j.ID())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-j.Done():
	case <-ctx.Done():
		j.Cancel()
		<-j.Done()
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("cancelling the job")
		j.Cancel()
		<-j.Done()
	}
	jm.WaitSavepointResultsFetched(10 * time.Second)
	snap := j.Snapshot()
	runtime := snap.End.Sub(snap.Start)
	switch snap.Status {
	case jobmanager.JobFinished:
		fmt.Fprintf(os.Stderr, "Job %s (%s) finished. Job Runtime: %d ms\n", snap.ID, snap.Name, runtime.Milliseconds())
		return nil
	case jobmanager.JobCanceled:
		return fmt.Errorf("job %s (%s) was cancelled", snap.ID, snap.Name)
	default:
		return &JobFailedError{JobID: snap.ID, Name: snap.Name, Cause: snap.Failure}
	}
}

// JobFailedError is returned when the job ended FAILED.
type JobFailedError struct{ JobID, Name, Cause string }

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("job %s (%s) failed: %s", e.JobID, e.Name, e.Cause)
}

func startGoroutineTMs(ctx context.Context, c *configs.Configuration, jm *jobmanager.JobManager, reg task.Registry, n, slots int, jobID string, log zerolog.Logger) (func(), error) {
	var tms []*taskmanager.TaskExecutor
	stop := func() {
		for _, te := range tms {
			te.Close()
		}
	}
	for i := 0; i < n; i++ {
		te, err := taskmanager.Start(ctx, taskmanager.Config{ResourceID: fmt.Sprintf("local-tm-%d", i+1), JobManager: jm.RPCAddr(), Slots: slots,
			Registry: reg, Network: NetworkConfig(c), Logger: log, JobID: jobID})
		if err != nil {
			stop()
			return nil, fmt.Errorf("starting TaskManager %d: %w", i+1, err)
		}
		tms = append(tms, te)
	}
	return stop, nil
}

// startProcessTMs starts n TaskManager processes of this very binary (same arguments), which
// register with jm. Each is killed if this process dies (Pdeathsig) and when the job ends. A
// process that dies while the job runs is reported lost and replaced by a new one (at most
// maxReplacements times), as a resource manager replaces a failed container.
func startProcessTMs(g *jobgraph.JobGraph, jm *jobmanager.JobManager, n int, log zerolog.Logger) (func(), error) {
	const maxReplacements = 50
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this job binary to start TaskManager processes: %w", err)
	}
	cfgJSON, err := json.Marshal(g.Config)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	cmds := map[string]*exec.Cmd{}
	stopping := false
	seq, replaced := n, 0
	var start func(id string) error
	start = func(id string) error {
		cmd := exec.Command(exe, g.Args...)
		cmd.Env = append(os.Environ(), EnvRole+"="+RoleTaskManger, EnvJobManager+"="+jm.RPCAddr(), EnvResourceID+"="+id,
			EnvJobConfig+"="+string(cfgJSON), EnvJobID+"="+g.JobId)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting TaskManager process %s: %w", id, err)
		}
		log.Info().Str("taskmanager", id).Int("pid", cmd.Process.Pid).Msg("TaskManager process started")
		mu.Lock()
		cmds[id] = cmd
		mu.Unlock()
		go func() {
			err := cmd.Wait()
			mu.Lock()
			delete(cmds, id)
			st := stopping
			replace := !st && replaced < maxReplacements
			if replace {
				replaced++
				seq++
			}
			newID := fmt.Sprintf("local-tm-%d", seq)
			mu.Unlock()
			if st {
				return
			}
			jm.TaskManagerLost(id, fmt.Sprintf("TaskManager process %d exited: %s", cmd.Process.Pid, exitText(err)))
			if replace {
				log.Warn().Str("lost", id).Str("replacement", newID).Msg("replacing a lost TaskManager process")
				if err := start(newID); err != nil {
					log.Error().Err(err).Msg("could not replace the TaskManager process")
				}
			}
		}()
		return nil
	}
	for i := 0; i < n; i++ {
		if err := start(fmt.Sprintf("local-tm-%d", i+1)); err != nil {
			return nil, err
		}
	}
	return func() {
		mu.Lock()
		stopping = true
		list := make([]*exec.Cmd, 0, len(cmds))
		for _, c := range cmds {
			list = append(list, c)
		}
		mu.Unlock()
		jm.ShutdownTaskManagers("job ended")
		deadline := time.Now().Add(5 * time.Second)
		for _, cmd := range list {
			for time.Now().Before(deadline) {
				if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			_ = cmd.Process.Kill()
		}
	}, nil
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
