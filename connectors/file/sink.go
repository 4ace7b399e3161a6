package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/op"
)

// Defaults of the file sink.
const (
	DefaultRollSize = 128 << 20
	defaultSinkBuf  = 256 << 10
)

// SinkOption configures a FileSink.
type SinkOption func(*sinkOptions)

type sinkOptions struct {
	rollSize     int64
	rollInterval time.Duration
	exactlyOnce  bool
	rollOnCP     bool
	prefix       string
	suffix       string
	delimiter    string
	bufSize      int
	now          func() time.Time
}

// RollSize closes a part file once it holds at least n bytes (default 128 MiB).
func RollSize(n int64) SinkOption { return func(o *sinkOptions) { o.rollSize = n } }

// RollInterval closes a part file that has been open for at least d (checked when a record is
// written and at checkpoints; 0 = never, the default).
func RollInterval(d time.Duration) SinkOption { return func(o *sinkOptions) { o.rollInterval = d } }

// ExactlyOnce enables two-phase commit: part files stay hidden as in-progress files until the
// checkpoint that covers them completes. Every checkpoint (PreCommit) rolls the current file.
// Without it, a rolled file is renamed to its final name at once (at-least-once on restart).
func ExactlyOnce() SinkOption { return func(o *sinkOptions) { o.exactlyOnce = true } }

// RollOnCheckpoint closes (and, without ExactlyOnce, publishes) the current part at every
// checkpoint, so output becomes visible at checkpoint pace. ExactlyOnce implies it.
func RollOnCheckpoint() SinkOption { return func(o *sinkOptions) { o.rollOnCP = true } }

// PartPrefix sets the part file prefix (default "part").
func PartPrefix(p string) SinkOption { return func(o *sinkOptions) { o.prefix = p } }

// PartSuffix sets the part file suffix, e.g. ".txt" (default none).
func PartSuffix(s string) SinkOption { return func(o *sinkOptions) { o.suffix = s } }

// RecordDelimiter sets what is written after each encoded record (default "\n").
func RecordDelimiter(d string) SinkOption { return func(o *sinkOptions) { o.delimiter = d } }

// withClock replaces the wall clock (tests).
func withClock(now func() time.Time) SinkOption { return func(o *sinkOptions) { o.now = now } }

// FileSink writes records as bytes to rolling part files under a directory (any file system of
// package fs: local paths, file://, hdfs://, ...): subtask k writes
// part-<k>-<n> (n = 0, 1, ... continuing after the highest existing number), each first as the
// hidden in-progress file .part-<k>-<n>.inprogress, renamed when rolled (size, time) or
// finished, or — with ExactlyOnce — when the checkpoint that pre-committed it completes.
type FileSink[T any] struct {
	dir  string
	enc  func(dst []byte, v T) []byte
	opts sinkOptions
}

var _ op.Sink[string] = (*FileSink[string])(nil)

