// Package file holds the file connectors: a bounded text-line source split across parallel
// subtasks by byte ranges, a continuously monitored directory source, a CSV helper, and a
// rolling part-file sink with two-phase commit. See docs/connectors.md.
package file

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/op"
)

// Defaults of the line sources.
const (
	DefaultBufferSize = 1 << 20
	DefaultBatchSize  = 4096
)

// Option configures a line source.
type Option func(*options)

type options struct {
	bufferSize int
	batchSize  int
	recursive  bool
	filter     func(path string) bool
	// skipFirstLine drops the line at offset 0 of every file (CSV headers).
	skipFirstLine bool
}

func defaultOptions() options {
	return options{bufferSize: DefaultBufferSize, batchSize: DefaultBatchSize, recursive: true}
}

// WithBufferSize sets the read buffer size in bytes (default 1 MiB; grows for longer lines).
func WithBufferSize(n int) Option { return func(o *options) { o.bufferSize = n } }

// WithBatchSize sets the maximum number of lines one Poll emits (default 4096).
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = n } }

// WithRecursive sets whether sub-directories are read (default true).
func WithRecursive(b bool) Option { return func(o *options) { o.recursive = b } }

// WithFilter keeps only the files for which keep(path) is true (hidden files, names starting
// with '.' or '_', are always skipped).
func WithFilter(keep func(path string) bool) Option { return func(o *options) { o.filter = keep } }

func (o *options) validate() error {
	if o.bufferSize < 16 || o.bufferSize > 1<<30 {
		return fmt.Errorf("file source: buffer size %d out of range [16, 1 GiB]", o.bufferSize)
	}
	if o.batchSize < 1 {
		return fmt.Errorf("file source: batch size %d must be >= 1", o.batchSize)
	}
	return nil
}

// LineSource is a bounded source of the text lines of a file or of every file under a
// directory, on any file system of package fs (local paths, file://, hdfs://, ...). Subtask k of p reads the lines that start in the k-th of p equal byte stretches of
// the concatenated input; a snapshot lists the unread byte ranges, so restoring works at any
// parallelism. Input files must not change while the job runs.
type LineSource struct {
	path string
	opts options
}

var _ op.Source[string] = (*LineSource)(nil)

// NewLineSource returns a line source over path (a file or a directory).
func NewLineSource(path string, opts ...Option) (*LineSource, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("file source: empty input path")
	}
	return &LineSource{path: path, opts: o}, nil
}

// Bounded implements op.Source.
func (s *LineSource) Bounded() bool { return true }

type lineState struct {
	V      int     `json:"v"`
	Ranges []Range `json:"ranges"`
}

// CreateReader implements op.Source.
func (s *LineSource) CreateReader(ctx op.SourceContext) (op.SourceReader[string], error) {
	var all []Range
	restored := ctx.RestoredState()
	if restored == nil {
		files, err := listFiles(context.Background(), s.path, s.opts.recursive, s.opts.filter)
		if err != nil {
			return nil, err
		}
		all = files
	} else {
		for i, b := range restored {
			var st lineState
			if err := json.Unmarshal(b, &st); err != nil || st.V != 1 {
				return nil, fmt.Errorf("file source: restored state %d is not a line-source state (was the job changed?): %v", i, err)
			}
			all = append(all, st.Ranges...)
		}
	}
	mine := assign(all, ctx.Subtask(), ctx.Parallelism())
	log := ctx.Logger()
	if log != nil {
		var bytes int64
		for _, r := range mine {
			bytes += r.size()
		}
		log.Info().Str("path", s.path).Int("ranges", len(mine)).Int64("bytes", bytes).Bool("restored", restored != nil).Msg("file source reader assigned")
	}
	return &lineSourceReader{ranges: mine, lr: newLineReader(s.opts.bufferSize), skipFirst: s.opts.skipFirstLine, batch: s.opts.batchSize, log: log}, nil
}

type lineSourceReader struct {
	ranges []Range // ranges[0] is current when opened
	opened bool
	lr     *lineReader
	// skipFirst drops the first line of ranges that start at offset 0.
	skipFirst bool
	batch     int
	log       *zerolog.Logger
}

// Poll implements op.SourceReader.
func (r *lineSourceReader) Poll(ctx context.Context, out op.SourceOutput[string]) (op.PollStatus, error) {
	emit := out.Collect
	emitted := 0
	for emitted < r.batch {
		if len(r.ranges) == 0 {
			return op.End, nil
		}
		if !r.opened {
			cur := r.ranges[0]
			if err := r.lr.open(ctx, cur.Path, cur.Start, cur.End); err != nil {
				return op.MoreAvailable, err
			}
			r.opened = true
			if r.skipFirst && cur.Start == 0 {
				if _, err := r.lr.next(1, func(string) {}); err != nil {
					return op.MoreAvailable, err
				}
			}
		}
		n, err := r.lr.next(r.batch-emitted, emit)
		emitted += n
		if err != nil {
			return op.MoreAvailable, err
		}
		if r.lr.done {
			if err := r.lr.closeFile(); err != nil {
				return op.MoreAvailable, fmt.Errorf("file source: close %s: %w", r.ranges[0].Path, err)
			}
			r.ranges = r.ranges[1:]
			r.opened = false
		}
	}
	if len(r.ranges) == 0 {
		return op.End, nil
	}
	return op.MoreAvailable, nil
}

// Snapshot implements op.SourceReader: the unread ranges, the current one starting at the next
// unread line.
func (r *lineSourceReader) Snapshot(checkpointID int64) ([]byte, error) {
	rest := make([]Range, 0, len(r.ranges))
	for i, rg := range r.ranges {
		if i == 0 && r.opened {
			rg.Start = r.lr.pos()
			if rg.Start >= rg.End { // no line starts in what is left of the range
				continue
			}
		}
		rest = append(rest, rg)
	}
	b, err := json.Marshal(lineState{V: 1, Ranges: rest})
	if err != nil {
		return nil, fmt.Errorf("file source: encode snapshot %d: %w", checkpointID, err)
	}
	return b, nil
}

// Close implements op.SourceReader.
func (r *lineSourceReader) Close() error { return r.lr.closeFile() }
