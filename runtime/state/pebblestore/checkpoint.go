package pebblestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flink-go/flink-go/fs"
)

// SnapshotFile is one file of a checkpoint in checkpoint storage.
type SnapshotFile struct {
	// Name is the file's name in its storage directory (sharedDir for SST files, privateDir
	// for the rest). A shared file gets a new, unique name each time it is uploaded:
	// "<16 random hex digits>-<LocalName>" (Pebble numbers files per database, and a database
	// restored from an older checkpoint reuses numbers that later checkpoints already used).
	Name string `json:"name"`
	// LocalName is the file's name inside the database directory (e.g. "000123.sst").
	LocalName string `json:"local"`
	// Size is the file's length in bytes.
	Size int64 `json:"size"`
	// Checksum is the CRC-32C (Castagnoli) of the file's bytes.
	Checksum uint32 `json:"crc32c"`
	// New marks a shared file uploaded by this checkpoint (not referenced from an earlier
	// one): the acknowledgement's "New" flag. Private files are always new.
	New bool `json:"new,omitempty"`
}

// Snapshot is what a checkpoint records for one store: enough to rebuild the database with
// Restore.
type Snapshot struct {
	// ID is the checkpoint id passed to PrepareCheckpoint.
	ID int64 `json:"id"`
	// Files are the immutable SST (and blob) files, kept in sharedDir and shared by every
	// checkpoint of the store that still references them. Sorted by Name.
	Files []SnapshotFile `json:"files"`
	// Private are the files of this checkpoint alone (MANIFEST, OPTIONS, format markers),
	// kept in privateDir. Sorted by Name.
	Private []SnapshotFile `json:"private"`
}

// SharedNames returns the names of the snapshot's shared files: what the caller adds to the
// uploaded set once the checkpoint is complete.
func (s *Snapshot) SharedNames() []string {
	names := make([]string, len(s.Files))
	for i, f := range s.Files {
		names[i] = f.Name
	}
	return names
}

// StateSize is the total size of the database the snapshot describes (shared and private).
func (s *Snapshot) StateSize() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Size
	}
	for _, f := range s.Private {
		n += f.Size
	}
	return n
}

// localFile is a file of a prepared checkpoint directory.
type localFile struct {
	name   string
	size   int64
	shared bool
}

// isShared reports whether a database file is immutable and content-addressed by its name, so
// that checkpoints can share it: SST tables and blob (value-separation) files.
func isShared(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// PreparedCheckpoint is the synchronous half of a checkpoint: hard links to the database's
// live files at the checkpoint, in a local directory that Upload reads and then removes.
type PreparedCheckpoint struct {
	id    int64
	dir   string
	files []localFile
	store *Store

	used        atomic.Bool // Upload was called
	releaseOnce sync.Once
	released    atomic.Bool
	releaseErr  error
}

// ID returns the checkpoint id.
func (p *PreparedCheckpoint) ID() int64 { return p.id }

// PrepareCheckpoint is the synchronous part of checkpoint id: it flushes the memtable and
// takes Pebble's checkpoint (hard links to the live files plus copies of the MANIFEST and
// OPTIONS) into o.Dir/checkpoints/chk-<id>. Writes after it returns are not part of the
// checkpoint. Call Upload (from any goroutine) or Release on the result.
func (s *Store) PrepareCheckpoint(id int64) (*PreparedCheckpoint, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	start := time.Now()
	if err := s.flushCache(); err != nil {
		return nil, fmt.Errorf("pebblestore: checkpoint %d: %w", id, err)
	}
	if err := s.db.Flush(); err != nil {
		return nil, fmt.Errorf("pebblestore: checkpoint %d: flush memtable: %w", id, err)
	}
	parent := s.opts.checkpointsDir()
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestore: checkpoint %d: create %s: %w", id, parent, err)
	}
	dir := filepath.Join(parent, "chk-"+strconv.FormatInt(id, 10))
	// A directory left by an earlier attempt at the same id (e.g. a crash during upload).
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("pebblestore: checkpoint %d: remove stale %s: %w", id, dir, err)
	}
	if err := s.db.Checkpoint(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pebblestore: checkpoint %d: link database files into %s: %w", id, dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pebblestore: checkpoint %d: list %s: %w", id, dir, err)
	}
	p := &PreparedCheckpoint{id: id, dir: dir, store: s}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("pebblestore: checkpoint %d: stat %s: %w", id, e.Name(), err)
		}
		p.files = append(p.files, localFile{name: e.Name(), size: info.Size(), shared: isShared(e.Name())})
	}
	s.log.Debug().Int64("checkpoint", id).Int("files", len(p.files)).
		Dur("took", time.Since(start)).Msg("prepared checkpoint")
	return p, nil
}

