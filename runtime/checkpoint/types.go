package checkpoint

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/flink-go/flink-go/runtime/serde"
)

// TaskID names one subtask of a job vertex (a chain of operators).
type TaskID struct {
	Vertex  string
	Subtask int
}

// String formats t as "vertex#subtask".
func (t TaskID) String() string { return fmt.Sprintf("%s#%d", t.Vertex, t.Subtask) }

// StateFile references one file of a snapshot.
//
// Path is relative and slash-separated, without "." or ".." elements. A file
// that is not Shared lives in the checkpoint's own directory (chk-<n>/ or the
// savepoint directory) and is deleted with it. A Shared file lives in the job's
// shared directory (<job dir>/shared/) and may be referenced by several
// retained checkpoints (incremental checkpoints); it is deleted when the last
// retained checkpoint referencing it is discarded (see SharedRegistry).
// Savepoints never reference shared files: they are self-contained.
//
// A checkpoint's Path may instead be an absolute URI (IsAbsolutePath): a file
// written outside those directories, as S3 entropy injection does (the marker
// in the data path replaced by random characters while _metadata lives at
// the path without it). Such exclusive files are not deleted with the
// checkpoint's directory: the Coordinator lists them for deletion explicitly.
// Savepoints never hold absolute paths (they must stay relocatable).
//
// New matters only in acknowledgements (it is not serialized): a task sets it
// on a shared file it uploaded for this checkpoint (under a fresh, unique
// name) and leaves it false on a shared file it reuses from a completed
// checkpoint it was notified of. The coordinator rejects an acknowledgement
// that reuses a shared file no retained or pending checkpoint references any
// more (it may already be deleted), instead of completing a checkpoint that
// could not be restored.
type StateFile struct {
	Path   string
	Size   int64
	Shared bool
	New    bool
}

// KeyedState is the keyed state of one operator subtask written by one state
// backend: the key groups it covers and the files that hold them.
//
// Format names the backend's layout (e.g. "heap-v1", "pebble-v1") so a restore
// picks the matching reader. For single-file formats Offsets holds, for each
// key group in KeyGroups (in order), the byte offset in Files[0] where that key
// group's data starts, so a restore at another parallelism reads only the key
// groups it owns. Formats with several files (an incremental Pebble snapshot:
// SST files) leave Offsets empty; the restoring backend filters by key group.
type KeyedState struct {
	KeyGroups serde.KeyGroupRange
	Format    string
	Files     []StateFile
	Offsets   []int64
}

// OperatorSubtaskState is what one operator of a task's chain snapshotted.
type OperatorSubtaskState struct {
	// OperatorID is the operator's stable id from the job graph.
	OperatorID string
	// MaxParallelism is the operator's max parallelism (number of key groups)
	// at the time of the snapshot.
	MaxParallelism int
	// Keyed holds the keyed state handles (usually one per backend).
	Keyed []KeyedState
	// Files holds non-keyed (operator) state files.
	Files []StateFile
	// SourceReader is the source reader's snapshot (splits and offsets),
	// inline; nil for operators that are not sources.
	SourceReader []byte
	// Committables are a two-phase-commit sink's pre-committed transactions,
	// inline; committed when the checkpoint completes, re-committed on restore.
	Committables [][]byte
}

// TaskStateHandle is what a task acknowledges for a checkpoint: the state of
// every operator in its chain (stateless operators included, with no state)
// plus figures for the statistics.
type TaskStateHandle struct {
	Operators []OperatorSubtaskState
	// AlignmentDuration is how long the task waited for barriers to align,
	// in nanoseconds (a time.Duration's value).
	AlignmentDuration int64
	// BytesWritten is what this checkpoint uploaded for the task (for an
	// incremental checkpoint, the new files only).
	BytesWritten int64
}

// SubtaskState is the state one subtask of an operator left in a checkpoint.
type SubtaskState struct {
	Subtask      int
	Keyed        []KeyedState
	Files        []StateFile
	SourceReader []byte
	Committables [][]byte
}

// OperatorState is the state of one operator across its subtasks.
type OperatorState struct {
	OperatorID     string
	Parallelism    int
	MaxParallelism int
	// Subtasks are sorted by Subtask; subtasks without any state are omitted.
	Subtasks []SubtaskState
}

// Completed is a completed checkpoint or savepoint: what _metadata holds.
type Completed struct {
	JobID string
	ID    int64
	// Timestamp is the trigger time in Unix milliseconds; CompletedAt the time
	// the last acknowledgement arrived.
	Timestamp   int64
	CompletedAt int64
	Savepoint   bool
	// Kind is the savepoint kind (SavepointNone for checkpoints).
	Kind SavepointKind
	// Operators are sorted by OperatorID.
	Operators []*OperatorState
	// ExternalPath is the checkpoint's directory (URI or path) where it is or
	// will be stored. It is not part of the serialized metadata: the reader
	// sets it to the directory it read from, so relative file paths resolve.
	ExternalPath string
	// BytesWritten is the sum of the acknowledged BytesWritten (statistics;
	// not serialized).
	BytesWritten int64
}

