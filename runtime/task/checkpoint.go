package task

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/op"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/runtime/state/pebblestore"
)

// FinalCheckpointID is the id of the notification that tells end-of-input tasks that the whole
// job finished, so exactly-once sinks commit what they wrote after the last checkpoint.
const FinalCheckpointID = math.MaxInt64

// DeclineNotReadyPrefix starts the reason of a decline by a task that cannot take part in a
// checkpoint (finished, not yet running): the JobManager does not count it as a failure.
const DeclineNotReadyPrefix = "not ready: "

// DeclineSubsumedPrefix starts the reason of a decline of a checkpoint whose alignment a newer
// checkpoint (its barrier, or its abort or completion notification) replaced. As in Flink
// (CHECKPOINT_DECLINED_SUBSUMED), it does not count as a failure either.
const DeclineSubsumedPrefix = "subsumed: "

// Acker reports checkpoint results of a task to the JobManager (the TaskManager implements it).
type Acker interface {
	AckCheckpoint(d *jobgraph.TaskDeployment, id int64, s *jobgraph.TaskStateSnapshot)
	DeclineCheckpoint(d *jobgraph.TaskDeployment, id int64, reason string)
	// EndOfInput tells that the task consumed all input and waits for the final notification.
	EndOfInput(d *jobgraph.TaskDeployment)
}

// OperatorStateful is implemented by instances with non-keyed state (source positions, sink
// committables). The bytes of every old subtask come back through
// OperatorContext.RestoredOperatorState.
type OperatorStateful interface {
	SnapshotOperatorState(checkpointID int64) ([]byte, error)
}

// CheckpointListener is implemented by instances that act when a checkpoint completed (sinks
// committing), including the final notification (FinalCheckpointID).
type CheckpointListener interface {
	NotifyCheckpointComplete(checkpointID int64) error
}

// FinalCommitter is implemented by instances that hold uncommitted output at the end of input:
// the task then waits for the final notification before it finishes.
type FinalCommitter interface {
	NeedsFinalCommit() bool
}

// barrier event: type 3, int64 id, int64 timestamp, u8 flags (bit 0: savepoint), then the
// directory the task files of this checkpoint go to (u16 length + UTF-8).
func encodeBarrier(id, ts int64, savepoint bool, dir string) []byte {
	b := make([]byte, 20, 20+len(dir))
	b[0] = evBarrier
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	binary.BigEndian.PutUint64(b[9:], uint64(ts))
	if savepoint {
		b[17] = 1
	}
	binary.BigEndian.PutUint16(b[18:], uint16(len(dir)))
	return append(b, dir...)
}

type barrier struct {
	id, ts    int64
	savepoint bool
	dir       string
}

// SetAcker sets where checkpoint results go (before Run).
func (t *Task) SetAcker(a Acker) { t.acker = a }

// TriggerCheckpoint starts checkpoint id at a source task: between two polls it snapshots its
// operators and emits the barrier.
func (t *Task) TriggerCheckpoint(id, ts int64, savepoint bool, dir string) {
	t.post(func() {
		if _, ok := t.instances[0].(SourceInstance); !ok || t.finishedInput {
			t.decline(id, DeclineNotReadyPrefix+"not a running source task")
			return
		}
		t.performCheckpoint(barrier{id: id, ts: ts, savepoint: savepoint, dir: dir}, 0)
	})
}

// NotifyCheckpoint tells the task that checkpoint id completed (or was aborted).
func (t *Task) NotifyCheckpoint(id int64, aborted bool) {
	t.post(func() {
		t.notifyBackends(id, aborted)
		if id != FinalCheckpointID {
			t.checkpointDone(id, aborted)
		}
		if aborted {
			return
		}
		for _, inst := range t.instances {
			if l, ok := inst.(CheckpointListener); ok {
				if err := l.NotifyCheckpointComplete(id); err != nil {
					op.Fail(fmt.Errorf("checkpoint %d complete: %w", id, err))
				}
			}
		}
		if id == FinalCheckpointID {
			t.finalCommitted = true
		}
	})
}

