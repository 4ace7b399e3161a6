package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/jobmanager"
)

// SessionInfo is what a running local session records so that later CLI calls find it.
type SessionInfo struct {
	PID     int    `json:"pid"`
	REST    string `json:"rest"`
	RPC     string `json:"rpc"`
	Started int64  `json:"started"`
}

// SessionFile is where the local session records itself ($FLINK_GO_HOME or ~/.flink-go).
func SessionFile() string {
	dir := os.Getenv("FLINK_GO_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".flink-go")
	}
	return filepath.Join(dir, "local-session.json")
}

// ReadSession returns the recorded local session if its process is alive.
func ReadSession() (*SessionInfo, bool) {
	data, err := os.ReadFile(SessionFile())
	if err != nil {
		return nil, false
	}
	var s SessionInfo
	if json.Unmarshal(data, &s) != nil || s.PID <= 0 {
		return nil, false
	}
	if syscall.Kill(s.PID, 0) != nil {
		return nil, false
	}
	return &s, true
}

// ProcessDriver starts, for each job of a session, TaskManager processes of that job's binary
// (ARCHITECTURE.md section 2: user code runs in processes of its own binary, so a panic fails
// that job only). It stops them when the job ends.
type ProcessDriver struct {
	JM    *jobmanager.JobManager
	Slots int // slots per TaskManager process
	Log   zerolog.Logger
	mu    sync.Mutex
	procs map[string][]*exec.Cmd
	ended map[string]bool
	seq   int
}

// RequestSlots implements jobmanager.Driver.
func (d *ProcessDriver) RequestSlots(_ context.Context, job *jobmanager.JobInfo, slots int) error {
	if job.Artifact == "" {
		return fmt.Errorf("job %s has no job binary to start TaskManagers from", job.ID)
	}
	per := d.Slots
	if per <= 0 {
		per = 1
	}
	n := (slots + per - 1) / per
	cfgJSON, err := json.Marshal(job.Graph.Config)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.procs == nil {
		d.procs, d.ended = map[string][]*exec.Cmd{}, map[string]bool{}
	}
	for i := 0; i < n; i++ {
		d.seq++
		id := fmt.Sprintf("tm-%s-%d", job.ID[:8], d.seq)
		cmd := exec.Command(job.Artifact, job.Graph.Args...)
		cmd.Env = append(os.Environ(), EnvRole+"="+RoleTaskManger, EnvJobManager+"="+d.JM.RPCAddr(), EnvResourceID+"="+id,
			EnvJobConfig+"="+string(cfgJSON), EnvJobID+"="+job.ID, "FLINK_GO_SLOTS="+strconv.Itoa(per))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting a TaskManager process of %s: %w", job.Artifact, err)
		}
		d.Log.Info().Str("job", job.ID).Str("taskmanager", id).Int("pid", cmd.Process.Pid).Msg("TaskManager process started")
		d.procs[job.ID] = append(d.procs[job.ID], cmd)
		jobID := job.ID
		go func() {
			err := cmd.Wait()
			d.mu.Lock()
			ended := d.ended[jobID]
			d.mu.Unlock()
			if !ended {
				d.JM.TaskManagerLost(id, fmt.Sprintf("TaskManager process %d exited: %s", cmd.Process.Pid, exitText(err)))
			}
		}()
	}
	return nil
}

// JobEnded implements jobmanager.Driver.
func (d *ProcessDriver) JobEnded(jobID string) {
	d.mu.Lock()
	if d.ended == nil {
		d.ended = map[string]bool{}
	}
	d.ended[jobID] = true
	procs := d.procs[jobID]
	delete(d.procs, jobID)
	d.mu.Unlock()
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	go func() {
		time.Sleep(5 * time.Second)
		for _, p := range procs {
			_ = p.Process.Kill()
		}
	}()
}

// RunSession runs a local session cluster until ctx is done or a signal arrives: a JobManager
// whose ProcessDriver starts TaskManager processes from each submitted job binary.
func RunSession(ctx context.Context, c *configs.Configuration, log zerolog.Logger) error {
	drv := &ProcessDriver{Slots: configs.Get(c, configs.NumberOfTaskSlots), Log: log}
	jm, err := jobmanager.Start(jobmanager.Config{RPCAddress: "127.0.0.1:0", RESTAddress: RESTBindAddress(c, "127.0.0.1", ""), Logger: log, Settings: c.Map(), Driver: drv,
		HeartbeatTimeout: configs.Get(c, configs.HeartbeatTimeout), HeartbeatInterval: configs.Get(c, configs.HeartbeatInterval)})
	if err != nil {
		return err
	}
	drv.JM = jm
	defer jm.Close()
	info := SessionInfo{PID: os.Getpid(), REST: jm.RESTAddr(), RPC: jm.RPCAddr(), Started: time.Now().UnixMilli()}
	data, _ := json.Marshal(info)
	if err := os.MkdirAll(filepath.Dir(SessionFile()), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(SessionFile(), data, 0o600); err != nil {
		return fmt.Errorf("recording the session: %w", err)
	}
	defer os.Remove(SessionFile())
	log.Info().Str("rest", jm.RESTAddr()).Msg("local session cluster running")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-jm.ShutdownRequested():
		log.Info().Msg("stopping the session: requested through REST (DELETE /cluster)")
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("stopping the session")
	}
	for _, j := range jm.Jobs() {
		j.Cancel()
	}
	deadline := time.After(10 * time.Second)
	for _, j := range jm.Jobs() {
		select {
		case <-j.Done():
		case <-deadline:
		}
	}
	return nil
}
