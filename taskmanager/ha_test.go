package taskmanager

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/jobmanager"
)

func waitRegistered(t *testing.T, jm *jobmanager.JobManager, id string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, tm := range jm.TaskManagers() {
			if tm.ID == id {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("TaskManager %s did not register at the JobManager %s within %s", id, jm.RPCAddr(), d)
}

// A TaskManager with an HA leader file survives the loss of its JobManager and registers with
// the one the leader file names next.
func TestFailoverToNewLeader(t *testing.T) {
	ctx := context.Background()
	root, err := jobmanager.HARoot("file://"+t.TempDir(), "cluster")
	if err != nil {
		t.Fatal(err)
	}
	store, err := jobmanager.OpenHAStore(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	jm1, err := jobmanager.Start(jobmanager.Config{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteLeader(ctx, jobmanager.Leader{RPC: jm1.RPCAddr(), Attempt: "1"}); err != nil {
		t.Fatal(err)
	}
	te, err := Start(ctx, Config{ResourceID: "container_1", JobManager: jm1.RPCAddr(), Slots: 2, HALeader: store.LeaderURI(),
		RegistrationTimeout: 30 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer te.Close()
	waitRegistered(t, jm1, "container_1", 10*time.Second)
	jm1.Close()

	jm2, err := jobmanager.Start(jobmanager.Config{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer jm2.Close()
	time.Sleep(500 * time.Millisecond) // the leader file still names the dead JobManager for a while
	if err := store.WriteLeader(ctx, jobmanager.Leader{RPC: jm2.RPCAddr(), Attempt: "2"}); err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, jm2, "container_1", 20*time.Second)
	select {
	case <-te.Done():
		t.Fatalf("the TaskManager shut down: %s", te.Reason())
	default:
	}
	if _, at := te.gateway(); at != jm2.RPCAddr() {
		t.Fatalf("TaskManager talks to %s, want the new leader %s", at, jm2.RPCAddr())
	}
}

// Without a new leader within the registration timeout the TaskManager shuts down, saying why.
func TestFailoverGivesUp(t *testing.T) {
	ctx := context.Background()
	root, err := jobmanager.HARoot("file://"+t.TempDir(), "cluster")
	if err != nil {
		t.Fatal(err)
	}
	store, err := jobmanager.OpenHAStore(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	jm1, err := jobmanager.Start(jobmanager.Config{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteLeader(ctx, jobmanager.Leader{RPC: jm1.RPCAddr()}); err != nil {
		t.Fatal(err)
	}
	te, err := Start(ctx, Config{ResourceID: "container_2", JobManager: jm1.RPCAddr(), HALeader: store.LeaderURI(),
		RegistrationTimeout: 2 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer te.Close()
	jm1.Close()
	select {
	case <-te.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the TaskManager did not shut down within 20 s after its JobManager died and no new leader appeared")
	}
	if r := te.Reason(); r == "" || !contains(r, "taskmanager.registration.timeout") {
		t.Fatalf("shutdown reason %q does not name the timeout", r)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
