package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state/pebblestore"
)

// Names of the files a Pebble checkpoint writes into its private directory, besides the
// database's own private files (MANIFEST, OPTIONS, markers).
const (
	// DescriptorFileName holds the pebblestore.Snapshot as JSON (MarshalSnapshot).
	DescriptorFileName = "pebble-snapshot.json"
	// MetaFileName holds the state names (index = state id) and the timers, in the FGKS
	// format without value entries.
	MetaFileName = "pebble-meta.fgks"
)

// checkpointTracker remembers which shared files later checkpoints of a store may reference:
// those of the newest checkpoint the task was told completed (docs/formats/checkpoint.md,
// "Shared files"). Files of pending checkpoints are never reused: their upload might be
// aborted and deleted.
type checkpointTracker struct {
	mu          sync.Mutex
	uploaded    map[string]bool // shared names of the last completed checkpoint; never mutated
	uploadedDir string          // the shared directory those names are in
	completed   int64           // id of that checkpoint
	pending     map[int64]pendingUpload
}

type pendingUpload struct {
	names     []string
	sharedDir string
}

// reusable returns the names Upload may reference in sharedDir: none when the last completed
// checkpoint's files live elsewhere (a restore from a snapshot the job does not own, or a
// different checkpoint storage): every file is uploaded again then.
func (t *checkpointTracker) reusable(sharedDir string) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.uploadedDir != sharedDir {
		return nil
	}
	return t.uploaded
}

func (t *checkpointTracker) uploadedFor(id int64, names []string, sharedDir string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = map[int64]pendingUpload{}
	}
	t.pending[id] = pendingUpload{names: names, sharedDir: sharedDir}
}

// complete makes checkpoint id's files reusable and forgets older pending uploads.
func (t *checkpointTracker) complete(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pending[id]; ok && id > t.completed {
		set := make(map[string]bool, len(p.names))
		for _, n := range p.names {
			set[n] = true
		}
		t.uploaded, t.uploadedDir, t.completed = set, p.sharedDir, id
	}
	for pid := range t.pending {
		if pid <= id {
			delete(t.pending, pid)
		}
	}
}

func (t *checkpointTracker) abort(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, id)
}

func (t *checkpointTracker) restored(id int64, names []string, sharedDir string) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.uploaded, t.uploadedDir, t.completed = set, sharedDir, id
}

// CheckpointComplete tells the backend that checkpoint id completed: later incremental
// checkpoints may reference the shared files it uploaded. Safe to call from any goroutine.
func (b *KeyedBackend) CheckpointComplete(id int64) {
	if b.pb != nil {
		b.pb.ckpt.complete(id)
	}
}

// CheckpointAborted tells the backend that checkpoint id was aborted: its files are never
// referenced. Safe to call from any goroutine.
func (b *KeyedBackend) CheckpointAborted(id int64) {
	if b.pb != nil {
		b.pb.ckpt.abort(id)
	}
}

// PebbleCheckpoint is the synchronous half of an incremental checkpoint of a Pebble-mode
// backend: the store's prepared checkpoint plus the state names and timers at that moment.
type PebbleCheckpoint struct {
	id       int64
	pb       *pebbleState
	prepared *pebblestore.PreparedCheckpoint
	meta     []byte
}

// PebbleUpload is the result of PebbleCheckpoint.Upload.
type PebbleUpload struct {
	// Snapshot lists the shared SST files (New: uploaded by this checkpoint) and the store's
	// private files.
	Snapshot *pebblestore.Snapshot
	// Descriptor and Meta are the two extra private files (names in the private directory).
	Descriptor, Meta pebblestore.SnapshotFile
	// UploadedBytes counts what this checkpoint wrote (new shared files and private files).
	UploadedBytes int64
}

