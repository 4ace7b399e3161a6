package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/runtime/op"
)

func listDir(t *testing.T, dir string) (final, hidden []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			hidden = append(hidden, e.Name())
		} else {
			final = append(final, e.Name())
		}
	}
	return final, hidden
}

func readParts(t *testing.T, dir string) []string {
	t.Helper()
	src, err := NewLineSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	per, err := connectortest.ReadAll[string](context.Background(), src, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range per[0] {
		out = append(out, r.Value)
	}
	return out
}

func TestFileSinkRollsBySizeAndFinishes(t *testing.T) {
	dir := t.TempDir()
	sink, err := NewFileSink[string](dir, nil, RollSize(1000), PartSuffix(".txt"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.CreateWriter(connectortest.NewContext(2, 4))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 500; i++ {
		s := fmt.Sprintf("record-%04d", i) // 12 bytes with newline
		want = append(want, s)
		if err := w.Write(s, op.NoTimestamp); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	final, hidden := listDir(t, dir)
	if len(hidden) != 0 {
		t.Fatalf("in-progress files left: %v", hidden)
	}
	if len(final) != 6 || final[0] != "part-2-0.txt" || final[5] != "part-2-5.txt" {
		t.Fatalf("part files %v, want part-2-0.txt..part-2-5.txt", final)
	}
	got := readParts(t, dir)
	if !slices.Equal(got, want) { // name order = write order here
		t.Fatal("part file contents differ from the written records")
	}
	// A new writer for the same subtask continues the numbering.
	w2, _ := sink.CreateWriter(connectortest.NewContext(2, 4))
	w2.Write("more", op.NoTimestamp)
	w2.Finish()
	final, _ = listDir(t, dir)
	if !slices.Contains(final, "part-2-6.txt") {
		t.Fatalf("restarted writer did not continue numbering: %v", final)
	}
}

func TestFileSinkRollsByTime(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1000, 0)
	sink, _ := NewFileSink[string](dir, nil, RollInterval(time.Minute), withClock(func() time.Time { return now }))
	w, _ := sink.CreateWriter(connectortest.NewContext(0, 1))
	w.Write("a", 0)
	now = now.Add(30 * time.Second)
	w.Write("b", 0)
	if final, _ := listDir(t, dir); len(final) != 0 {
		t.Fatalf("rolled too early: %v", final)
	}
	now = now.Add(31 * time.Second)
	w.Write("c", 0) // interval elapsed: rolled after this record
	if final, _ := listDir(t, dir); len(final) != 1 {
		t.Fatalf("not rolled after the interval: %v", final)
	}
	w.Write("d", 0)
	w.Finish()
	if got := readParts(t, dir); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("contents %v", got)
	}
}

func TestFileSinkExactlyOnceTwoPhaseCommit(t *testing.T) {
	dir := t.TempDir()
	sink, _ := NewFileSink[string](dir, nil, ExactlyOnce(), RollSize(50))
	cw := func() op.CommittingSinkWriter[string] {
		w, err := sink.CreateWriter(connectortest.NewContext(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		return w.(op.CommittingSinkWriter[string])
	}
	w := cw()
	for i := 0; i < 10; i++ { // rolls by size at least once: still hidden
		w.Write(fmt.Sprintf("cp1-%d", i), 0)
	}
	if final, _ := listDir(t, dir); len(final) != 0 {
		t.Fatalf("visible before commit: %v", final)
	}
	c1, err := w.PreCommit(1)
	if err != nil || c1 == nil {
		t.Fatalf("precommit: %v %v", c1, err)
	}
	w.Write("cp2-0", 0)
	c2, _ := w.PreCommit(2)
	if final, _ := listDir(t, dir); len(final) != 0 {
		t.Fatalf("visible before commit: %v", final)
	}
	if err := w.Commit(1, [][]byte{c1}); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, dir); len(got) != 10 {
		t.Fatalf("after commit 1: %d records", len(got))
	}
	if err := w.Commit(1, [][]byte{c1}); err != nil { // idempotent
		t.Fatal(err)
	}
	// Records after checkpoint 2, then a crash before checkpoint 2 completes.
	w.Write("lost-0", 0)
	w.Close()
	// Restart from checkpoint 2: the engine commits its committable; uncommitted data stays hidden.
	w2 := cw()
	if err := w2.Commit(2, [][]byte{c2}); err != nil {
		t.Fatal(err)
	}
	w2.Write("cp3-0", 0)
	w2.Finish()
	c3, _ := w2.PreCommit(3)
	w2.Commit(3, [][]byte{c3})
	got := readParts(t, dir)
	slices.Sort(got)
	want := []string{"cp1-0", "cp1-1", "cp1-2", "cp1-3", "cp1-4", "cp1-5", "cp1-6", "cp1-7", "cp1-8", "cp1-9", "cp2-0", "cp3-0"}
	if !slices.Equal(got, want) {
		t.Fatalf("visible records %v", got)
	}
	// A committable whose files vanished is an error.
	os.Remove(filepath.Join(dir, "part-0-0"))
	if err := w2.Commit(1, [][]byte{c1}); err == nil {
		t.Fatal("commit of a vanished part succeeded")
	}
}

type stringer struct{ n int }

func (s stringer) String() string { return fmt.Sprintf("<%d>", s.n) }

func TestFileSinkEncoders(t *testing.T) {
	if _, err := NewFileSink[struct{ A int }](t.TempDir(), nil); err == nil {
		t.Fatal("struct without encoder accepted")
	}
	dir := t.TempDir()
	sink, err := NewFileSink[stringer](dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := sink.CreateWriter(connectortest.NewContext(0, 1))
	w.Write(stringer{7}, 0)
	w.Finish()
	if got := readParts(t, dir); !slices.Equal(got, []string{"<7>"}) {
		t.Fatalf("stringer: %v", got)
	}
	dir2 := t.TempDir()
	sink2, _ := NewFileSink(dir2, func(v int) []byte { return fmt.Appendf(nil, "n=%d", v) }, RecordDelimiter("\r\n"))
	w2, _ := sink2.CreateWriter(connectortest.NewContext(0, 1))
	w2.Write(1, 0)
	w2.Write(2, 0)
	w2.Finish()
	if got := readParts(t, dir2); !slices.Equal(got, []string{"n=1", "n=2"}) {
		t.Fatalf("custom encoder: %v", got)
	}
	if _, err := NewFileSink[string](dir, nil, PartPrefix(".x")); err == nil {
		t.Fatal("hidden prefix accepted")
	}
}

func BenchmarkFileSinkWrite(b *testing.B) {
	sink, _ := NewFileSink[string](b.TempDir(), nil)
	w, _ := sink.CreateWriter(connectortest.NewContext(0, 1))
	rec := strings.Repeat("x", 99)
	b.SetBytes(100)
	b.ReportAllocs()
	for b.Loop() {
		w.Write(rec, 0)
	}
	w.Finish()
}

func TestFileSinkCloseSemantics(t *testing.T) {
	// At-least-once: Close after a failure publishes the open part.
	dir := t.TempDir()
	sink, _ := NewFileSink[string](dir, nil)
	w, _ := sink.CreateWriter(connectortest.NewContext(0, 1))
	w.Write("kept", 0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, dir); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("at-least-once close: %v", got)
	}
	// Exactly-once: the open part is discarded, rolled-but-not-pre-committed parts stay hidden.
	dir2 := t.TempDir()
	sink2, _ := NewFileSink[string](dir2, nil, ExactlyOnce(), RollSize(5))
	w2, _ := sink2.CreateWriter(connectortest.NewContext(0, 1))
	w2.Write("rolled", 0) // >= 5 bytes: rolled to pending
	w2.Write("open", 0)   // 5 bytes with newline: rolled as well
	w2.Write("x", 0)      // open
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	final, hidden := listDir(t, dir2)
	if len(final) != 0 || len(hidden) != 2 {
		t.Fatalf("exactly-once close: final %v hidden %v", final, hidden)
	}
}

func TestFileConnectorsWithFileURIs(t *testing.T) {
	dir := t.TempDir()
	out := "file://" + filepath.ToSlash(dir) + "/out"
	sink, err := NewFileSink[string](out, nil, ExactlyOnce())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.CreateWriter(connectortest.NewContext(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write("one", 0)
	w.Write("two", 0)
	cw := w.(op.CommittingSinkWriter[string])
	c, err := cw.PreCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), `"from":"file://`) {
		t.Fatalf("committable does not carry URIs: %s", c)
	}
	if err := cw.Commit(1, [][]byte{c}); err != nil {
		t.Fatal(err)
	}
	src, err := NewLineSource(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.CreateReader(connectortest.NewContext(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := r.Snapshot(1)
	if !strings.Contains(string(st), "file://") {
		t.Fatalf("snapshot does not carry URIs: %s", st)
	}
	o := &connectortest.Output[string]{}
	if _, err := connectortest.Drain[string](context.Background(), r, o, 0); err != nil {
		t.Fatal(err)
	}
	if got := o.Values(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("read back %v", got)
	}
	if _, err := NewLineSource("nosuchscheme://x/y"); err != nil {
		t.Fatal("constructor should not resolve eagerly")
	}
	bad, _ := NewLineSource("nosuchscheme://x/y")
	if _, err := bad.CreateReader(connectortest.NewContext(0, 1)); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("unknown scheme: %v", err)
	}
}

func TestFileSinkRollOnCheckpoint(t *testing.T) {
	dir := t.TempDir()
	sink, _ := NewFileSink[string](dir, nil, RollOnCheckpoint())
	w, _ := sink.CreateWriter(connectortest.NewContext(0, 1))
	cw := w.(op.CommittingSinkWriter[string])
	cw.Write("a", 0)
	if c, err := cw.PreCommit(1); err != nil || c != nil {
		t.Fatalf("precommit: %v %v", c, err)
	}
	if final, _ := listDir(t, dir); !slices.Equal(final, []string{"part-0-0"}) {
		t.Fatalf("after checkpoint: %v", final)
	}
	cw.PreCommit(2) // nothing open: no empty part
	cw.Write("b", 0)
	cw.Finish()
	if final, _ := listDir(t, dir); !slices.Equal(final, []string{"part-0-0", "part-0-1"}) {
		t.Fatalf("after finish: %v", final)
	}
}