// Release removes the prepared checkpoint's local directory. Upload calls it; call it directly
// only for a checkpoint that is abandoned before its upload. It is idempotent.
func (p *PreparedCheckpoint) Release() error {
	p.releaseOnce.Do(func() {
		p.released.Store(true)
		if err := os.RemoveAll(p.dir); err != nil {
			p.releaseErr = fmt.Errorf("pebblestore: checkpoint %d: remove %s: %w", p.id, p.dir, err)
		}
	})
	return p.releaseErr
}

// plannedFile is one step of an upload plan: upload the file, or reference entry (already in
// storage, with its checksum).
type plannedFile struct {
	local  localFile
	entry  SnapshotFile // Name and LocalName always set; Size and Checksum once known
	upload bool
}

// planUpload decides, without I/O, what Upload does with each file. A shared file is
// referenced when one of the names it is known under (known: local name -> storage entries of
// this store's earlier uploads and of its restore) is in uploaded; otherwise it is uploaded
// under a new name made of prefix and its local name. Private files are always uploaded.
func planUpload(files []localFile, known map[string][]SnapshotFile, uploaded map[string]bool, prefix string) []plannedFile {
	plan := make([]plannedFile, 0, len(files))
	for _, f := range files {
		if !f.shared {
			plan = append(plan, plannedFile{
				local:  f,
				entry:  SnapshotFile{Name: f.name, LocalName: f.name, Size: f.size, New: true},
				upload: true,
			})
			continue
		}
		reused := false
		for _, e := range known[f.name] {
			// The size check guards against a stale entry (impossible for immutable
			// files with unique numbers, but cheap).
			if uploaded[e.Name] && e.Size == f.size {
				e.New = false
				plan = append(plan, plannedFile{local: f, entry: e})
				reused = true
				break
			}
		}
		if !reused {
			plan = append(plan, plannedFile{
				local:  f,
				entry:  SnapshotFile{Name: prefix + "-" + f.name, LocalName: f.name, Size: f.size, New: true},
				upload: true,
			})
		}
	}
	return plan
}