// PreparePebbleCheckpoint runs on the task goroutine: it flushes the memtable and hard-links
// the live files (pebblestore.PrepareCheckpoint) and captures the timers. Call Upload (from
// any goroutine) or Release on the result.
func (b *KeyedBackend) PreparePebbleCheckpoint(id int64) (*PebbleCheckpoint, error) {
	if b.pb == nil {
		return nil, errors.New("state: incremental checkpoint of a heap backend (use Snapshot)")
	}
	if err := b.pb.open(); err != nil { // timers only: still a (empty) database
		return nil, err
	}
	p, err := b.pb.store.PrepareCheckpoint(id)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoint %d: %w", id, err)
	}
	return &PebbleCheckpoint{id: id, pb: b.pb, prepared: p, meta: b.metaSnapshot()}, nil
}

// Release drops a prepared checkpoint that will not be uploaded.
func (c *PebbleCheckpoint) Release() {
	_ = c.prepared.Release()
	c.pb.ckpt.abort(c.id)
}

// Upload writes the checkpoint: SST files the last completed checkpoint did not have go to
// sharedDir under fresh names, the store's private files, the descriptor and the meta file to
// privateDir (specific to this checkpoint and operator subtask).
func (c *PebbleCheckpoint) Upload(ctx context.Context, fsys fs.FileSystem, sharedDir, privateDir string) (*PebbleUpload, error) {
	reuse := c.pb.ckpt.reusable(sharedDir)
	if c.pb.cfg.FullCheckpoints {
		reuse = nil
	}
	snap, n, err := c.prepared.Upload(ctx, fsys, sharedDir, privateDir, reuse)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoint %d: %w", c.id, err)
	}
	desc, err := pebblestore.MarshalSnapshot(snap)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoint %d: %w", c.id, err)
	}
	up := &PebbleUpload{Snapshot: snap,
		Descriptor: pebblestore.SnapshotFile{Name: DescriptorFileName, LocalName: DescriptorFileName, Size: int64(len(desc))},
		Meta:       pebblestore.SnapshotFile{Name: MetaFileName, LocalName: MetaFileName, Size: int64(len(c.meta))}}
	for _, f := range []struct {
		name string
		data []byte
	}{{DescriptorFileName, desc}, {MetaFileName, c.meta}} {
		p := fs.Join(privateDir, f.name)
		if err := fs.WriteFileAtomic(ctx, fsys, p, f.data); err != nil {
			return nil, fmt.Errorf("state: checkpoint %d: write %s: %w", c.id, p, err)
		}
	}
	up.UploadedBytes = n + int64(len(desc)) + int64(len(c.meta))
	c.pb.ckpt.uploadedFor(c.id, snap.SharedNames(), sharedDir)
	return up, nil
}

// RestoreHandle is one keyed-state snapshot to restore from (one old subtask's handle).
type RestoreHandle struct {
	// Format is FormatHeap (also "") or FormatPebble.
	Format string
	// Name names the handle in errors (its file or directory).
	Name string
	// KeyGroups is the range the snapshot covers.
	KeyGroups serde.KeyGroupRange
	// Data is the FGKS file (FormatHeap) in memory; or, when Open is set, Open streams the
	// file of Size bytes (restores larger than the heap into the Pebble backend).
	Data []byte
	Open func(ctx context.Context) (io.ReadCloser, error)
	Size int64
	// FormatPebble: the file system and directories of the snapshot's files, its descriptor
	// and its meta file (state names and timers).
	FS         fs.FileSystem
	SharedDir  string
	PrivateDir string
	Snapshot   *pebblestore.Snapshot
	Meta       []byte
}

// RestorePlan says how a backend restores a set of handles.
type RestorePlan int

// Restore plans.
const (
	// RestoreImport decodes every handle (FGKS, or a Pebble snapshot through a temporary
	// restore and export) and keeps the entries of the backend's key groups.
	RestoreImport RestorePlan = iota
	// RestoreDirect downloads the one Pebble snapshot as the backend's database (same
	// key-group range: no filtering needed) and continues its incremental checkpoints.
	RestoreDirect
)

