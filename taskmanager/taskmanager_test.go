package taskmanager

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/jobmanager"
)

// The TaskManager heartbeats at the JobManager's heartbeat.interval, learnt at registration: at
// 100 ms it stays registered under a 500 ms heartbeat timeout (at the old fixed 1 s it was lost).
func TestHeartbeatIntervalFromJobManager(t *testing.T) {
	jm, err := jobmanager.Start(jobmanager.Config{Logger: zerolog.Nop(), HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer jm.Close()
	te, err := Start(context.Background(), Config{ResourceID: "tm-hb", JobManager: jm.RPCAddr(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer te.Close()
	waitRegistered(t, jm, "tm-hb", 10*time.Second)
	if got := te.heartbeatInterval(); got != 100*time.Millisecond {
		t.Fatalf("heartbeat interval %v, want the JobManager's 100ms", got)
	}
	time.Sleep(2 * time.Second)
	for _, tm := range jm.TaskManagers() {
		if tm.ID == "tm-hb" {
			return
		}
	}
	t.Fatal("the TaskManager was declared lost: its heartbeats did not follow heartbeat.interval")
}