// NewFileSink returns a sink writing encode(v) plus the record delimiter for each record. With a
// nil encode, strings, []byte and fmt.Stringer values are written as text; other types need an
// encoder.
func NewFileSink[T any](dir string, encode func(v T) []byte, opts ...SinkOption) (*FileSink[T], error) {
	o := sinkOptions{rollSize: DefaultRollSize, prefix: "part", delimiter: "\n", bufSize: defaultSinkBuf, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	switch {
	case dir == "":
		return nil, errors.New("file sink: empty output directory")
	case o.rollSize <= 0:
		return nil, fmt.Errorf("file sink: roll size %d must be positive", o.rollSize)
	case o.rollInterval < 0:
		return nil, fmt.Errorf("file sink: negative roll interval %v", o.rollInterval)
	case o.prefix == "" || strings.ContainsAny(o.prefix, "/\\") || strings.HasPrefix(o.prefix, ".") || strings.HasPrefix(o.prefix, "_"):
		return nil, fmt.Errorf("file sink: part prefix %q must be a plain, non-hidden file name", o.prefix)
	case strings.ContainsAny(o.suffix, "/\\"):
		return nil, fmt.Errorf("file sink: part suffix %q contains a path separator", o.suffix)
	}
	s := &FileSink[T]{dir: dir, opts: o}
	if encode != nil {
		s.enc = func(dst []byte, v T) []byte { return append(dst, encode(v)...) }
	} else {
		enc, err := defaultEncoder[T]()
		if err != nil {
			return nil, err
		}
		s.enc = enc
	}
	return s, nil
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

func defaultEncoder[T any]() (func([]byte, T) []byte, error) {
	t := reflect.TypeFor[T]()
	switch {
	case t == reflect.TypeFor[string]():
		return func(dst []byte, v T) []byte { return append(dst, *any(&v).(*string)...) }, nil
	case t.Kind() == reflect.String:
		return func(dst []byte, v T) []byte { return append(dst, reflect.ValueOf(v).String()...) }, nil
	case t == reflect.TypeFor[[]byte]():
		return func(dst []byte, v T) []byte { return append(dst, any(v).([]byte)...) }, nil
	case t.Implements(stringerType):
		return func(dst []byte, v T) []byte { return append(dst, any(v).(fmt.Stringer).String()...) }, nil
	}
	return nil, fmt.Errorf("file sink: no default encoder for %v (not a string, []byte or fmt.Stringer): pass an encode function", t)
}

// CreateWriter implements op.Sink.
func (s *FileSink[T]) CreateWriter(ctx op.SinkContext) (op.SinkWriter[T], error) {
	bg := context.Background()
	loc, err := resolve(bg, s.dir)
	if err != nil {
		return nil, fmt.Errorf("file sink: output directory %q: %w", s.dir, err)
	}
	if err := loc.fsys.MkdirAll(bg, loc.path, 0o755); err != nil {
		return nil, fmt.Errorf("file sink: create output directory %s (permissions?): %w", s.dir, err)
	}
	k := ctx.Subtask()
	next, err := nextPartNumber(bg, loc, s.opts.prefix, k)
	if err != nil {
		return nil, err
	}
	return &fileWriter[T]{sink: s, loc: loc, subtask: k, next: next, log: ctx.Logger()}, nil
}

// nextPartNumber returns 1 + the highest part number of subtask k found in the directory
// (final or in-progress), so a restarted writer never reuses a name.
func nextPartNumber(ctx context.Context, loc location, prefix string, k int) (int64, error) {
	entries, err := loc.fsys.List(ctx, loc.path)
	if err != nil {
		return 0, fmt.Errorf("file sink: list output directory %s: %w", loc.id(loc.path), err)
	}
	head := fmt.Sprintf("%s-%d-", prefix, k)
	next := int64(0)
	for _, e := range entries {
		name := strings.TrimPrefix(e.Name(), ".")
		if !strings.HasPrefix(name, head) {
			continue
		}
		rest := name[len(head):]
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if n, err := strconv.ParseInt(rest[:end], 10, 64); err == nil && n+1 > next {
			next = n + 1
		}
	}
	return next, nil
}

// partFile is a file rename that makes a part visible: From (in-progress) -> To (final).
type partFile struct {
	From string `json:"from"`
	To   string `json:"to"`
	Size int64  `json:"size"`
}

type committable struct {
	V     int        `json:"v"`
	Files []partFile `json:"files"`
}

type fileWriter[T any] struct {
	sink    *FileSink[T]
	loc     location
	subtask int
	next    int64
	log     *zerolog.Logger

	f        fs.Writer
	bw       *bufio.Writer
	cur      partFile
	openedAt time.Time
	scratch  []byte
	pending  []partFile // rolled, waiting for PreCommit (exactly-once)
	closed   bool
}

var _ op.CommittingSinkWriter[string] = (*fileWriter[string])(nil)

func (w *fileWriter[T]) open() error {
	o := &w.sink.opts
	base := fmt.Sprintf("%s-%d-%d%s", o.prefix, w.subtask, w.next, o.suffix)
	w.next++
	from := fs.Join(w.loc.path, "."+base+".inprogress")
	w.cur = partFile{From: w.loc.id(from), To: w.loc.id(fs.Join(w.loc.path, base))}
	f, err := w.loc.fsys.Create(context.Background(), from, fs.CreateOptions{})
	if err != nil {
		return fmt.Errorf("file sink: create part file %s (output directory writable? another job writing the same directory?): %w", w.cur.From, err)
	}
	w.f = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, o.bufSize)
	} else {
		w.bw.Reset(f)
	}
	w.openedAt = o.now()
	return nil
}

