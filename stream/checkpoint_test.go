package stream_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flink-go/flink-go/connectors/datagen"
	"github.com/flink-go/flink-go/connectors/file"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/stream"
)

type kc = serde.Tuple2[int64, int64]

// runningCount is a keyed running count: every record emits (key, count so far).
type runningCount struct{}

func (runningCount) ProcessElement(v kc, ctx *stream.KeyedContext[int64], out stream.Collector[kc]) error {
	st := stream.GetValueState[int64](ctx, "n")
	n, _ := st.Value()
	n++
	st.Update(n)
	out.Collect(kc{F0: v.F0, F1: n})
	return nil
}
func (runningCount) OnTimer(int64, *stream.KeyedContext[int64], stream.Collector[kc]) error {
	return nil
}

// checkExactlyOnce reads the committed part files and checks that every (key, count) pair for
// count 1..n/keys appears exactly once.
func checkExactlyOnce(t *testing.T, dir string, n, keys int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "part-*"))
	seen := map[string]int{}
	lines := int64(0)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			seen[sc.Text()]++
			lines++
		}
		fh.Close()
	}
	if lines != n {
		t.Errorf("%d committed lines, want %d", lines, n)
	}
	dups := 0
	for k, c := range seen {
		if c != 1 {
			dups++
			if dups < 5 {
				t.Errorf("%q committed %d times", k, c)
			}
		}
	}
	bad := 0
	for k := int64(0); k < keys; k++ {
		first, last, missing := int64(-1), int64(-1), 0
		for c := int64(1); c <= n/keys; c++ {
			if seen[fmt.Sprintf("%d %d", k, c)] != 1 {
				if first < 0 {
					first = c
				}
				last = c
				missing++
			}
		}
		if missing > 0 {
			bad++
			if bad <= 5 {
				t.Errorf("key %d: %d counts missing or duplicated, between %d and %d", k, missing, first, last)
			}
		}
	}
}

// TestExactlyOnceAfterFailure: a keyed running count with an exactly-once file sink, checkpoints
// every 100 ms and a user function that fails once mid-stream: after the restart from the
// checkpoint the committed output has every update exactly once.
func TestExactlyOnceAfterFailure(t *testing.T) {
	const n, keys = 400_000, 100
	var failed atomic.Bool
	var processed atomic.Int64
	src, err := datagen.New(func(i int64) kc { return kc{F0: i % keys, F1: 1} }, datagen.Count(n), datagen.RatePerSecond(400_000))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	env := stream.NewEnvironment().SetParallelism(2)
	recs := stream.Map(stream.FromSource[kc](env, src, stream.NoWatermarks[kc](), "gen"), func(v kc) kc {
		if processed.Add(1) == n/2 && failed.CompareAndSwap(false, true) {
			panic("injected failure")
		}
		return v
	})
	counts := stream.KeyedProcess(stream.KeyBy(recs, func(v kc) int64 { return v.F0 }), stream.KeyedProcessFunction[int64, kc, kc](runningCount{}))
	sink, err := file.NewFileSink(out, func(v kc) []byte { return []byte(fmt.Sprintf("%d %d", v.F0, v.F1)) }, file.ExactlyOnce())
	if err != nil {
		t.Fatal(err)
	}
	counts.SinkTo(sink, "out")
	err = runLocal(t, env, map[string]string{
		"local.taskmanagers":                    "2",
		"execution.checkpointing.interval":      "100ms",
		"execution.checkpointing.dir":           "file://" + t.TempDir(),
		"restart-strategy.type":                 "fixed-delay",
		"restart-strategy.fixed-delay.attempts": "3",
		"restart-strategy.fixed-delay.delay":    "100ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !failed.Load() {
		t.Fatal("the failure was not injected")
	}
	if os.Getenv("DEBUG_EO") != "" {
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			info, _ := e.Info()
			t.Logf("%s %d", e.Name(), info.Size())
		}
	}
	checkExactlyOnce(t, out, n, keys)
	// Nothing but committed parts (and hidden leftovers of the failed attempt) in the output.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "part-") && !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
}