// checkpointDone records that checkpoint id was aborted or completed (as told by the
// JobManager). Its barriers, and those of older checkpoints, are ignored from now on: the abort
// may arrive before a barrier that is still on its way, and aligning on that barrier would block
// its channel waiting for barriers that finished or declining sources never send. An alignment
// in progress for id or an older checkpoint ends, its channels unblocked.
func (t *Task) checkpointDone(id int64, aborted bool) {
	if id > t.lastDoneCheckpoint {
		t.lastDoneCheckpoint = id
	}
	if aborted {
		t.cancelAsync(id)
	}
	if t.aligning == nil || t.aligning.id > id {
		return
	}
	if t.aligning.id < id {
		what := "completed"
		if aborted {
			what = "aborted"
		}
		t.decline(t.aligning.id, fmt.Sprintf("%scheckpoint %d superseded during alignment: checkpoint %d %s", DeclineSubsumedPrefix, t.aligning.id, id, what))
	}
	t.endAlignment()
}

// onBarrier handles a barrier from input channel ch (alignment for exactly-once).
func (t *Task) onBarrier(ch int, b barrier) {
	if b.id <= t.lastDoneCheckpoint {
		return // of a checkpoint already aborted or completed
	}
	if t.aligning != nil && b.id < t.aligning.id {
		return // from an aborted, older checkpoint
	}
	if t.aligning != nil && b.id > t.aligning.id {
		// A newer checkpoint overtook the one being aligned: abandon the older one.
		t.decline(t.aligning.id, fmt.Sprintf("%scheckpoint %d overtaken by %d during alignment", DeclineSubsumedPrefix, t.aligning.id, b.id))
		t.endAlignment()
	}
	if t.aligning == nil {
		t.aligning = &b
		t.alignStart = time.Now()
		t.barriersSeen = map[int]bool{}
	}
	t.barriersSeen[ch] = true
	if t.exactlyOnce {
		t.reader.Block(ch)
	}
	t.maybeCompleteAlignment()
}

// maybeCompleteAlignment checkpoints once every channel that has not ended delivered the barrier.
func (t *Task) maybeCompleteAlignment() {
	if t.aligning == nil {
		return
	}
	for ch := 0; ch < t.gate.NumChannels(); ch++ {
		if !t.barriersSeen[ch] && !t.reader.Finished(ch) {
			return
		}
	}
	b := *t.aligning
	align := time.Since(t.alignStart)
	t.performCheckpoint(b, align)
	t.endAlignment()
}

func (t *Task) endAlignment() {
	t.aligning = nil
	t.barriersSeen = nil
	if t.exactlyOnce {
		t.reader.UnblockAll()
	}
}

func (t *Task) decline(id int64, reason string) {
	if t.acker != nil {
		t.acker.DeclineCheckpoint(t.d, id, reason)
	}
}

// performCheckpoint snapshots every operator of the chain (synchronously), forwards the barrier,
// then writes the keyed state files and acknowledges asynchronously. A Pebble backend prepares
// an incremental checkpoint (flush + hard links) here and uploads it asynchronously; Pebble
// savepoints stream the canonical FGKS dump to local disk here. The heap backend only captures
// a copy-on-write snapshot here (O(key groups)): its FGKS bytes are serialized asynchronously,
// for checkpoints and savepoints alike.
func (t *Task) performCheckpoint(b barrier, alignment time.Duration) {
	start := time.Now()
	v := t.d.Vertex
	snap := &jobgraph.TaskStateSnapshot{AlignmentMs: alignment.Milliseconds()}
	keyed := make([]keyedSnapshot, len(t.instances))
	fail := func(msg string) {
		for _, k := range keyed {
			k.release()
		}
		t.decline(b.id, msg)
		t.broadcastBarrier(b)
	}
	for i, inst := range t.instances {
		o := v.Operators[i]
		st := &jobgraph.OperatorSubtaskState{OperatorId: o.Id, Subtask: t.d.Subtask, Parallelism: v.Parallelism, MaxParallelism: v.MaxParallelism}
		snap.Operators = append(snap.Operators, st)
		if s, ok := inst.(OperatorStateful); ok {
			data, err := s.SnapshotOperatorState(b.id)
			if err != nil {
				fail(fmt.Sprintf("snapshot of %s: %v", o.Name, err))
				return
			}
			st.OperatorState = data
		}
		be := t.contexts[i].backend
		if be == nil || !be.Used() {
			continue
		}
		if be.Type() == state.BackendPebble && !b.savepoint && b.dir != "" {
			p, err := be.PreparePebbleCheckpoint(b.id)
			if err != nil {
				fail(fmt.Sprintf("keyed state checkpoint of %s: %v", o.Name, err))
				return
			}
			keyed[i].pebble = p
			continue
		}
		if dir := be.WorkingDir(); dir != "" && b.dir != "" {
			// Pebble savepoint: stream the canonical dump to local disk, upload it later.
			f, err := snapshotToFile(be, filepath.Join(dir, fmt.Sprintf("savepoint-%d.fgks", b.id)))
			if err != nil {
				fail(fmt.Sprintf("keyed state snapshot of %s: %v", o.Name, err))
				return
			}
			keyed[i].file = f
			continue
		}
		if be.Type() == state.BackendPebble { // no checkpoint directory: inline FGKS export
			data, err := be.Snapshot()
			if err != nil {
				fail(fmt.Sprintf("keyed state snapshot of %s: %v", o.Name, err))
				return
			}
			keyed[i].data = data
			continue
		}
		// Heap backend: only capture a copy-on-write view here (O(key groups)); writeAndAck
		// serializes it off the task goroutine.
		hs, err := be.SnapshotAsync()
		if err != nil {
			fail(fmt.Sprintf("keyed state snapshot of %s: %v", o.Name, err))
			return
		}
		keyed[i].heap = hs
	}
	snap.SyncMs = time.Since(start).Milliseconds()
	t.broadcastBarrier(b)
	go t.writeAndAck(t.trackAsync(b.id), b, snap, keyed)
}

