package file

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/op"
)

// DefaultMonitorInterval is how often a MonitoringSource lists its directory by default.
const DefaultMonitorInterval = time.Second

// MonitoringSource is an unbounded source of the lines of the files that appear in a directory
// (recursively): it lists the directory every interval and reads each new file once, from its
// first to its last line. Files are owned by subtask hash(path) % parallelism, whole (no
// splitting). A snapshot holds the set of completely read files and the file being read with
// its offset, so a restored job neither re-reads nor skips files, at any parallelism.
//
// A file is read as it is when discovered: producers must make files appear complete (write
// under a hidden name, starting with '.' or '_', then rename). Data appended to a file after it
// was read is not seen (as in Flink's FileSource).
type MonitoringSource struct {
	path     string
	interval time.Duration
	opts     options
	now      func() time.Time
}

var _ op.Source[string] = (*MonitoringSource)(nil)

// NewMonitoringSource returns a source watching dir, listing it every interval (0 = default 1 s).
func NewMonitoringSource(dir string, interval time.Duration, opts ...Option) (*MonitoringSource, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("file monitoring source: empty directory path")
	}
	if interval < 0 {
		return nil, fmt.Errorf("file monitoring source: negative interval %v", interval)
	}
	if interval == 0 {
		interval = DefaultMonitorInterval
	}
	return &MonitoringSource{path: dir, interval: interval, opts: o, now: time.Now}, nil
}

// Bounded implements op.Source: false.
func (s *MonitoringSource) Bounded() bool { return false }

type filePos struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
}

type monitorState struct {
	V          int       `json:"v"`
	Processed  []string  `json:"processed"`
	InProgress []filePos `json:"in_progress,omitempty"`
}

// owner returns the subtask that reads path.
func owner(path string, p int) int {
	h := fnv.New64a()
	h.Write([]byte(path))
	return int(h.Sum64() % uint64(p))
}

// CreateReader implements op.Source.
func (s *MonitoringSource) CreateReader(ctx op.SourceContext) (op.SourceReader[string], error) {
	k, p := ctx.Subtask(), ctx.Parallelism()
	r := &monitorReader{
		src: s, k: k, p: p,
		processed: map[string]bool{},
		resume:    map[string]int64{},
		lr:        newLineReader(s.opts.bufferSize),
		log:       ctx.Logger(),
	}
	for i, b := range ctx.RestoredState() {
		var st monitorState
		if err := json.Unmarshal(b, &st); err != nil || st.V != 1 {
			return nil, fmt.Errorf("file monitoring source: restored state %d is not a monitoring-source state (was the job changed?): %v", i, err)
		}
		for _, f := range st.Processed {
			r.processed[f] = true
		}
		for _, fp := range st.InProgress {
			// Only the new owner resumes a file; keeping other subtasks' entries would let a
			// stale offset win at a later restore and re-read lines.
			if owner(fp.Path, p) == k && fp.Offset >= r.resume[fp.Path] {
				r.resume[fp.Path] = fp.Offset
			}
		}
	}
	return r, nil
}

type monitorReader struct {
	src       *MonitoringSource
	k, p      int
	processed map[string]bool  // completely read (by any subtask, for restore redistribution)
	resume    map[string]int64 // restored in-progress files -> offset of the next line
	pending   []string         // discovered, owned, not yet read
	current   string           // file being read ("" = none)
	lr        *lineReader
	lastScan  time.Time
	idle      bool
	log       *zerolog.Logger
}

func (r *monitorReader) scan() error {
	files, err := listFiles(context.Background(), r.src.path, r.src.opts.recursive, r.src.opts.filter)
	if err != nil {
		return err
	}
	known := map[string]bool{r.current: true}
	for _, f := range r.pending {
		known[f] = true
	}
	for _, f := range files {
		if r.processed[f.Path] || known[f.Path] || owner(f.Path, r.p) != r.k {
			continue
		}
		r.pending = append(r.pending, f.Path)
	}
	slices.Sort(r.pending)
	return nil
}

// Poll implements op.SourceReader.
func (r *monitorReader) Poll(ctx context.Context, out op.SourceOutput[string]) (op.PollStatus, error) {
	batch := r.src.opts.batchSize
	emitted := 0
	for emitted < batch {
		if r.current == "" {
			if len(r.pending) == 0 {
				break
			}
			r.current = r.pending[0]
			r.pending = r.pending[1:]
			start := r.resume[r.current]
			delete(r.resume, r.current)
			if err := r.lr.open(ctx, r.current, start, -1); err != nil {
				return op.MoreAvailable, err
			}
			if r.src.opts.skipFirstLine && start == 0 {
				if _, err := r.lr.next(1, func(string) {}); err != nil {
					return op.MoreAvailable, err
				}
			}
			if r.log != nil {
				r.log.Debug().Str("file", r.current).Int64("offset", start).Msg("file monitoring source: reading file")
			}
		}
		n, err := r.lr.next(batch-emitted, out.Collect)
		emitted += n
		if err != nil {
			return op.MoreAvailable, err
		}
		if r.lr.done {
			if err := r.lr.closeFile(); err != nil {
				return op.MoreAvailable, fmt.Errorf("file monitoring source: close %s: %w", r.current, err)
			}
			r.processed[r.current] = true
			r.current = ""
		}
	}
	if emitted > 0 {
		r.idle = false
		return op.MoreAvailable, nil
	}
	// Nothing to read: list the directory when the interval elapsed, else wait a little.
	now := r.src.now()
	if wait := r.src.interval - now.Sub(r.lastScan); wait > 0 {
		if wait > 50*time.Millisecond {
			wait = 50 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		return op.NothingAvailable, nil
	}
	r.lastScan = now
	if err := r.scan(); err != nil {
		return op.NothingAvailable, err
	}
	if len(r.pending) > 0 {
		return op.MoreAvailable, nil
	}
	if !r.idle {
		r.idle = true
		out.MarkIdle()
	}
	return op.NothingAvailable, nil
}

// Snapshot implements op.SourceReader.
func (r *monitorReader) Snapshot(checkpointID int64) ([]byte, error) {
	st := monitorState{V: 1, Processed: make([]string, 0, len(r.processed))}
	for f := range r.processed {
		st.Processed = append(st.Processed, f)
	}
	slices.Sort(st.Processed)
	if r.current != "" {
		st.InProgress = append(st.InProgress, filePos{r.current, r.lr.pos()})
	}
	// Restored in-progress files not reopened yet keep their offsets: hand them on.
	for f, off := range r.resume {
		st.InProgress = append(st.InProgress, filePos{f, off})
	}
	slices.SortFunc(st.InProgress, func(a, b filePos) int { return strings.Compare(a.Path, b.Path) })
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("file monitoring source: encode snapshot %d: %w", checkpointID, err)
	}
	return b, nil
}

// Close implements op.SourceReader.
func (r *monitorReader) Close() error { return r.lr.closeFile() }