// PlanRestore decides how a backend (Pebble mode or not) owning key groups own restores hs.
func PlanRestore(pebbleMode bool, own serde.KeyGroupRange, hs []RestoreHandle) RestorePlan {
	if pebbleMode && len(hs) == 1 && hs[0].Format == FormatPebble && hs[0].KeyGroups == own {
		return RestoreDirect
	}
	return RestoreImport
}

// RestoreHandles restores the backend from the handles whose key groups overlap its own (see
// PlanRestore). tempDir is a local directory for temporary Pebble restores (heap mode; Pebble
// mode uses its own working directory). Call it before any table is registered.
func (b *KeyedBackend) RestoreHandles(ctx context.Context, hs []RestoreHandle, tempDir string) error {
	if PlanRestore(b.pb != nil, b.keyGroups, hs) == RestoreDirect && b.pb.store == nil && len(b.pb.names) == 0 {
		return b.restoreDirect(ctx, hs[0])
	}
	for i, h := range hs {
		var err error
		switch h.Format {
		case FormatHeap, "":
			if h.Open == nil {
				err = b.Restore(h.Data)
				break
			}
			err = b.restoreStream(ctx, h)
		case FormatPebble:
			dir := tempDir
			if b.pb != nil {
				dir = b.pb.cfg.Dir
			}
			if dir == "" {
				return errors.New("state: restoring a pebble-v1 snapshot needs a local temporary directory (io.tmp.dirs)")
			}
			err = b.importPebble(ctx, h, filepath.Join(dir, fmt.Sprintf("import-%d", i)))
		default:
			err = fmt.Errorf("unknown keyed state format %q (written by a newer flink-go?)", h.Format)
		}
		if err != nil {
			name := h.Name
			if name == "" {
				name = "snapshot"
			}
			return fmt.Errorf("state: restore %s (key groups %d-%d, %s): %w", name, h.KeyGroups.Start, h.KeyGroups.End, formatName(h.Format), err)
		}
	}
	return nil
}

// restoreStream restores an FGKS file read through h.Open.
func (b *KeyedBackend) restoreStream(ctx context.Context, h RestoreHandle) error {
	rc, err := h.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	return b.restoreFGKS(func(v snapVisitor) error { return walkSnapshotStream(rc, h.Size, v) })
}

func formatName(f string) string {
	if f == "" {
		return FormatHeap
	}
	return f
}

