package jobmanager

import (
	"fmt"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/jobgraph"
)

func graph(pars ...int) *jobgraph.JobGraph {
	g := &jobgraph.JobGraph{JobId: "j1"}
	for i, p := range pars {
		g.Vertices = append(g.Vertices, &jobgraph.Vertex{Id: fmt.Sprintf("vertex-%08d", i), Name: fmt.Sprint("v", i), Parallelism: int32(p)})
	}
	return g
}

func TestSlotsAndAssignment(t *testing.T) {
	if n := SlotsNeeded(graph(2, 4, 1)); n != 4 {
		t.Fatalf("slots needed %d, want 4 (slot sharing)", n)
	}
	free := []Slot{{"tm-b", 1}, {"tm-a", 0}, {"tm-b", 0}, {"tm-a", 1}}
	got, err := AssignSlots(free, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Spread over TaskManagers round-robin, deterministic order.
	if fmt.Sprint(got) != "[{tm-a 0} {tm-b 0} {tm-a 1}]" {
		t.Fatalf("assignment %v", got)
	}
	if _, err := AssignSlots(free, 5); err == nil {
		t.Fatal("assigning more slots than free should fail")
	}
}

func run(eg *ExecutionGraph, st jobgraph.ExecutionState) Transition {
	var tr Transition
	for _, e := range eg.Executions {
		if t := eg.Update(e.ID, st, "", "", 1); t != NoChange {
			tr = t
		}
	}
	return tr
}

func TestExecutionGraphLifecycle(t *testing.T) {
	eg := NewExecutionGraph(graph(2, 2))
	if len(eg.Executions) != 4 {
		t.Fatalf("%d executions", len(eg.Executions))
	}
	run(eg, jobgraph.ExecutionState_RUNNING)
	if eg.Status != JobRunning {
		t.Fatalf("status %s after all running", eg.Status)
	}
	if tr := run(eg, jobgraph.ExecutionState_FINISHED); tr != JobDone || eg.Status != JobFinished {
		t.Fatalf("transition %v status %s", tr, eg.Status)
	}
	// Stale updates are ignored.
	if tr := eg.Update(eg.Executions[0].ID, jobgraph.ExecutionState_FAILED, "late", "", 2); tr != NoChange || eg.Status != JobFinished {
		t.Fatal("an update after the end changed the job")
	}
}

func TestExecutionGraphFailureAndRestart(t *testing.T) {
	eg := NewExecutionGraph(graph(2))
	run(eg, jobgraph.ExecutionState_RUNNING)
	if tr := eg.Update(eg.Executions[0].ID, jobgraph.ExecutionState_FAILED, "boom", "stack", 3); tr != CancelOthers {
		t.Fatalf("first failure: %v", tr)
	}
	if eg.Status != JobFailing || eg.Failure == "" {
		t.Fatalf("status %s failure %q", eg.Status, eg.Failure)
	}
	if tr := eg.Update(eg.Executions[1].ID, jobgraph.ExecutionState_CANCELED, "", "", 4); tr != AllStopped {
		t.Fatalf("last stop: %v", tr)
	}
	old := eg.Executions[0].ID
	eg.Restart()
	if eg.Attempt() != 1 || eg.Lookup(old) != nil || eg.Status != JobRestarting {
		t.Fatalf("restart: attempt %d, old id known %v, status %s", eg.Attempt(), eg.Lookup(old) != nil, eg.Status)
	}
	run(eg, jobgraph.ExecutionState_RUNNING)
	if eg.Status != JobRunning {
		t.Fatalf("status %s after restart", eg.Status)
	}
	if done := eg.Cancel(); done || eg.Status != JobCancelling {
		t.Fatalf("cancel: %v %s", done, eg.Status)
	}
	if tr := run(eg, jobgraph.ExecutionState_CANCELED); tr != JobDone || eg.Status != JobCanceled {
		t.Fatalf("after cancel: %v %s", tr, eg.Status)
	}
}

func TestRestartStrategies(t *testing.T) {
	now := time.Unix(1000, 0)
	rs, err := RestartStrategyFrom(map[string]string{"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2", "restart-strategy.fixed-delay.delay": "3 s"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		d, ok := rs.NextDelay(now)
		if ok != want || (ok && d != 3*time.Second) {
			t.Fatalf("fixed-delay attempt %d: %v %v", i, d, ok)
		}
	}
	fr, _ := RestartStrategyFrom(map[string]string{"restart-strategy.type": "failure-rate",
		"restart-strategy.failure-rate.max-failures-per-interval": "2", "restart-strategy.failure-rate.failure-rate-interval": "1 min"})
	if _, ok := fr.NextDelay(now); !ok {
		t.Fatal("failure-rate: first failure should restart")
	}
	if _, ok := fr.NextDelay(now.Add(10 * time.Second)); !ok {
		t.Fatal("failure-rate: second failure should restart")
	}
	if _, ok := fr.NextDelay(now.Add(20 * time.Second)); ok {
		t.Fatal("failure-rate: third failure within the interval should not restart")
	}
	if _, ok := fr.NextDelay(now.Add(3 * time.Minute)); !ok {
		t.Fatal("failure-rate: a failure after the interval should restart")
	}
	ex, _ := RestartStrategyFrom(map[string]string{"restart-strategy.type": "exponential-delay", "restart-strategy.exponential-delay.jitter-factor": "0",
		"restart-strategy.exponential-delay.initial-backoff": "1 s", "restart-strategy.exponential-delay.max-backoff": "5 s"})
	var got []time.Duration
	for i := 0; i < 5; i++ {
		d, _ := ex.NextDelay(now.Add(time.Duration(i) * time.Second))
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[1s 1.5s 2.25s 3.375s 5s]" {
		t.Fatalf("exponential delays %v", got)
	}
	// Default: restart only with checkpointing.
	if d, _ := RestartStrategyFrom(map[string]string{}); d.String() != "none" {
		t.Fatalf("default without checkpoints: %s", d)
	}
	if d, _ := RestartStrategyFrom(map[string]string{"execution.checkpointing.interval": "1 s"}); d.String()[:17] != "exponential-delay" {
		t.Fatalf("default with checkpoints: %s", d)
	}
	if _, err := RestartStrategyFrom(map[string]string{"restart-strategy.type": "sometimes"}); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}