// trackAsync registers the asynchronous part of checkpoint id; the returned context ends when
// the JobManager aborts that checkpoint (cancelAsync).
func (t *Task) trackAsync(id int64) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.asyncMu.Lock()
	if t.asyncAborts == nil {
		t.asyncAborts = map[int64]context.CancelFunc{}
	}
	t.asyncAborts[id] = cancel
	t.asyncMu.Unlock()
	return ctx
}

func (t *Task) untrackAsync(id int64) {
	t.asyncMu.Lock()
	cancel := t.asyncAborts[id]
	delete(t.asyncAborts, id)
	t.asyncMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancelAsync stops the asynchronous heap-state writes of aborted checkpoint id, so its
// copy-on-write snapshots are released now rather than after a write nobody will read.
func (t *Task) cancelAsync(id int64) {
	t.asyncMu.Lock()
	cancel := t.asyncAborts[id]
	t.asyncMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// keyedSnapshot is the synchronous result for one operator: a heap backend's copy-on-write
// snapshot (serialized into data by serializeHeap off the task goroutine), FGKS bytes, an FGKS
// file on local disk (Pebble savepoints) or a prepared incremental Pebble checkpoint.
type keyedSnapshot struct {
	heap   *state.HeapSnapshot
	data   []byte
	file   string
	pebble *state.PebbleCheckpoint
}

// release drops what an abandoned checkpoint holds locally.
func (k keyedSnapshot) release() {
	if k.heap != nil {
		k.heap.Release()
	}
	if k.pebble != nil {
		k.pebble.Release()
	}
	if k.file != "" {
		_ = os.Remove(k.file)
	}
}

// snapshotToFile writes the backend's canonical snapshot into a new local file.
func snapshotToFile(be *state.KeyedBackend, name string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return "", fmt.Errorf("local snapshot directory: %w", err)
	}
	f, err := os.Create(name)
	if err != nil {
		return "", fmt.Errorf("local snapshot file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = be.SnapshotTo(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	return name, nil
}

// uploadFile copies local file src to dst in checkpoint storage and removes src.
func uploadFile(ctx context.Context, fsys fs.FileSystem, src, dst string) (int64, error) {
	defer os.Remove(src)
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	w, err := fsys.Create(ctx, dst, fs.CreateOptions{Overwrite: true})
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, in)
	if err != nil {
		return n, errors.Join(err, w.Abort())
	}
	return n, w.Close()
}

// writeHeap streams a heap snapshot into a new file at dst and releases the snapshot (so the
// task stops copying on its behalf) whether or not the write succeeded.
func writeHeap(ctx context.Context, fsys fs.FileSystem, dst string, snap *state.HeapSnapshot) (int64, error) {
	defer snap.Release()
	w, err := fsys.Create(ctx, dst, fs.CreateOptions{Overwrite: true})
	if err != nil {
		return 0, err
	}
	n, err := snap.WriteTo(ctxWriter{ctx, w})
	if err != nil {
		return n, errors.Join(err, w.Abort())
	}
	return n, w.Close()
}

// ctxWriter fails writes once ctx ended (an aborted checkpoint's write stops at its next buffer).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (t *Task) broadcastBarrier(b barrier) {
	ev := encodeBarrier(b.id, b.ts, b.savepoint, b.dir)
	for _, w := range t.writers {
		if err := w.BroadcastEvent(ev); err != nil {
			op.Fail(fmt.Errorf("forwarding checkpoint barrier %d: %w", b.id, err))
		}
	}
}

// writeAndAck runs off the task goroutine: it writes the keyed snapshots and acknowledges.
// aborted ends when the JobManager aborts the checkpoint: heap-state writes then stop (their
// partial files discarded, their snapshots released). Pebble uploads run to their end: their
// new shared files are cleaned up through the late acknowledgement.
func (t *Task) writeAndAck(aborted context.Context, b barrier, snap *jobgraph.TaskStateSnapshot, keyed []keyedSnapshot) {
	defer t.untrackAsync(b.id)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	heapCtx, heapCancel := context.WithTimeout(aborted, 10*time.Minute)
	defer heapCancel()
	for i := range keyed {
		st := snap.Operators[i]
		k, err := keyed[i], error(nil)
		if b.dir == "" {
			// No checkpoint storage: the state travels inline in the acknowledgement.
			k, err = serializeHeap(k, st.OperatorId)
		}
		var h *jobgraph.StateHandle
		var written int64
		if err == nil {
			wctx := ctx
			if k.heap != nil {
				wctx = heapCtx
			}
			h, written, err = t.writeKeyed(wctx, b, st, k)
		}
		if err != nil {
			for _, k := range keyed[i+1:] {
				k.release()
			}
			// Shared files uploaded for the operators before this one are referenced by no
			// acknowledgement: delete them (the checkpoint's own directory goes with its abort).
			t.deleteNewShared(ctx, b, snap.Operators[:i])
			if aborted.Err() != nil {
				t.log.Debug().Int64("checkpoint", b.id).Err(err).Msg("asynchronous part of an aborted checkpoint stopped")
				return
			}
			t.decline(b.id, err.Error())
			return
		}
		st.Keyed = h
		snap.Bytes += written
	}
	for _, st := range snap.Operators {
		snap.Bytes += int64(len(st.OperatorState))
	}
	snap.AsyncMs = time.Since(start).Milliseconds()
	if t.acker != nil {
		t.acker.AckCheckpoint(t.d, b.id, snap)
	}
}

// serializeHeap turns a heap backend's copy-on-write snapshot into FGKS bytes (off the task
// goroutine) and releases it, so the task stops copying on its behalf; other kinds pass as is.
func serializeHeap(k keyedSnapshot, operatorID string) (keyedSnapshot, error) {
	if k.heap == nil {
		return k, nil
	}
	data, err := k.heap.Bytes()
	k.heap.Release()
	k.heap = nil
	if err != nil {
		return k, fmt.Errorf("serializing the keyed state of operator %s: %w", operatorID, err)
	}
	k.data = data
	return k, nil
}

// deleteNewShared removes the shared files that the given operators' pebble-v1 handles
// uploaded for checkpoint b (New), after the checkpoint failed before its acknowledgement, and
// their files written outside the checkpoint's directory (entropy-injected: the abort's
// recursive deletion of the directory does not reach them).
func (t *Task) deleteNewShared(ctx context.Context, b barrier, ops []*jobgraph.OperatorSubtaskState) {
	fsys, dir, err := fs.Get(ctx, b.dir)
	if err != nil {
		return
	}
	sharedDir := checkpoint.SharedDir(dir)
	inDir := strings.TrimRight(b.dir, "/") + "/"
	for _, st := range ops {
		if st.Keyed == nil {
			continue
		}
		if st.Keyed.Format != state.FormatPebble {
			if p := st.Keyed.Path; p != "" && !strings.HasPrefix(p, inDir) {
				t.deleteOutside(ctx, p)
			}
			continue
		}
		for _, f := range st.Keyed.Files {
			if checkpoint.IsAbsolutePath(f.Path) {
				if !f.Shared || f.New {
					t.deleteOutside(ctx, f.Path)
				}
				continue
			}
			if f.Shared && f.New {
				if err := fsys.Delete(ctx, path.Join(sharedDir, f.Path), false); err != nil {
					t.log.Warn().Err(err).Str("file", f.Path).Msg("could not delete a shared file of a failed checkpoint")
				}
			}
		}
	}
}

// writeKeyed writes one operator's keyed state and returns its handle and the bytes written.
func (t *Task) writeKeyed(ctx context.Context, b barrier, st *jobgraph.OperatorSubtaskState, k keyedSnapshot) (*jobgraph.StateHandle, int64, error) {
	switch {
	case k.pebble != nil:
		return t.uploadPebble(ctx, b, st, k.pebble)
	case k.heap == nil && k.data == nil && k.file == "":
		return nil, 0, nil
	case b.dir == "":
		return &jobgraph.StateHandle{Inline: k.data, Size: int64(len(k.data))}, int64(len(k.data)), nil
	}
	path, _, err := t.dataURI(b, strings.TrimRight(b.dir, "/")+"/"+fmt.Sprintf("%s-%d.keyed", st.OperatorId, t.d.Subtask))
	if err != nil {
		k.release()
		return nil, 0, err
	}
	fsys, p, err := fs.Get(ctx, path)
	if err != nil {
		k.release()
		return nil, 0, fmt.Errorf("checkpoint storage %s: %w", path, err)
	}
	if k.file != "" {
		n, err := uploadFile(ctx, fsys, k.file, p)
		if err != nil {
			return nil, 0, fmt.Errorf("writing %s: %w", path, err)
		}
		return &jobgraph.StateHandle{Path: path, Size: n}, n, nil
	}
	if k.heap != nil {
		// Streamed from the copy-on-write snapshot: only one key group is encoded in memory at a
		// time. No temporary name is needed: the file is referenced only once _metadata exists.
		n, err := writeHeap(ctx, fsys, p, k.heap)
		if err != nil {
			return nil, 0, fmt.Errorf("writing the keyed state of operator %s to %s: %w", st.OperatorId, path, err)
		}
		return &jobgraph.StateHandle{Path: path, Size: n}, n, nil
	}
	if err := fs.WriteFileAtomic(ctx, fsys, p, k.data); err != nil {
		return nil, 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return &jobgraph.StateHandle{Path: path, Size: int64(len(k.data))}, int64(len(k.data)), nil
}

// uploadPebble uploads an incremental Pebble checkpoint: new SST files into the job's shared
// directory (the sibling "shared" of the chk-<n> directory), the private files into
// chk-<n>/<operator>-<subtask>/. The handle's paths are relative as in _metadata; with S3
// entropy injection (entropy.go) both directories are injected and the paths absolute URIs.
func (t *Task) uploadPebble(ctx context.Context, b barrier, st *jobgraph.OperatorSubtaskState, p *state.PebbleCheckpoint) (*jobgraph.StateHandle, int64, error) {
	fsys, dir, err := fs.Get(ctx, b.dir)
	if err != nil {
		p.Release()
		return nil, 0, fmt.Errorf("checkpoint storage %s: %w", b.dir, err)
	}
	dir = strings.TrimRight(dir, "/")
	sub := fmt.Sprintf("%s-%d", safeName(st.OperatorId), t.d.Subtask)
	sharedDir, privateDir := checkpoint.SharedDir(dir), path.Join(dir, sub)
	sharedPrefix, privatePrefix := "", sub+"/"
	sharedURI, sharedInjected, err := t.pebbleSharedDir(b, st.OperatorId)
	if err != nil {
		p.Release()
		return nil, 0, err
	}
	privateURI, privateInjected, err := t.dataURI(b, strings.TrimRight(b.dir, "/")+"/"+sub)
	if err != nil {
		p.Release()
		return nil, 0, err
	}
	for _, d := range []struct {
		injected bool
		uri      string
		dir      *string
		prefix   *string
	}{{sharedInjected, sharedURI, &sharedDir, &sharedPrefix}, {privateInjected, privateURI, &privateDir, &privatePrefix}} {
		if !d.injected {
			continue
		}
		dfs, dp, err := fs.Get(ctx, d.uri)
		if err != nil {
			p.Release()
			return nil, 0, fmt.Errorf("checkpoint storage %s: %w", d.uri, err)
		}
		if dfs != fsys {
			p.Release()
			return nil, 0, fmt.Errorf("checkpoint storage: entropy-injected directory %s is on another file system than %s", d.uri, b.dir)
		}
		*d.dir, *d.prefix = dp, d.uri+"/"
	}
	up, err := p.Upload(ctx, fsys, sharedDir, privateDir)
	if err != nil {
		if privateInjected { // outside chk-<n>: the abort's directory deletion does not reach it
			if derr := fsys.Delete(ctx, privateDir, true); derr != nil && !errors.Is(derr, fs.ErrNotExist) {
				t.log.Warn().Err(derr).Str("dir", privateURI).Msg("could not delete the private files of a failed checkpoint upload")
			}
		}
		return nil, 0, fmt.Errorf("keyed state of operator %s: %w", st.OperatorId, err)
	}
	h := &jobgraph.StateHandle{Format: state.FormatPebble, Size: up.Snapshot.StateSize() + up.Descriptor.Size + up.Meta.Size}
	for _, f := range up.Snapshot.Files {
		h.Files = append(h.Files, &jobgraph.StateFileRef{Path: sharedPrefix + f.Name, Size: f.Size, Shared: true, New: f.New})
	}
	for _, f := range append(append([]pebblestore.SnapshotFile(nil), up.Snapshot.Private...), up.Descriptor, up.Meta) {
		h.Files = append(h.Files, &jobgraph.StateFileRef{Path: privatePrefix + f.Name, Size: f.Size})
	}
	t.log.Debug().Int64("checkpoint", b.id).Str("operator", st.OperatorId).Int64("uploaded", up.UploadedBytes).
		Int64("state", h.Size).Msg("incremental keyed state checkpoint")
	return h, up.UploadedBytes, nil
}

// restoreInto creates the operator's keyed backend (state.backend.type) and loads the
// deployment's restore state into the operator context before the operator is created.
func (t *Task) restoreInto(i int, ctx *OperatorContext) (err error) {
	opID := t.d.Vertex.Operators[i].Id
	be, err := t.newBackend(ctx)
	if err != nil {
		return fmt.Errorf("operator %s: %w", opID, err)
	}
	ctx.backend = be
	defer func() {
		if err != nil { // the task fails before its contexts are registered: release here
			if cerr := be.Close(); cerr != nil {
				t.log.Warn().Err(cerr).Str("operator", opID).Msg("releasing keyed state backend")
			}
		}
	}()
	if t.d.RestoreCheckpointId == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var handles []state.RestoreHandle
	for _, st := range t.d.RestoreState {
		if st.OperatorId != opID {
			continue
		}
		ctx.restoredOp = append(ctx.restoredOp, st.OperatorState)
		if st.Keyed == nil {
			continue
		}
		if st.MaxParallelism != 0 && st.MaxParallelism != int32(ctx.MaxParallelism) {
			return fmt.Errorf("operator %s: checkpoint %d has max parallelism %d, the job %d: key groups cannot be remapped (keep pipeline.max-parallelism)",
				opID, t.d.RestoreCheckpointId, st.MaxParallelism, ctx.MaxParallelism)
		}
		kg := serde.KeyGroupRange{Start: int(st.Keyed.KeyGroupStart), End: int(st.Keyed.KeyGroupEnd)}
		if !st.Keyed.KeyGroupsSet {
			kg = ctx.KeyGroups
			if st.Parallelism > 0 {
				kg = keyGroupRange(int(st.MaxParallelism), int(st.Parallelism), int(st.Subtask))
			}
		}
		// Only snapshots whose old key-group range overlaps ours hold data for us.
		if kg.End < ctx.KeyGroups.Start || kg.Start > ctx.KeyGroups.End {
			continue
		}
		h, err := readRestoreHandle(rctx, st.Keyed, kg)
		if err != nil {
			return fmt.Errorf("restoring operator %s from checkpoint %d: %w", opID, t.d.RestoreCheckpointId, err)
		}
		handles = append(handles, h)
	}
	if len(handles) == 0 {
		return nil
	}
	sweepStaleLocalState(t.localStateBase(), true, t.log)
	tmp := filepath.Join(t.localStateBase(), "flink-go-restore-"+t.localStateName(opID))
	defer os.RemoveAll(tmp)
	start := time.Now()
	if err := be.RestoreHandles(rctx, handles, tmp); err != nil {
		return fmt.Errorf("restoring operator %s from checkpoint %d: %w", opID, t.d.RestoreCheckpointId, err)
	}
	t.log.Info().Str("operator", opID).Int64("checkpoint", t.d.RestoreCheckpointId).Str("backend", be.Type()).
		Int("handles", len(handles)).Dur("took", time.Since(start)).Msg("restored keyed state")
	return nil
}

// readRestoreHandle reads what a restore needs of a handle: the FGKS bytes, or a Pebble
// snapshot's descriptor and meta file (its SST files are downloaded by the backend).
func readRestoreHandle(ctx context.Context, sh *jobgraph.StateHandle, kg serde.KeyGroupRange) (state.RestoreHandle, error) {
	h := state.RestoreHandle{Format: sh.Format, KeyGroups: kg, Name: sh.Path}
	switch sh.Format {
	case "", state.FormatHeap:
		h.Data = sh.Inline
		if sh.Path == "" {
			return h, nil
		}
		fsys, p, err := fs.Get(ctx, sh.Path)
		if err != nil {
			return h, fmt.Errorf("%s: %w", sh.Path, err)
		}
		st, err := fsys.Stat(ctx, p)
		if err != nil {
			return h, fmt.Errorf("reading %s: %w", sh.Path, err)
		}
		// Streamed: a savepoint larger than the heap restores into the pebble backend.
		h.Size = st.Size
		h.Open = func(ctx context.Context) (io.ReadCloser, error) {
			f, err := fsys.Open(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", sh.Path, err)
			}
			return f, nil
		}
		return h, nil
	case state.FormatPebble:
		var descPath, metaPath string
		for _, f := range sh.Files {
			switch {
			case f.Shared:
				dir := uriDir(f.Path)
				if h.SharedDir != "" && h.SharedDir != dir {
					return h, fmt.Errorf("pebble snapshot has shared files in two directories (%s, %s)", h.SharedDir, dir)
				}
				h.SharedDir = dir
			case path.Base(f.Path) == state.DescriptorFileName:
				descPath = f.Path
			case path.Base(f.Path) == state.MetaFileName:
				metaPath = f.Path
			}
		}
		if descPath == "" || metaPath == "" {
			return h, fmt.Errorf("pebble-v1 handle without %s or %s (incomplete checkpoint metadata)", state.DescriptorFileName, state.MetaFileName)
		}
		fsys, p, err := fs.Get(ctx, descPath)
		if err != nil {
			return h, fmt.Errorf("%s: %w", descPath, err)
		}
		h.Name = uriDir(descPath)
		h.FS, h.PrivateDir = fsys, path.Dir(p)
		if h.SharedDir != "" {
			if _, h.SharedDir, err = fs.Get(ctx, h.SharedDir); err != nil {
				return h, fmt.Errorf("%s: %w", h.SharedDir, err)
			}
		}
		desc, err := fs.ReadFile(ctx, fsys, p)
		if err != nil {
			return h, fmt.Errorf("reading %s: %w", descPath, err)
		}
		if h.Snapshot, err = pebblestore.UnmarshalSnapshot(desc); err != nil {
			return h, fmt.Errorf("%s: %w", descPath, err)
		}
		_, mp, err := fs.Get(ctx, metaPath)
		if err != nil {
			return h, fmt.Errorf("%s: %w", metaPath, err)
		}
		if h.Meta, err = fs.ReadFile(ctx, fsys, mp); err != nil {
			return h, fmt.Errorf("reading %s: %w", metaPath, err)
		}
		return h, nil
	default:
		return h, fmt.Errorf("keyed state format %q is unknown to this build (written by a newer flink-go?)", sh.Format)
	}
}

// uriDir returns the directory part of a URI or path (everything before the last '/'),
// leaving "scheme://" intact.
func uriDir(u string) string {
	if i := strings.LastIndexByte(u, '/'); i > 0 {
		return u[:i]
	}
	return "."
}

// newBackend creates an operator's keyed backend as state.backend.type says: hashmap (default)
// or pebble (alias rocksdb), the latter in a working directory of its own below
// state.backend.pebble.localdir, the first io.tmp.dirs entry or the system temp directory.
// Pebble checkpoints are incremental unless execution.checkpointing.incremental is explicitly
// false (then every checkpoint uploads all SST files, still as pebble-v1).
func (t *Task) newBackend(ctx *OperatorContext) (*state.KeyedBackend, error) {
	be := state.NewKeyedBackend(ctx.MaxParallelism, ctx.KeyGroups)
	c, err := t.config()
	if err != nil {
		return nil, err
	}
	if configs.Get(c, configs.StateBackend) != configs.BackendPebble {
		return be, nil
	}
	base := configs.Get(c, configs.PebbleLocalDir)
	if base == "" {
		base = t.localStateBase()
	}
	sweepStaleLocalState(base, t.d.RestoreCheckpointId != 0, t.log)
	log := t.log.With().Str("operator", ctx.opID).Logger()
	err = be.UsePebble(state.PebbleConfig{
		Dir:          filepath.Join(base, "flink-go-pebble-"+t.localStateName(ctx.opID)),
		CacheSize:    configs.Get(c, configs.PebbleCacheSize).Bytes(),
		MemTableSize: int(configs.Get(c, configs.PebbleMemtableSize).Bytes()),
		// 0 turns the value cache off (state.PebbleConfig's 0 means "the default").
		ValueCacheSize: valueCacheSize(configs.Get(c, configs.PebbleValueCacheSize).Bytes()),
		Logger:         &log,
		// Incremental unless the user explicitly turned it off (the option's default, false,
		// is Flink's; flink-go's pebble backend is incremental by design).
		FullCheckpoints: configs.IsSet(c, configs.IncrementalCheckpoints) && !configs.Get(c, configs.IncrementalCheckpoints),
	})
	if err != nil {
		return nil, err
	}
	return be, nil
}

// config parses the deployment's configuration.
func (t *Task) config() (*configs.Configuration, error) {
	c := configs.New()
	if err := c.SetAll(t.d.Config, configs.CodeOrigin("job")); err != nil {
		return nil, fmt.Errorf("job configuration: %w", err)
	}
	return c, nil
}

// localStateBase is the first io.tmp.dirs entry, or the system temp directory.
func (t *Task) localStateBase() string {
	if c, err := t.config(); err == nil {
		if dirs := configs.Get(c, configs.TmpDirs); len(dirs) > 0 && dirs[0] != "" {
			return dirs[0]
		}
	}
	return os.TempDir()
}

// localStateName names an operator subtask attempt's local directories uniquely.
func (t *Task) localStateName(opID string) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	job := t.d.JobId
	if len(job) > 8 {
		job = job[:8]
	}
	return fmt.Sprintf("%s-%s-%s-%d-%d-%s", localOwner(), safeName(job), safeName(opID), t.d.Subtask, t.d.Attempt, hex.EncodeToString(r[:]))
}

// Local state directories are named <prefix><host>.<pid>-..., so that a later process on the
// same host can tell the directories of dead processes (a TaskManager killed with -9 cannot
// remove its own) from those of live ones.
var localStatePrefixes = []string{"flink-go-pebble-", "flink-go-restore-"}

// localOwner is "<host>.<pid>" of this process (the host name sanitized: it has no '.').
func localOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s.%d", safeName(host), os.Getpid())
}