// Operator returns the state of one operator, or nil.
func (c *Completed) Operator(id string) *OperatorState {
	i := sort.Search(len(c.Operators), func(i int) bool { return c.Operators[i].OperatorID >= id })
	if i < len(c.Operators) && c.Operators[i].OperatorID == id {
		return c.Operators[i]
	}
	return nil
}

// StateSize is the total size of all referenced files (each counted once)
// plus inline bytes.
func (c *Completed) StateSize() int64 {
	var n int64
	for _, f := range c.Files() {
		n += f.Size
	}
	for _, op := range c.Operators {
		for _, st := range op.Subtasks {
			n += int64(len(st.SourceReader))
			for _, b := range st.Committables {
				n += int64(len(b))
			}
		}
	}
	return n
}

// Files returns every file the checkpoint references, sorted, shared files
// listed once.
func (c *Completed) Files() []StateFile {
	seen := map[StateFile]bool{}
	var out []StateFile
	c.eachFile(func(f StateFile) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Shared != out[j].Shared {
			return !out[i].Shared
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// SharedFiles returns the distinct paths of the shared files, sorted.
func (c *Completed) SharedFiles() []string {
	seen := map[string]bool{}
	var out []string
	c.eachFile(func(f StateFile) {
		if f.Shared && !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	})
	sort.Strings(out)
	return out
}

func (c *Completed) eachFile(fn func(StateFile)) {
	for _, op := range c.Operators {
		for _, st := range op.Subtasks {
			for _, k := range st.Keyed {
				for _, f := range k.Files {
					fn(f)
				}
			}
			for _, f := range st.Files {
				fn(f)
			}
		}
	}
}

// FilePath resolves a file of the checkpoint against its ExternalPath: an
// exclusive file below the checkpoint directory, a shared file below the
// job's shared directory (a sibling of chk-<n>).
func (c *Completed) FilePath(f StateFile) string {
	return ResolveFile(c.ExternalPath, f)
}

// ResolveFile resolves a file referenced by the checkpoint stored in chkDir
// (a URI or path): exclusive files are below chkDir, shared files below
// chkDir/../shared; an absolute URI (an entropy-injected file) stands for
// itself.
func ResolveFile(chkDir string, f StateFile) string {
	if IsAbsolutePath(f.Path) {
		return f.Path
	}
	if f.Shared {
		return joinURI(parentURI(chkDir), SharedDirName, f.Path)
	}
	return joinURI(chkDir, f.Path)
}

// eachFile calls fn for every file of a task handle.
func (h *TaskStateHandle) eachFile(fn func(StateFile)) {
	for _, op := range h.Operators {
		for _, k := range op.Keyed {
			for _, f := range k.Files {
				fn(f)
			}
		}
		for _, f := range op.Files {
			fn(f)
		}
	}
}

// ErrInvalidHandle marks a state handle that breaks the rules of this package
// (bad path, inconsistent key groups, ...).
var ErrInvalidHandle = errors.New("invalid state handle")

// IsAbsolutePath reports whether a state file path is an absolute URI
// ("scheme://authority/path") rather than a path relative to the checkpoint's
// directories.
func IsAbsolutePath(p string) bool {
	i := strings.Index(p, "://")
	if i <= 0 {
		return false
	}
	for j, c := range p[:i] {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')
		if !ok {
			return false
		}
	}
	return true
}

// validatePath checks a file path: relative (see StateFile), or an absolute
// URI with a clean absolute path.
func validatePath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty file path", ErrInvalidHandle)
	}
	if len(p) > maxStringLen {
		return fmt.Errorf("%w: file path of %d bytes is too long", ErrInvalidHandle, len(p))
	}
	if IsAbsolutePath(p) {
		return validateAbsolute(p)
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.Contains(p, "://") {
		return fmt.Errorf("%w: file path %q must be relative and slash-separated", ErrInvalidHandle, p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: file path %q has an empty, \".\" or \"..\" element", ErrInvalidHandle, p)
		}
	}
	if p == MetadataFileName {
		return fmt.Errorf("%w: file path %q would overwrite the metadata file", ErrInvalidHandle, p)
	}
	return nil
}

// validateAbsolute checks an absolute file URI: a scheme, then a clean
// absolute path without empty, "." or ".." elements and without query or
// fragment.
func validateAbsolute(p string) error {
	u, err := url.Parse(p)
	if err != nil {
		return fmt.Errorf("%w: file URI %q: %v", ErrInvalidHandle, p, err)
	}
	if u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.Path == "" || u.Path[0] != '/' || strings.Contains(p, "\\") {
		return fmt.Errorf("%w: file URI %q must be scheme://authority/path", ErrInvalidHandle, p)
	}
	for _, el := range strings.Split(u.Path[1:], "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: file URI %q has an empty, \".\" or \"..\" path element", ErrInvalidHandle, p)
		}
	}
	if path.Base(u.Path) == MetadataFileName {
		return fmt.Errorf("%w: file URI %q names a metadata file", ErrInvalidHandle, p)
	}
	return nil
}

