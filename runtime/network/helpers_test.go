package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{SegmentSize: 4096, TotalBuffers: 512, BufferTimeout: 5 * time.Millisecond, PartitionRequestTimeout: 2 * time.Second}
}

func newTestEnv(t testing.TB, cfg Config) *Environment {
	t.Helper()
	e, err := NewEnvironment(cfg)
	if err != nil {
		t.Fatalf("NewEnvironment: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func pid(vertex string, subtask int) PartitionID {
	return PartitionID{Job: "job", Vertex: vertex, Subtask: subtask}
}

// item is one delivered record or event, copied.
type item struct {
	ch  int
	rec []byte
	ev  []byte
}

func (it item) String() string {
	if it.ev != nil {
		return fmt.Sprintf("ch%d ev %q", it.ch, it.ev)
	}
	return fmt.Sprintf("ch%d rec %d bytes", it.ch, len(it.rec))
}

// readAll reads until io.EOF and returns everything delivered.
func readAll(t testing.TB, r *RecordReader, timeout time.Duration) []item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []item
	for {
		ch, rec, ev, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d items: %v", len(out), err)
		}
		it := item{ch: ch}
		if rec != nil {
			it.rec = append([]byte{}, rec...)
		}
		if ev != nil {
			it.ev = append([]byte{}, ev...)
		}
		out = append(out, it)
	}
}

// perChannel splits items by channel.
func perChannel(items []item) map[int][]item {
	m := map[int][]item{}
	for _, it := range items {
		m[it.ch] = append(m[it.ch], it)
	}
	return m
}

// record makes a deterministic record of size n for (producer, seq).
func record(producer, seq, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(producer*31 + seq*7 + i)
	}
	if n >= 8 {
		copy(b, fmt.Sprintf("%04d%04d", producer%10000, seq%10000))
	}
	return b
}

// waitGoroutines waits until the goroutine count drops to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d goroutines, want <= %d\n%s", got, n, truncate(string(buf), 20000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "\n..."
	}
	return s
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func runtimeNumGoroutine() int { return runtime.NumGoroutine() }
