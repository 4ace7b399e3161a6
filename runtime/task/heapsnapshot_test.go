package task

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
)

// heapState is a heap backend with a value table and a map table changed in place (as
// stream's map state does), driven identically on a live and a twin backend.
type heapState struct {
	be  *state.KeyedBackend
	val *state.Table[int64]
	mp  *state.Table[map[string]int]
}

func newHeapState(t testing.TB) *heapState {
	t.Helper()
	h := &heapState{be: state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))}
	var err error
	if h.val, err = state.GetTable(h.be, "value", serde.MustFor[int64]()); err != nil {
		t.Fatal(err)
	}
	if h.mp, err = state.GetTable(h.be, "map", serde.MustFor[map[string]int]()); err != nil {
		t.Fatal(err)
	}
	return h
}

// apply runs round r of changes over n keys: updates, deletes, in-place map changes, new
// keys and timers.
func (h *heapState) apply(r, n int) {
	kc := serde.MustFor[string]()
	for i := 0; i < n; i++ {
		h.be.SetCurrentKey(kc.Append(nil, fmt.Sprintf("k%d", (i*31+r)%n)))
		switch (i + r) % 4 {
		case 0:
			h.val.Put(nil, int64(r*1000+i))
		case 1:
			h.val.Delete(nil)
		case 2:
			if m, ok := h.mp.Get(nil); ok {
				m[fmt.Sprint("r", r)] = i
			} else {
				h.mp.Put(nil, map[string]int{"first": r})
			}
		case 3:
			h.be.EventTimers.Add(state.Timer{Timestamp: int64(r*1000 + i), Key: string(h.be.CurrentKey())})
		}
	}
	h.be.SetCurrentKey(kc.Append(nil, fmt.Sprintf("new-%d", r)))
	h.val.Put(nil, int64(r))
}

// dump restores FGKS bytes and prints them canonically.
func dumpFGKS(t testing.TB, data []byte) string {
	t.Helper()
	h := &heapState{be: state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))}
	if err := h.be.Restore(data); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return dumpBackend(t, h.be)
}