// Upload is the asynchronous part of the checkpoint: it copies every SST file whose storage
// name is not in uploaded into sharedDir under a fresh name, copies the private files into
// privateDir, removes the local checkpoint directory, and returns the Snapshot and the number
// of bytes uploaded.
//
// uploaded is the set of shared file names (Snapshot.SharedNames) of this store's previous
// completed checkpoints that are still retained; Upload only reads it. privateDir should be
// specific to this checkpoint and store. Upload may run while the task goes on using the store.
func (p *PreparedCheckpoint) Upload(ctx context.Context, fsys fs.FileSystem, sharedDir, privateDir string, uploaded map[string]bool) (*Snapshot, int64, error) {
	if p.used.Swap(true) || p.released.Load() {
		return nil, 0, fmt.Errorf("pebblestore: checkpoint %d: upload of a prepared checkpoint that was already uploaded or released", p.id)
	}
	defer func() { _ = p.Release() }()
	if fsys == nil {
		return nil, 0, fmt.Errorf("pebblestore: checkpoint %d: upload: nil file system", p.id)
	}
	s := p.store
	start := time.Now()
	prefix, err := randomHex(8)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	plan := planUpload(p.files, s.known, uploaded, prefix)
	s.mu.Unlock()

	var (
		mu            sync.Mutex
		uploadedBytes int64
	)
	jobs := make([]func(context.Context) error, len(plan))
	for i := range plan {
		pf := &plan[i]
		if !pf.upload {
			continue
		}
		src := filepath.Join(p.dir, pf.local.name)
		dir := privateDir
		if pf.local.shared {
			dir = sharedDir
		}
		dst := fs.Join(dir, pf.entry.Name)
		shared := pf.local.shared
		jobs[i] = func(ctx context.Context) error {
			sum, n, err := uploadFile(ctx, fsys, src, dst, shared)
			if err != nil {
				return fmt.Errorf("pebblestore: checkpoint %d: upload %s to %s: %w", p.id, pf.local.name, dst, err)
			}
			if n != pf.local.size {
				return fmt.Errorf("pebblestore: checkpoint %d: upload %s: read %d bytes, the file had %d when prepared (local checkpoint directory modified?)", p.id, src, n, pf.local.size)
			}
			pf.entry.Checksum, pf.entry.Size = sum, n
			mu.Lock()
			uploadedBytes += n
			mu.Unlock()
			return nil
		}
	}
	if err := runParallel(ctx, s.opts.TransferConcurrency, jobs); err != nil {
		return nil, 0, err
	}

	snap := &Snapshot{ID: p.id}
	live := make(map[string]bool)
	for _, pf := range plan {
		if pf.local.shared {
			snap.Files = append(snap.Files, pf.entry)
			live[pf.entry.LocalName] = true
		} else {
			snap.Private = append(snap.Private, pf.entry)
		}
	}
	sort.Slice(snap.Files, func(i, j int) bool { return snap.Files[i].Name < snap.Files[j].Name })
	sort.Slice(snap.Private, func(i, j int) bool { return snap.Private[i].Name < snap.Private[j].Name })

	// Remember the new uploads; forget files compacted away since (a database never reuses a
	// file number while it runs, so they cannot come back).
	s.mu.Lock()
	if p.id >= s.prunedAt { // an older checkpoint finishing late must not prune newer files
		s.prunedAt = p.id
		for name := range s.known {
			if !live[name] {
				delete(s.known, name)
			}
		}
	}
	for _, pf := range plan {
		if pf.local.shared && pf.upload {
			e := pf.entry
			e.New = false
			s.known[e.LocalName] = append(s.known[e.LocalName], e)
		}
	}
	s.mu.Unlock()

	if err := p.Release(); err != nil {
		s.log.Warn().Err(err).Msg("could not remove local checkpoint directory")
	}
	s.log.Info().Int64("checkpoint", p.id).Int64("uploadedBytes", uploadedBytes).
		Int64("stateBytes", snap.StateSize()).Int("sharedFiles", len(snap.Files)).
		Dur("took", time.Since(start)).Msg("uploaded checkpoint")
	return snap, uploadedBytes, nil
}

// uploadFile copies local file src to dst and returns its CRC-32C and size. Shared files are
// written straight under their final name, without a temporary name and a rename (which object
// stores emulate with a copy): the name is fresh for this upload, so no other writer uses it,
// and no snapshot references the file before Upload returns, after the file's Close made it
// durable. A failed copy is aborted (the partial file removed); a process that dies mid-copy
// leaves an unreferenced file, like any aborted checkpoint. Shared files are never overwritten
// (a name collision is a bug and fails); private files are, so a checkpoint id can be retried
// into the same directory.
func uploadFile(ctx context.Context, fsys fs.FileSystem, src, dst string, shared bool) (uint32, int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	r := io.TeeReader(&ctxReader{ctx: ctx, r: f}, h)
	n, err := fs.CopyFrom(ctx, fsys, dst, r, fs.CreateOptions{Overwrite: !shared})
	return h.Sum32(), n, err
}

