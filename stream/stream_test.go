package stream_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/stream"
	"github.com/rs/zerolog"
)

// collectSink gathers records from all subtasks (tests only; goroutine TaskManagers).
type collectSink[T any] struct {
	mu  sync.Mutex
	out []T
}

func (c *collectSink[T]) CreateWriter(op.SinkContext) (op.SinkWriter[T], error) { return c, nil }
func (c *collectSink[T]) Write(v T, _ int64) error {
	c.mu.Lock()
	c.out = append(c.out, v)
	c.mu.Unlock()
	return nil
}
func (c *collectSink[T]) Finish() error { return nil }
func (c *collectSink[T]) Close() error  { return nil }

func runLocal(t *testing.T, env *stream.Environment, conf map[string]string) error {
	t.Helper()
	for k, v := range conf {
		env.Configure(k, v)
	}
	env.Configure("rest.port", "0")
	g, reg, err := env.Graph(t.Name())
	if err != nil {
		return err
	}
	return cluster.RunLocal(context.Background(), g, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
}

type wc = serde.Tuple2[string, int64]

func TestWordCountReduce(t *testing.T) {
	for _, par := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			env := stream.NewEnvironment().SetParallelism(par)
			var lines []string
			want := map[string]int64{}
			for i := 0; i < 2000; i++ {
				l := fmt.Sprintf("a b%d c%d", i%7, i%13)
				lines = append(lines, l)
				for _, w := range strings.Fields(l) {
					want[w]++
				}
			}
			words := stream.FlatMap(stream.FromSlice(env, lines), func(l string, out stream.Collector[wc]) {
				for _, w := range strings.Fields(l) {
					out.Collect(wc{F0: w, F1: 1})
				}
			})
			sink := &collectSink[wc]{}
			stream.KeyBy(words, func(c wc) string { return c.F0 }).Reduce(func(a, b wc) wc { return wc{F0: a.F0, F1: a.F1 + b.F1} }).SinkTo(sink, "collect")
			if err := runLocal(t, env, map[string]string{"local.taskmanagers": "2"}); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, c := range sink.out {
				if c.F1 > got[c.F0] {
					got[c.F0] = c.F1
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d words, want %d", len(got), len(want))
			}
			for w, n := range want {
				if got[w] != n {
					t.Errorf("%s: got %d want %d", w, got[w], n)
				}
			}
			keys := make([]string, 0)
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
		})
	}
}
