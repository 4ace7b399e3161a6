package datagen

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/connectortest"
)

func TestBoundedEveryIndexOnceAnyParallelism(t *testing.T) {
	src, err := New(func(i int64) int64 { return i * 10 }, Count(1000), BatchSize(33), Timestamps(func(i int64) int64 { return 5000 + i }))
	if err != nil {
		t.Fatal(err)
	}
	for p := 1; p <= 5; p++ {
		per, err := connectortest.ReadAll[int64](context.Background(), src, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, 1000)
		for _, recs := range per {
			for _, r := range recs {
				if r.Timestamp != 5000+r.Value/10 {
					t.Fatalf("timestamp %d for value %d", r.Timestamp, r.Value)
				}
				seen[r.Value/10]++
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("p=%d index %d emitted %d times", p, i, n)
			}
		}
	}
}

func TestSnapshotRestoreRescale(t *testing.T) {
	src, _ := New(func(i int64) int64 { return i }, Count(500), BatchSize(10))
	ctx := context.Background()
	seen := make([]int, 500)
	var states [][]byte
	for k := 0; k < 4; k++ {
		r, _ := src.CreateReader(connectortest.NewContext(k, 4))
		out := &connectortest.Output[int64]{}
		connectortest.Drain[int64](ctx, r, out, 1+k*3)
		st, _ := r.Snapshot(1)
		states = append(states, st)
		for _, v := range out.Values() {
			seen[v]++
		}
	}
	per, err := connectortest.ReadAll[int64](ctx, src, 3, states)
	if err != nil {
		t.Fatal(err)
	}
	for _, recs := range per {
		for _, r := range recs {
			seen[r.Value]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("index %d emitted %d times", i, n)
		}
	}
}

func TestRateLimitAcrossSubtasks(t *testing.T) {
	const rate = 4000.0
	src, _ := New(func(i int64) int64 { return i }, RatePerSecond(rate))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := int64(0)
	start := time.Now()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			r, _ := src.CreateReader(connectortest.NewContext(k, 2))
			out := &connectortest.CountingOutput[int64]{}
			for ctx.Err() == nil {
				r.Poll(ctx, out)
			}
			mu.Lock()
			total += out.N
			mu.Unlock()
		}(k)
	}
	wg.Wait()
	want := rate * time.Since(start).Seconds()
	// Never faster than the rate (+ the initial burst); the lower bound is loose because a
	// starved process loses its tokens (TestRateLimitWithFakeClock checks exact accounting).
	if float64(total) < want*0.5 || float64(total) > want*1.1+10 {
		t.Fatalf("emitted %d in %v, want ≈%.0f (rate %v/s)", total, time.Since(start), want, rate)
	}
}

func TestRateLimitWithFakeClock(t *testing.T) {
	now := time.Unix(0, 0)
	src, _ := New(func(i int64) int64 { return i }, RatePerSecond(1000), withClock(func() time.Time { return now }))
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	out := &connectortest.CountingOutput[int64]{}
	for step := 0; step < 101; step++ { // the clock starts at the first Poll: 100 more steps of 10 ms = 1 s -> 1000 records (+1 initial token)
		now = now.Add(10 * time.Millisecond)
		for i := 0; i < 3; i++ {
			r.Poll(context.Background(), out)
		}
	}
	if out.N < 995 || out.N > 1005 {
		t.Fatalf("emitted %d in 1 s at 1000/s", out.N)
	}
}

func TestInvalidOptions(t *testing.T) {
	if _, err := New[int](nil); err == nil {
		t.Fatal("nil function accepted")
	}
	if _, err := New(func(int64) int { return 0 }, Count(-1)); err == nil {
		t.Fatal("negative count accepted")
	}
	if _, err := New(func(int64) int { return 0 }, RatePerSecond(-1)); err == nil {
		t.Fatal("negative rate accepted")
	}
}