// Write implements op.SinkWriter.
func (w *fileWriter[T]) Write(v T, _ int64) error {
	if w.closed {
		return errors.New("file sink: write after close")
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	w.scratch = w.sink.enc(w.scratch[:0], v)
	w.scratch = append(w.scratch, w.sink.opts.delimiter...)
	if _, err := w.bw.Write(w.scratch); err != nil {
		return fmt.Errorf("file sink: write %s (disk full?): %w", w.cur.From, err)
	}
	w.cur.Size += int64(len(w.scratch))
	if w.cur.Size >= w.sink.opts.rollSize || w.intervalDue() {
		return w.roll()
	}
	return nil
}

func (w *fileWriter[T]) intervalDue() bool {
	d := w.sink.opts.rollInterval
	return d > 0 && w.f != nil && w.sink.opts.now().Sub(w.openedAt) >= d
}

// roll closes the current part (flushed and durable): visible at once, or pending a commit in
// exactly-once mode.
func (w *fileWriter[T]) roll() error {
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("file sink: flush %s (disk full?): %w", w.cur.From, err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("file sink: close %s: %w", w.cur.From, err)
	}
	if w.sink.opts.exactlyOnce {
		w.pending = append(w.pending, w.cur)
		return nil
	}
	if err := renamePart(context.Background(), w.cur); err != nil {
		return fmt.Errorf("file sink: publish part file %s: %w", w.cur.To, err)
	}
	if w.log != nil {
		w.log.Debug().Str("file", w.cur.To).Int64("bytes", w.cur.Size).Msg("file sink: part file rolled")
	}
	return nil
}

func renamePart(ctx context.Context, pf partFile) error {
	fsys, from, err := openID(ctx, pf.From)
	if err != nil {
		return err
	}
	_, to, err := openID(ctx, pf.To)
	if err != nil {
		return err
	}
	return fsys.Rename(ctx, from, to)
}

// Finish implements op.SinkWriter: the current part is closed; without ExactlyOnce it becomes
// visible now, with ExactlyOnce it is handed to the next PreCommit (the final checkpoint).
func (w *fileWriter[T]) Finish() error { return w.roll() }

// PreCommit implements op.CommittingSinkWriter. In exactly-once mode it rolls the current part
// and returns every part closed since the last checkpoint; otherwise it rolls the current part
// with RollOnCheckpoint or when its interval elapsed, and returns nil.
func (w *fileWriter[T]) PreCommit(checkpointID int64) ([]byte, error) {
	if !w.sink.opts.exactlyOnce {
		if w.sink.opts.rollOnCP || w.intervalDue() {
			return nil, w.roll()
		}
		return nil, nil
	}
	if err := w.roll(); err != nil {
		return nil, err
	}
	if len(w.pending) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(committable{V: 1, Files: w.pending})
	if err != nil {
		return nil, fmt.Errorf("file sink: encode committable of checkpoint %d: %w", checkpointID, err)
	}
	w.pending = nil
	return b, nil
}

// Commit implements op.CommittingSinkWriter: renames the pre-committed parts to their final
// names. It is idempotent (a part already renamed is skipped), so a restored job may commit
// the committables of its last checkpoint again.
func (w *fileWriter[T]) Commit(checkpointID int64, committables [][]byte) error {
	return CommitParts(checkpointID, committables, w.log)
}

// CommitParts performs the renames described by committables returned from a FileSink
// writer's PreCommit. It is idempotent and may run in any process that sees the files.
func CommitParts(checkpointID int64, committables [][]byte, log *zerolog.Logger) error {
	for _, b := range committables {
		if len(b) == 0 {
			continue
		}
		var c committable
		if err := json.Unmarshal(b, &c); err != nil || c.V != 1 {
			return fmt.Errorf("file sink: checkpoint %d: committable is not a file-sink committable: %v", checkpointID, err)
		}
		for _, pf := range c.Files {
			if err := commitPart(checkpointID, pf, log); err != nil {
				return err
			}
		}
	}
	return nil
}

func commitPart(checkpointID int64, pf partFile, log *zerolog.Logger) error {
	ctx := context.Background()
	err := renamePart(ctx, pf)
	if err == nil {
		if log != nil {
			log.Debug().Int64("checkpoint", checkpointID).Str("file", pf.To).Msg("file sink: part file committed")
		}
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		fsys, to, gerr := openID(ctx, pf.To)
		if gerr == nil {
			if _, serr := fsys.Stat(ctx, to); serr == nil {
				return nil // committed before
			}
		}
		return fmt.Errorf("file sink: checkpoint %d: neither in-progress %s nor final %s exists (output directory cleaned while the job ran?): %w", checkpointID, pf.From, pf.To, err)
	}
	return fmt.Errorf("file sink: checkpoint %d: commit %s: %w", checkpointID, pf.To, err)
}

// Close implements op.SinkWriter. Without ExactlyOnce an open part is published (its records
// are complete: the buffer only ever holds whole records), so nothing written before a failure
// is lost (records after the last checkpoint are written again on replay: at-least-once). With
// ExactlyOnce the open part can never be committed and is removed; parts rolled but not yet
// pre-committed stay hidden.
func (w *fileWriter[T]) Close() error {
	w.closed = true
	if w.f == nil {
		return nil
	}
	if !w.sink.opts.exactlyOnce {
		return w.roll()
	}
	err := w.f.Abort()
	w.f = nil
	if err != nil {
		return fmt.Errorf("file sink: discard %s: %w", w.cur.From, err)
	}
	return nil
}