// Restore downloads the files of snap (SST files from sharedDir, the rest from privateDir)
// into o.Dir/db, checking each file's size and checksum, and opens the store. o.Dir/db must not
// hold a database. A missing, truncated or corrupted file fails the restore with an error that
// names it; nothing is left in o.Dir/db then.
func Restore(ctx context.Context, fsys fs.FileSystem, snap *Snapshot, sharedDir, privateDir string, o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if fsys == nil {
		return nil, errors.New("pebblestore: restore: nil file system")
	}
	if err := validateSnapshot(snap); err != nil {
		return nil, err
	}
	start := time.Now()
	dbDir := o.dbDir()
	if entries, err := os.ReadDir(dbDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d into %s: the directory already holds a database; remove it first", snap.ID, dbDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d: read %s: %w", snap.ID, dbDir, err)
	}
	stage := o.restoreDir()
	if err := os.RemoveAll(stage); err != nil {
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d: remove stale %s: %w", snap.ID, stage, err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d: create %s: %w", snap.ID, stage, err)
	}
	var jobs []func(context.Context) error
	var total int64
	add := func(dir string, f SnapshotFile) {
		src := fs.Join(dir, f.Name)
		dst := filepath.Join(stage, f.LocalName)
		total += f.Size
		jobs = append(jobs, func(ctx context.Context) error {
			if err := downloadFile(ctx, fsys, src, dst, f); err != nil {
				return fmt.Errorf("pebblestore: restore checkpoint %d: file %s (database file %s): %w", snap.ID, src, f.LocalName, err)
			}
			return nil
		})
	}
	for _, f := range snap.Files {
		add(sharedDir, f)
	}
	for _, f := range snap.Private {
		add(privateDir, f)
	}
	if err := runParallel(ctx, o.TransferConcurrency, jobs); err != nil {
		_ = os.RemoveAll(stage)
		return nil, err
	}
	_ = os.Remove(dbDir) // an empty directory, if any
	if err := os.Rename(stage, dbDir); err != nil {
		_ = os.RemoveAll(stage)
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d: move %s to %s: %w", snap.ID, stage, dbDir, err)
	}
	known := make(map[string][]SnapshotFile, len(snap.Files))
	for _, f := range snap.Files {
		f.New = false
		known[f.LocalName] = []SnapshotFile{f}
	}
	s, err := openDB(o, known)
	if err != nil {
		_ = os.RemoveAll(dbDir)
		return nil, fmt.Errorf("pebblestore: restore checkpoint %d: %w", snap.ID, err)
	}
	s.log.Info().Int64("checkpoint", snap.ID).Int64("bytes", total).Int("files", len(jobs)).
		Dur("took", time.Since(start)).Msg("restored store")
	return s, nil
}