func validateFile(f StateFile, savepoint bool) error {
	if err := validatePath(f.Path); err != nil {
		return err
	}
	if savepoint && IsAbsolutePath(f.Path) {
		return fmt.Errorf("%w: savepoint references %q outside its directory (savepoints must be self-contained and relocatable: they are never entropy-injected)", ErrInvalidHandle, f.Path)
	}
	if f.Size < 0 {
		return fmt.Errorf("%w: file %q has negative size %d", ErrInvalidHandle, f.Path, f.Size)
	}
	if f.Shared && savepoint {
		return fmt.Errorf("%w: savepoint references shared file %q (savepoints must be self-contained: the backend must write a full snapshot)", ErrInvalidHandle, f.Path)
	}
	return nil
}

func validateKeyed(k KeyedState, maxParallelism int, savepoint bool) error {
	if k.KeyGroups.Len() == 0 {
		return fmt.Errorf("%w: keyed state with empty key-group range %v", ErrInvalidHandle, k.KeyGroups)
	}
	if k.KeyGroups.Start < 0 || k.KeyGroups.End >= maxParallelism {
		return fmt.Errorf("%w: key groups %v outside [0, %d) (max parallelism)", ErrInvalidHandle, k.KeyGroups, maxParallelism)
	}
	if len(k.Format) > maxStringLen {
		return fmt.Errorf("%w: format name too long", ErrInvalidHandle)
	}
	if len(k.Offsets) != 0 {
		if len(k.Offsets) != k.KeyGroups.Len() {
			return fmt.Errorf("%w: %d key-group offsets for %d key groups %v", ErrInvalidHandle, len(k.Offsets), k.KeyGroups.Len(), k.KeyGroups)
		}
		if len(k.Files) != 1 {
			return fmt.Errorf("%w: key-group offsets need exactly one file, have %d", ErrInvalidHandle, len(k.Files))
		}
		prev := int64(0)
		for i, o := range k.Offsets {
			if o < prev || o > k.Files[0].Size {
				return fmt.Errorf("%w: key-group offset %d (key group %d) not ascending within the file's %d bytes", ErrInvalidHandle, o, k.KeyGroups.Start+i, k.Files[0].Size)
			}
			prev = o
		}
	}
	for _, f := range k.Files {
		if err := validateFile(f, savepoint); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks a task's handle: relative paths, key groups within the max
// parallelism, offsets consistent, no shared files in savepoints, no operator
// twice.
func (h *TaskStateHandle) Validate(savepoint bool) error {
	seen := map[string]bool{}
	for _, op := range h.Operators {
		if op.OperatorID == "" || len(op.OperatorID) > maxStringLen {
			return fmt.Errorf("%w: operator id %q is empty or too long", ErrInvalidHandle, op.OperatorID)
		}
		if seen[op.OperatorID] {
			return fmt.Errorf("%w: operator %s appears twice", ErrInvalidHandle, op.OperatorID)
		}
		seen[op.OperatorID] = true
		if op.MaxParallelism < 1 || op.MaxParallelism > serde.UpperBoundMaxParallelism {
			return fmt.Errorf("%w: operator %s has max parallelism %d, want 1..%d", ErrInvalidHandle, op.OperatorID, op.MaxParallelism, serde.UpperBoundMaxParallelism)
		}
		for _, k := range op.Keyed {
			if err := validateKeyed(k, op.MaxParallelism, savepoint); err != nil {
				return fmt.Errorf("operator %s: %w", op.OperatorID, err)
			}
		}
		for _, f := range op.Files {
			if err := validateFile(f, savepoint); err != nil {
				return fmt.Errorf("operator %s: %w", op.OperatorID, err)
			}
		}
	}
	return nil
}

// sharedPaths returns the distinct shared paths of a handle, sorted.
func (h *TaskStateHandle) sharedPaths() []string {
	seen := map[string]bool{}
	var out []string
	h.eachFile(func(f StateFile) {
		if f.Shared && !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	})
	sort.Strings(out)
	return out
}

// copyFiles copies files, clearing the ack-only New flag.
func copyFiles(in []StateFile) []StateFile {
	if in == nil {
		return nil
	}
	out := make([]StateFile, len(in))
	for i, f := range in {
		f.New = false
		out[i] = f
	}
	return out
}

func copyKeyed(in []KeyedState) []KeyedState {
	if in == nil {
		return nil
	}
	out := make([]KeyedState, len(in))
	for i, k := range in {
		k.Files = copyFiles(k.Files)
		k.Offsets = append([]int64(nil), k.Offsets...)
		if len(k.Offsets) == 0 {
			k.Offsets = nil
		}
		out[i] = k
	}
	return out
}

func copyBlobs(in [][]byte) [][]byte {
	if in == nil {
		return nil
	}
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = append([]byte{}, b...)
	}
	return out
}

func (s *SubtaskState) empty() bool {
	return len(s.Keyed) == 0 && len(s.Files) == 0 && s.SourceReader == nil && len(s.Committables) == 0
}