var swept sync.Map // base directory -> struct{}: swept once per process

// sweepStaleLocalState removes the local state directories left behind by processes of this
// host that no longer run: once per process and base directory, and on every restore (force:
// a restore usually follows the death of a TaskManager). Directories of other
// hosts (a shared directory) and of live processes are kept; a PID reused by another process
// only keeps a stale directory a while longer.
func sweepStaleLocalState(base string, force bool, log zerolog.Logger) {
	if _, done := swept.LoadOrStore(base, struct{}{}); done && !force {
		return
	}
	for _, dir := range staleLocalState(base, localOwner(), processAlive) {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn().Err(err).Str("dir", dir).Msg("could not remove the local state of a dead process")
			continue
		}
		log.Info().Str("dir", dir).Msg("removed the local state directory of a process that no longer runs")
	}
}

// staleLocalState lists the local state directories below base whose owner ran on this host
// (owner "<host>.<pid>") and is not alive.
func staleLocalState(base, owner string, alive func(pid int) bool) []string {
	host, _, _ := strings.Cut(owner, ".")
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, prefix := range localStatePrefixes {
			rest, ok := strings.CutPrefix(e.Name(), prefix)
			if !ok {
				continue
			}
			h, rest, ok := strings.Cut(rest, ".")
			if !ok || h != host {
				continue
			}
			pidText, _, ok := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if !ok || err != nil || pid <= 0 || alive(pid) {
				continue
			}
			out = append(out, filepath.Join(base, e.Name()))
		}
	}
	return out
}