func dumpBackend(t testing.TB, be *state.KeyedBackend) string {
	t.Helper()
	val, err := state.GetTable(be, "value", serde.MustFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	mp, err := state.GetTable(be, "map", serde.MustFor[map[string]int]())
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	ks, vs := val.SortedEntries()
	for i := range ks {
		fmt.Fprintf(&sb, "v %q=%d\n", ks[i], vs[i])
	}
	km, vm := mp.SortedEntries()
	for i := range km {
		fmt.Fprintf(&sb, "m %q=%v\n", km[i], vm[i])
	}
	for _, tm := range be.EventTimers.All() {
		fmt.Fprintf(&sb, "t %v\n", tm)
	}
	return sb.String()
}

// readHandle reads the keyed state an acknowledgement points to.
func readHandle(t testing.TB, h *jobgraph.StateHandle) []byte {
	t.Helper()
	if h == nil {
		t.Fatal("acknowledgement without keyed state")
	}
	if h.Path == "" {
		return h.Inline
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, p, err := fs.Get(ctx, h.Path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(ctx, fsys, p)
	if err != nil {
		t.Fatalf("reading %s: %v", h.Path, err)
	}
	return data
}

// TestPerformCheckpointHeapCopyOnWrite: three checkpoints in flight at once, the state
// changed right after each performCheckpoint returned (while the asynchronous part serializes):
// every written snapshot holds the state at its barrier, and every snapshot is released.
func TestPerformCheckpointHeapCopyOnWrite(t *testing.T) {
	live, twin := newHeapState(t), newHeapState(t)
	live.apply(0, 2000)
	twin.apply(0, 2000)
	acker := newRecordingAcker()
	tk := newCheckpointTask(live.be, acker)
	base := t.TempDir()
	var wants []string
	for id := int64(1); id <= 3; id++ {
		wants = append(wants, dumpBackend(t, twinCopy(t, twin)))
		dir := filepath.Join(base, fmt.Sprintf("chk-%d", id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tk.performCheckpoint(barrier{id: id, ts: id, dir: dir}, 0)
		live.apply(int(id), 2000)
		twin.apply(int(id), 2000)
	}
	for id := int64(1); id <= 3; id++ {
		ack := acker.wait(t, id, 2*time.Minute)
		got := dumpFGKS(t, readHandle(t, ack.Operators[0].Keyed))
		if got != wants[id-1] {
			t.Fatalf("checkpoint %d does not hold the state at its barrier:\n got %d bytes of dump\nwant %d", id, len(got), len(wants[id-1]))
		}
	}
	if n := live.be.RunningSnapshots(); n != 0 {
		t.Fatalf("%d heap snapshots still running after every acknowledgement", n)
	}
	if dumpBackend(t, live.be) != dumpBackend(t, twin.be) {
		t.Fatal("the live state lost changes made during the asynchronous phase")
	}
}

// twinCopy returns the twin's state as a separate backend (restored from its snapshot), so
// dumping it registers nothing on the twin.
func twinCopy(t testing.TB, h *heapState) *state.KeyedBackend {
	t.Helper()
	data, err := h.be.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	be := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	if err := be.Restore(data); err != nil {
		t.Fatal(err)
	}
	return be
}

// failingOperatorState is a chained operator whose operator-state snapshot fails.
type failingOperatorState struct{ nopInstance }

func (failingOperatorState) SnapshotOperatorState(int64) ([]byte, error) {
	return nil, errors.New("injected snapshot failure")
}

// TestPerformCheckpointHeapReleasedOnDecline: a checkpoint declined in its synchronous part
// (a later operator fails) or in its asynchronous part (storage unwritable) releases every
// heap snapshot it took, written or not.
func TestPerformCheckpointHeapReleasedOnDecline(t *testing.T) {
	t.Run("synchronous", func(t *testing.T) {
		h := newHeapState(t)
		h.apply(0, 100)
		acker := newRecordingAcker()
		tk := newCheckpointTask(h.be, acker)
		tk.d.Vertex.Operators = append(tk.d.Vertex.Operators, &jobgraph.Operator{Id: "op2", Name: "failing"})
		tk.instances = append(tk.instances, failingOperatorState{})
		tk.contexts = append(tk.contexts, &OperatorContext{opID: "op2", task: tk})
		tk.performCheckpoint(barrier{id: 1, ts: 1, dir: t.TempDir()}, 0)
		waitDecline(t, acker, 1, "injected snapshot failure")
		if n := h.be.RunningSnapshots(); n != 0 {
			t.Fatalf("%d heap snapshots running after a declined checkpoint", n)
		}
	})
	t.Run("asynchronous", func(t *testing.T) {
		h1, h2 := newHeapState(t), newHeapState(t)
		h1.apply(0, 100)
		h2.apply(0, 100)
		acker := newRecordingAcker()
		tk := newCheckpointTask(h1.be, acker)
		tk.d.Vertex.Operators = append(tk.d.Vertex.Operators, &jobgraph.Operator{Id: "op2", Name: "keyed2"})
		tk.instances = append(tk.instances, nopInstance{})
		tk.contexts = append(tk.contexts, &OperatorContext{opID: "op2", task: tk, backend: h2.be})
		// A checkpoint directory below a regular file cannot be written.
		blocker := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tk.performCheckpoint(barrier{id: 1, ts: 1, dir: filepath.Join(blocker, "chk-1")}, 0)
		waitDecline(t, acker, 1, "")
		if n := h1.be.RunningSnapshots() + h2.be.RunningSnapshots(); n != 0 {
			t.Fatalf("%d heap snapshots running after a failed asynchronous write", n)
		}
	})
}

func waitDecline(t *testing.T, a *recordingAcker, id int64, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		a.mu.Lock()
		reason, declined := a.declines[id]
		_, acked := a.acks[id]
		a.mu.Unlock()
		if acked {
			t.Fatalf("checkpoint %d acknowledged, want a decline", id)
		}
		if declined {
			if !strings.Contains(reason, want) {
				t.Fatalf("decline reason %q does not mention %q", reason, want)
			}
			return
		}
		select {
		case <-a.changed:
		case <-deadline:
			t.Fatalf("checkpoint %d: neither acknowledged nor declined within a minute", id)
		}
	}
}

// gatedFS is local storage whose writers hold their first Write until release is closed, so a
// test can abort a checkpoint while its heap state is being written.
type gatedFS struct {
	fs.Local
	started chan struct{}
	release chan struct{}
	aborted chan struct{}
}

func (g *gatedFS) Create(ctx context.Context, path string, opts fs.CreateOptions) (fs.Writer, error) {
	w, err := g.Local.Create(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &gatedWriter{Writer: w, fs: g}, nil
}

type gatedWriter struct {
	fs.Writer
	fs    *gatedFS
	first bool
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		close(w.fs.started)
		<-w.fs.release
	}
	return w.Writer.Write(p)
}

func (w *gatedWriter) Abort() error {
	close(w.fs.aborted)
	return w.Writer.Abort()
}

// An abort stops the asynchronous write of a heap checkpoint: the partial file is discarded,
// the copy-on-write snapshot released (writes stop copying) and nothing is acknowledged or
// declined (the JobManager already aborted the checkpoint).
func TestAbortStopsHeapWrite(t *testing.T) {
	g := &gatedFS{started: make(chan struct{}), release: make(chan struct{}), aborted: make(chan struct{})}
	fs.Register("gatedtest", func(context.Context, *url.URL) (fs.FileSystem, error) { return g, nil })
	dir := t.TempDir()
	be := state.NewKeyedBackend(128, serde.KeyGroupRangeFor(128, 1, 0))
	fillBytes(t, be, 20_000, 100)
	acker := newRecordingAcker()
	tk := newCheckpointTask(be, acker)
	tk.performCheckpoint(barrier{id: 3, ts: 3, dir: "gatedtest://" + dir + "/chk-3"}, 0)
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the heap checkpoint write did not start")
	}
	tk.checkpointDone(3, true)
	close(g.release)
	select {
	case <-g.aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("the heap checkpoint write went on after the abort")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tk.asyncMu.Lock()
		n := len(tk.asyncAborts)
		tk.asyncMu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the aborted checkpoint's asynchronous part did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := be.RunningSnapshots(); n != 0 {
		t.Fatalf("%d snapshots still held after the abort", n)
	}
	acker.mu.Lock()
	defer acker.mu.Unlock()
	if len(acker.acks) != 0 || len(acker.declines) != 0 {
		t.Fatalf("aborted checkpoint reported: acks %v, declines %v", acker.acks, acker.declines)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "chk-3")); len(files) != 0 {
		t.Fatalf("partial files left in the aborted checkpoint's directory: %v", files)
	}
}