// validateSnapshot rejects snapshots that cannot describe a database or whose names would
// escape the directories they are joined to.
func validateSnapshot(snap *Snapshot) error {
	if snap == nil {
		return errors.New("pebblestore: nil snapshot")
	}
	seen := map[string]bool{}
	manifest := false
	check := func(f SnapshotFile, shared bool) error {
		for _, n := range []string{f.Name, f.LocalName} {
			if n == "" || n == "." || n == ".." || strings.ContainsAny(n, `/\`) {
				return fmt.Errorf("pebblestore: snapshot of checkpoint %d: invalid file name %q in snapshot", snap.ID, n)
			}
		}
		if f.Size < 0 {
			return fmt.Errorf("pebblestore: snapshot of checkpoint %d: file %s has negative size %d", snap.ID, f.Name, f.Size)
		}
		if shared != isShared(f.LocalName) {
			return fmt.Errorf("pebblestore: snapshot of checkpoint %d: file %s is listed as shared=%v, its name says otherwise", snap.ID, f.LocalName, shared)
		}
		if seen[f.LocalName] {
			return fmt.Errorf("pebblestore: snapshot of checkpoint %d: database file %s listed twice", snap.ID, f.LocalName)
		}
		seen[f.LocalName] = true
		if strings.HasPrefix(f.LocalName, "MANIFEST-") {
			manifest = true
		}
		return nil
	}
	for _, f := range snap.Files {
		if err := check(f, true); err != nil {
			return err
		}
	}
	for _, f := range snap.Private {
		if err := check(f, false); err != nil {
			return err
		}
	}
	if !manifest {
		return fmt.Errorf("pebblestore: snapshot of checkpoint %d: snapshot lists no MANIFEST file: not a store snapshot, or its private files were lost", snap.ID)
	}
	return nil
}

// downloadFile copies src to the local file dst and checks size and checksum against f.
func downloadFile(ctx context.Context, fsys fs.FileSystem, src, dst string, f SnapshotFile) error {
	in, err := fsys.Open(ctx, src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("missing from checkpoint storage (deleted too early?): %w", err)
		}
		return fmt.Errorf("open: %w", err)
	}
	// A read blocked in the file system (a remote store that stopped answering) does not see
	// ctxReader's check: closing the reader when the context ends unblocks it, so a restore
	// with a deadline or a cancelled task never hangs here.
	var closeOnce sync.Once
	closeIn := func() { closeOnce.Do(func() { _ = in.Close() }) }
	stop := context.AfterFunc(ctx, closeIn)
	defer func() {
		stop()
		closeIn()
	}()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create local copy %s: %w", dst, err)
	}
	h := crc32.New(castagnoli)
	// Read one byte past the expected size to notice files that grew.
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(&ctxReader{ctx: ctx, r: in}, f.Size+1))
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close local copy %s: %w", dst, cerr)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return fmt.Errorf("download: %w", err)
	}
	if n != f.Size {
		return fmt.Errorf("size mismatch: storage has %s bytes, snapshot records %d (truncated or replaced file)", sizeString(n, f.Size), f.Size)
	}
	if sum := h.Sum32(); sum != f.Checksum {
		return fmt.Errorf("checksum mismatch: CRC-32C %08x, snapshot records %08x (corrupted file)", sum, f.Checksum)
	}
	return nil
}

func sizeString(n, want int64) string {
	if n > want {
		return "more than " + strconv.FormatInt(want, 10)
	}
	return strconv.FormatInt(n, 10)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// runParallel runs the non-nil jobs with at most n at a time and returns the first error; a
// failure cancels the context of the jobs still running and skips those not started.
func runParallel(ctx context.Context, n int, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, job := range jobs {
		if job == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := job(ctx); err != nil {
				once.Do(func() { first = err })
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pebblestore: random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// MarshalSnapshot encodes snap as the `pebble-v1` JSON descriptor (docs/formats/pebble-state.md),
// for the backend to keep next to the checkpoint's private files.
func MarshalSnapshot(snap *Snapshot) ([]byte, error) {
	if snap == nil {
		return nil, errors.New("pebblestore: marshal snapshot: nil snapshot")
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: marshal snapshot %d: %w", snap.ID, err)
	}
	return data, nil
}

// UnmarshalSnapshot decodes a descriptor written by MarshalSnapshot and checks it as Restore
// does (file names, sizes, a MANIFEST present). Unknown fields are an error: a descriptor from a
// newer format must not be half-understood.
func UnmarshalSnapshot(data []byte) (*Snapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var snap Snapshot
	if err := dec.Decode(&snap); err != nil {
		return nil, fmt.Errorf("pebblestore: decode snapshot descriptor (not a pebble-v1 descriptor?): %w", err)
	}
	if dec.More() {
		return nil, errors.New("pebblestore: decode snapshot descriptor: trailing data after the JSON object")
	}
	if err := validateSnapshot(&snap); err != nil {
		return nil, err
	}
	return &snap, nil
}