// processAlive reports whether a process with this PID exists (signal 0; EPERM means it exists
// but belongs to someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// safeName maps an id (operator UIDs are user strings) to a single, portable path element.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// closeBackends releases the operators' keyed backends (Pebble: closes the store and removes
// its working directory). Run calls it when the task ends.
func (t *Task) closeBackends() {
	for _, c := range t.contexts {
		if c == nil || c.backend == nil {
			continue
		}
		if err := c.backend.Close(); err != nil {
			t.log.Warn().Err(err).Str("operator", c.opID).Msg("releasing keyed state backend")
		}
	}
}

// notifyBackends forwards a checkpoint's completion or abort to the keyed backends, so
// incremental checkpoints reference only files of completed checkpoints.
func (t *Task) notifyBackends(id int64, aborted bool) {
	for _, c := range t.contexts {
		if c == nil || c.backend == nil {
			continue
		}
		if aborted {
			c.backend.CheckpointAborted(id)
		} else {
			c.backend.CheckpointComplete(id)
		}
	}
}

func keyGroupRange(maxPar, par, sub int) serde.KeyGroupRange {
	return serde.KeyGroupRangeFor(maxPar, par, sub)
}

// valueCacheSize maps state.backend.pebble.value-cache-size to state.PebbleConfig.ValueCacheSize.
func valueCacheSize(configured int64) int64 {
	if configured == 0 {
		return -1
	}
	return configured
}
