package taskmanager

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// haFailoverHeartbeats is how many heartbeats in a row must fail before a TaskManager with an HA
// leader file gives up on its JobManager (heartbeats are 1 s apart).
const haFailoverHeartbeats = 3

// leaderPollInterval is how often the leader file is read while waiting for a new JobManager.
var leaderPollInterval = time.Second

// failover handles the loss of the JobManager when high availability is on: the tasks of the
// old JobManager are cancelled (their output is not committed without it), then the leader file
// is polled and the TaskManager registers with the JobManager it names, keeping its resource id
// (the YARN container id), slots and data address. It gives up after
// Config.RegistrationTimeout.
func (te *TaskExecutor) failover(cause error) error {
	_, old := te.gateway()
	te.log.Warn().Err(cause).Str("jobmanager", old).Str("leader_file", te.cfg.HALeader).
		Msg("lost the JobManager; cancelling tasks and waiting for a new leader")
	te.cancelAll(30 * time.Second)
	deadline := time.Now().Add(te.cfg.RegistrationTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-te.done:
			return fmt.Errorf("shut down while waiting for a new JobManager")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		l, err := jobmanager.ReadLeader(ctx, te.cfg.HALeader)
		cancel()
		if err == nil {
			err = te.registerWith(l.RPC)
			if err == nil {
				te.log.Info().Str("jobmanager", l.RPC).Str("attempt", l.Attempt).Str("previous", old).
					Msg("registered at the new JobManager leader")
				return nil
			}
		}
		last = err
		te.log.Debug().Err(err).Msg("no new JobManager yet")
		select {
		case <-time.After(leaderPollInterval):
		case <-te.done:
		}
	}
	return fmt.Errorf("lost the JobManager %s and no new leader accepted the registration within %s (taskmanager.registration.timeout; leader file %s): %w",
		old, te.cfg.RegistrationTimeout, te.cfg.HALeader, last)
}

// registerWith registers at addr and, on success, makes it the TaskManager's JobManager.
func (te *TaskExecutor) registerWith(addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to the JobManager at %s: %w", addr, err)
	}
	gw := jobgraph.NewJobManagerGatewayClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	resp, err := gw.RegisterTaskManager(ctx, te.registration())
	cancel()
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("registering at the JobManager %s: %w", addr, err)
	}
	te.registered(resp)
	te.gwMu.Lock()
	old := te.conn
	te.conn, te.jm, te.jmAt = conn, gw, addr
	te.gwMu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// cancelAll cancels every running task and waits (up to d) until they stopped.
func (te *TaskExecutor) cancelAll(d time.Duration) {
	te.mu.Lock()
	n := len(te.tasks)
	for _, t := range te.tasks {
		t.Cancel()
	}
	te.mu.Unlock()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		te.mu.Lock()
		left := len(te.tasks)
		te.mu.Unlock()
		if left == 0 {
			te.log.Info().Int("tasks", n).Msg("tasks of the lost JobManager cancelled")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	te.log.Warn().Dur("waited", d).Msg("tasks of the lost JobManager did not stop in time; registering anyway")
}
