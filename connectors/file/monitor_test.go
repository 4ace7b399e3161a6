package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/runtime/op"
)

func writeLines(t *testing.T, path string, prefix string, n int) []string {
	t.Helper()
	var want []string
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		l := fmt.Sprintf("%s-%d", prefix, i)
		want = append(want, l)
		fmt.Fprintln(f, l)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

// pollUntil polls r until cond holds or the deadline passes.
func pollUntil(t *testing.T, r op.SourceReader[string], out *connectortest.Output[string], cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached; have %d records", out.Len())
		}
		if _, err := r.Poll(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMonitoringSourcePicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	want := writeLines(t, filepath.Join(dir, "a.txt"), "a", 10)
	src, err := NewMonitoringSource(dir, 10*time.Millisecond, WithBatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	if src.Bounded() {
		t.Fatal("monitoring source reports bounded")
	}
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	out := &connectortest.Output[string]{}
	pollUntil(t, r, out, func() bool { return out.Len() == 10 })
	// A file appearing later, written under a hidden name then renamed in.
	tmp := filepath.Join(dir, ".b.txt.tmp")
	want = append(want, writeLines(t, tmp, "b", 5)...)
	if err := os.Rename(tmp, filepath.Join(dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, r, out, func() bool { return out.Len() == 15 })
	// Nothing more: polls return NothingAvailable and the reader marks itself idle.
	for i := 0; i < 5; i++ {
		st, err := r.Poll(context.Background(), out)
		if err != nil || st == op.End {
			t.Fatalf("poll: %v %v", st, err)
		}
	}
	sameMultiset(t, out.Values(), want, "monitored")
	if out.Idle == 0 {
		t.Fatal("idle reader never marked idle")
	}
}

func TestMonitoringSourceRestoreAtOtherParallelism(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := 0; i < 6; i++ {
		want = append(want, writeLines(t, filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), fmt.Sprintf("f%d", i), 20)...)
	}
	src, _ := NewMonitoringSource(dir, time.Millisecond, WithBatchSize(7))
	var got []string
	var states [][]byte
	for k := 0; k < 2; k++ {
		r, _ := src.CreateReader(connectortest.NewContext(k, 2))
		out := &connectortest.Output[string]{}
		for i := 0; i < 4; i++ { // a few batches: some files done, one in progress
			if _, err := r.Poll(context.Background(), out); err != nil {
				t.Fatal(err)
			}
		}
		st, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
		got = append(got, out.Values()...)
		r.Close()
	}
	if len(got) == 0 || len(got) == len(want) {
		t.Fatalf("test setup: read %d of %d before the snapshot", len(got), len(want))
	}
	// A new file appears while the job is down.
	want = append(want, writeLines(t, filepath.Join(dir, "late.txt"), "late", 4)...)
	outs := make([]*connectortest.Output[string], 3)
	readers := make([]op.SourceReader[string], 3)
	for k := 0; k < 3; k++ {
		readers[k], _ = src.CreateReader(connectortest.NewContext(k, 3).WithRestored(states))
		outs[k] = &connectortest.Output[string]{}
	}
	deadline := time.Now().Add(5 * time.Second)
	for total := 0; total < len(want)-len(got); {
		if time.Now().After(deadline) {
			t.Fatalf("restored readers stalled at %d of %d", total, len(want)-len(got))
		}
		total = 0
		for k := 0; k < 3; k++ {
			if _, err := readers[k].Poll(context.Background(), outs[k]); err != nil {
				t.Fatal(err)
			}
			total += outs[k].Len()
		}
	}
	for k := 0; k < 3; k++ {
		got = append(got, outs[k].Values()...)
	}
	sameMultiset(t, got, want, "monitor restore")
}

// TestMonitoringSourceChainedRestores snapshots after a few polls and restores at a new
// parallelism several times in a row; every line must be read exactly once overall.
func TestMonitoringSourceChainedRestores(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := 0; i < 9; i++ {
		want = append(want, writeLines(t, filepath.Join(dir, fmt.Sprintf("g%d.txt", i)), fmt.Sprintf("g%d", i), 25)...)
	}
	src, _ := NewMonitoringSource(dir, time.Millisecond, WithBatchSize(4))
	var got []string
	var states [][]byte
	for round, p := range []int{2, 3, 1, 4, 2} {
		var next [][]byte
		for k := 0; k < p; k++ {
			r, err := src.CreateReader(connectortest.NewContext(k, p).WithRestored(states))
			if err != nil {
				t.Fatal(err)
			}
			out := &connectortest.Output[string]{}
			polls := 3 + k
			if round == 4 {
				polls = 200
			}
			for i := 0; i < polls; i++ {
				if _, err := r.Poll(context.Background(), out); err != nil {
					t.Fatal(err)
				}
			}
			st, _ := r.Snapshot(int64(round))
			next = append(next, st)
			got = append(got, out.Values()...)
			r.Close()
		}
		states = next
	}
	sameMultiset(t, got, want, "chained restores")
}
