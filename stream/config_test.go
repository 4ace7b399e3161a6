package stream_test

import (
	"strings"
	"testing"

	"github.com/flink-go/flink-go/connectors/sinks"
	"github.com/flink-go/flink-go/stream"
)

// pipeline is source -> map -> filter -> sink at one parallelism: one chained task by default.
func pipeline(kv map[string]string) *stream.Environment {
	env := stream.NewEnvironment().SetParallelism(2)
	for k, v := range kv {
		env.Configure(k, v)
	}
	m := stream.Map(stream.FromElements(env, 1, 2, 3), func(v int) int { return v * 2 })
	m.Filter(func(v int) bool { return v > 2 }).SinkTo(sinks.Discard[int](), "discard")
	return env
}

// pipeline.operator-chaining.enabled=false (or its deprecated name) gives every operator its
// own task, as DisableOperatorChaining does.
func TestOperatorChainingOption(t *testing.T) {
	for kv, want := range map[*map[string]string]int{
		{}: 1, // source -> map -> filter -> sink chained into one task
		{"pipeline.operator-chaining.enabled": "false"}: 4,
		{"pipeline.operator-chaining": "false"}:         4,
	} {
		g, _, err := pipeline(*kv).Graph("chaining")
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Vertices) != want {
			t.Errorf("%v: %d tasks, want %d", *kv, len(g.Vertices), want)
		}
	}
}

// BATCH (and AUTOMATIC over bounded sources, which Flink runs as BATCH) is refused with the
// reason instead of running in STREAMING mode with different output.
func TestRuntimeModeOption(t *testing.T) {
	for mode, wantErr := range map[string]bool{"STREAMING": false, "BATCH": true, "AUTOMATIC": true, "batch": true} {
		_, _, err := pipeline(map[string]string{"execution.runtime-mode": mode}).Graph("mode")
		if wantErr != (err != nil) {
			t.Fatalf("execution.runtime-mode=%s: error %v, want error: %v", mode, err, wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "STREAMING mode only") {
			t.Fatalf("execution.runtime-mode=%s: error %q does not say why", mode, err)
		}
	}
}