func (b *KeyedBackend) restoreDirect(ctx context.Context, h RestoreHandle) error {
	s, err := pebblestore.Restore(ctx, h.FS, h.Snapshot, h.SharedDir, h.PrivateDir, b.pb.options())
	if err != nil {
		return fmt.Errorf("state: restore pebble snapshot: %w", err)
	}
	b.pb.store = s
	err = walkSnapshot(h.Meta, snapVisitor{
		names: func(names []string) error {
			for i, n := range names {
				id, err := b.pb.idFor(n)
				if err != nil {
					return err
				}
				if int(id) != i {
					return fmt.Errorf("%w: state %q listed twice", ErrCorruptSnapshot, n)
				}
			}
			return nil
		},
		value: func(int, int, []byte, []byte) error {
			return fmt.Errorf("%w: the meta file of a pebble snapshot holds values", ErrCorruptSnapshot)
		},
		timer: func(kg int, kind byte, ts int64, key, ns []byte) error {
			if b.owns(kg) {
				b.addTimer(kind, ts, key, ns)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("state: restore pebble snapshot: meta file: %w", err)
	}
	b.pb.ckpt.restored(h.Snapshot.ID, h.Snapshot.SharedNames(), h.SharedDir)
	return nil
}

// pebbleRestoreFGKS imports the entries of an FGKS snapshot in this backend's key groups into
// the store, mapping the snapshot's state names to this backend's ids.
func (b *KeyedBackend) pebbleRestoreFGKS(walk func(snapVisitor) error) error {
	if err := b.pb.open(); err != nil {
		return err
	}
	var walkErr error
	err := b.pb.store.Import(func(yield func(k, v []byte) bool) {
		var remap []byte
		walkErr = walk(snapVisitor{
			names: func(names []string) (err error) { remap, err = b.pb.remap(names); return err },
			value: func(kg, si int, key, val []byte) error {
				if !b.owns(kg) {
					return nil
				}
				if !yield(b.pb.entryKey(kg, remap[si], key, nil), val) {
					return errStopWalk
				}
				return nil
			},
			timer: func(kg int, kind byte, ts int64, key, ns []byte) error {
				if b.owns(kg) {
					b.addTimer(kind, ts, key, ns)
				}
				return nil
			},
		})
	})
	if walkErr != nil && !errors.Is(walkErr, errStopWalk) {
		return walkErr
	}
	return err
}

// remap returns this backend's ids for a snapshot's state names (index = the snapshot's id).
func (p *pebbleState) remap(names []string) ([]byte, error) {
	out := make([]byte, len(names))
	for i, n := range names {
		id, err := p.idFor(n)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// importPebble restores a Pebble snapshot into a temporary store in dir and copies the entries
// of this backend's key groups (and the timers) into the backend: into its store in Pebble
// mode, as pending entries in heap mode.
func (b *KeyedBackend) importPebble(ctx context.Context, h RestoreHandle, dir string) (err error) {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove stale temporary directory %s: %w", dir, err)
	}
	tmp, err := pebblestore.Restore(ctx, h.FS, h.Snapshot, h.SharedDir, h.PrivateDir, pebblestore.Options{Dir: dir})
	if err != nil {
		return fmt.Errorf("temporary restore into %s: %w", dir, err)
	}
	defer func() {
		cerr := tmp.Close()
		if rerr := os.RemoveAll(dir); cerr == nil {
			cerr = rerr
		}
		if err == nil && cerr != nil {
			err = fmt.Errorf("release temporary restore %s: %w", dir, cerr)
		}
	}()
	var names []string
	err = walkSnapshot(h.Meta, snapVisitor{
		names: func(n []string) error { names = n; return nil },
		value: func(int, int, []byte, []byte) error {
			return fmt.Errorf("%w: the meta file of a pebble snapshot holds values", ErrCorruptSnapshot)
		},
		timer: func(kg int, kind byte, ts int64, key, ns []byte) error {
			if b.owns(kg) {
				b.addTimer(kind, ts, key, ns)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("meta file: %w", err)
	}
	lo, hi := max(b.keyGroups.Start, h.KeyGroups.Start), min(b.keyGroups.End, h.KeyGroups.End)
	if lo > hi {
		return nil
	}
	start := []byte{byte(lo >> 8), byte(lo)}
	end := pebblestore.PrefixEnd([]byte{byte(hi >> 8), byte(hi)})
	check := func(k []byte) (int, error) {
		if len(k) < 3 || int(k[2]) >= len(names) {
			return 0, fmt.Errorf("%w: pebble key %x has no state id of the meta file's %d states", ErrCorruptSnapshot, k, len(names))
		}
		return int(k[0])<<8 | int(k[1]), nil
	}
	if b.pb == nil {
		return tmp.ExportRange(start, end, func(k, v []byte) error {
			kg, err := check(k)
			if err != nil {
				return err
			}
			return b.heapRestoreValue(names[k[2]], kg, k[3:], v)
		})
	}
	if err := b.pb.open(); err != nil {
		return err
	}
	remap, err := b.pb.remap(names)
	if err != nil {
		return err
	}
	var exportErr error
	var key []byte
	err = b.pb.store.Import(func(yield func(k, v []byte) bool) {
		exportErr = tmp.ExportRange(start, end, func(k, v []byte) error {
			if _, err := check(k); err != nil {
				return err
			}
			key = append(key[:0], k...)
			key[2] = remap[k[2]]
			if !yield(key, v) {
				return errStopWalk
			}
			return nil
		})
	})
	if exportErr != nil && !errors.Is(exportErr, errStopWalk) {
		return exportErr
	}
	return err
}
