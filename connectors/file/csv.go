package file

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flink-go/flink-go/runtime/op"
)

// ErrCSVSyntax is wrapped by ParseCSVLine's errors.
var ErrCSVSyntax = errors.New("csv syntax error")

// ParseCSVLine splits one line into fields following RFC 4180: fields are separated by sep; a
// field that starts with '"' is quoted, may contain sep, and "" inside it stands for one '"'.
// Unquoted fields are taken literally (a '"' inside an unquoted field is kept as is). An
// unterminated quote or text between a closing quote and the next separator is an error.
// Records spanning lines (newlines inside quotes) are not supported by the line-based sources.
func ParseCSVLine(line string, sep rune) ([]string, error) {
	return AppendCSVFields(nil, line, sep)
}

// AppendCSVFields is ParseCSVLine appending to dst (pass dst[:0] to reuse a slice). Unquoted
// fields and quoted fields without "" are substrings of line (no copy).
func AppendCSVFields(dst []string, line string, sep rune) ([]string, error) {
	if sep == '"' || sep == '\n' || sep == '\r' || sep == 0 {
		return dst, fmt.Errorf("%w: invalid separator %q", ErrCSVSyntax, sep)
	}
	seps := string(sep)
	pos := 0
	for {
		if pos < len(line) && line[pos] == '"' {
			// quoted field
			i := pos + 1
			var sb *strings.Builder
			segStart := i
			for {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					return dst, fmt.Errorf("%w: unterminated quoted field starting at byte %d", ErrCSVSyntax, pos)
				}
				i += j
				if i+1 < len(line) && line[i+1] == '"' { // escaped quote
					if sb == nil {
						sb = &strings.Builder{}
					}
					sb.WriteString(line[segStart : i+1])
					i += 2
					segStart = i
					continue
				}
				break
			}
			var field string
			if sb == nil {
				field = line[segStart:i]
			} else {
				sb.WriteString(line[segStart:i])
				field = sb.String()
			}
			dst = append(dst, field)
			pos = i + 1
			if pos == len(line) {
				return dst, nil
			}
			if !strings.HasPrefix(line[pos:], seps) {
				return dst, fmt.Errorf("%w: unexpected %q after closing quote at byte %d", ErrCSVSyntax, line[pos], pos)
			}
			pos += len(seps)
			continue
		}
		j := strings.Index(line[pos:], seps)
		if j < 0 {
			return append(dst, line[pos:]), nil
		}
		dst = append(dst, line[pos:pos+j])
		pos += j + len(seps)
	}
}

// CSVOption configures a CSV source.
type CSVOption func(*csvOptions)

type csvOptions struct {
	sep        rune
	skipHeader bool
	skipBad    bool
	lineOpts   []Option
}

// CSVSeparator sets the field separator (default ',').
func CSVSeparator(sep rune) CSVOption { return func(o *csvOptions) { o.sep = sep } }

// CSVSkipHeader drops the first line of every file.
func CSVSkipHeader() CSVOption { return func(o *csvOptions) { o.skipHeader = true } }

// CSVSkipBadRows logs and drops rows that fail to parse or map instead of failing the job.
func CSVSkipBadRows() CSVOption { return func(o *csvOptions) { o.skipBad = true } }

// CSVLineOptions passes options to the underlying line source.
func CSVLineOptions(opts ...Option) CSVOption {
	return func(o *csvOptions) { o.lineOpts = append(o.lineOpts, opts...) }
}

// CSVSource is a bounded source of typed rows read from CSV files: each line is split with
// AppendCSVFields and turned into a T by the mapping function. It splits, snapshots and
// restores like LineSource.
type CSVSource[T any] struct {
	lines *LineSource
	mapFn func(fields []string) (T, error)
	opts  csvOptions
}

var _ op.Source[[]string] = (*CSVSource[[]string])(nil)

// NewCSVSource returns a CSV source over path (a file or directory). mapFn receives the fields
// of one row; the slice is reused for the next row, so keep the strings, not the slice.
func NewCSVSource[T any](path string, mapFn func(fields []string) (T, error), opts ...CSVOption) (*CSVSource[T], error) {
	o := csvOptions{sep: ','}
	for _, f := range opts {
		f(&o)
	}
	if mapFn == nil {
		return nil, fmt.Errorf("csv source: nil mapping function")
	}
	if _, err := AppendCSVFields(nil, "", o.sep); err != nil {
		return nil, fmt.Errorf("csv source: %w", err)
	}
	lineOpts := append([]Option{}, o.lineOpts...)
	if o.skipHeader {
		lineOpts = append(lineOpts, func(lo *options) { lo.skipFirstLine = true })
	}
	ls, err := NewLineSource(path, lineOpts...)
	if err != nil {
		return nil, err
	}
	return &CSVSource[T]{lines: ls, mapFn: mapFn, opts: o}, nil
}

// NewCSVRowSource returns a CSV source whose records are the raw fields of each row.
func NewCSVRowSource(path string, opts ...CSVOption) (*CSVSource[[]string], error) {
	return NewCSVSource(path, func(f []string) ([]string, error) { return append([]string(nil), f...), nil }, opts...)
}

// Bounded implements op.Source.
func (s *CSVSource[T]) Bounded() bool { return true }

// CreateReader implements op.Source.
func (s *CSVSource[T]) CreateReader(ctx op.SourceContext) (op.SourceReader[T], error) {
	inner, err := s.lines.CreateReader(ctx)
	if err != nil {
		return nil, err
	}
	return &csvReader[T]{inner: inner, conv: &csvConv[T]{src: s, ctx: ctx}}, nil
}

type csvReader[T any] struct {
	inner op.SourceReader[string]
	conv  *csvConv[T]
}

// csvConv is the op.SourceOutput[string] the line reader writes into: it parses and maps each
// line and forwards the row.
type csvConv[T any] struct {
	src     *CSVSource[T]
	ctx     op.SourceContext
	out     op.SourceOutput[T]
	fields  []string
	err     error
	skipped int64
}

func (c *csvConv[T]) Collect(line string) { c.CollectWithTimestamp(line, op.NoTimestamp) }

func (c *csvConv[T]) CollectWithTimestamp(line string, ts int64) {
	if c.err != nil {
		return
	}
	var err error
	c.fields, err = AppendCSVFields(c.fields[:0], line, c.src.opts.sep)
	var v T
	if err == nil {
		v, err = c.src.mapFn(c.fields)
	}
	if err != nil {
		if c.src.opts.skipBad {
			c.skipped++
			if log := c.ctx.Logger(); log != nil && (c.skipped <= 10 || c.skipped%10000 == 0) {
				log.Warn().Err(err).Int64("skipped_rows", c.skipped).Msg("csv source: dropping bad row")
			}
			return
		}
		c.err = fmt.Errorf("csv source: bad row %q: %w", truncate(line, 200), err)
		return
	}
	if ts == op.NoTimestamp {
		c.out.Collect(v)
	} else {
		c.out.CollectWithTimestamp(v, ts)
	}
}

func (c *csvConv[T]) EmitWatermark(wm int64) { c.out.EmitWatermark(wm) }
func (c *csvConv[T]) MarkIdle()              { c.out.MarkIdle() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Poll implements op.SourceReader.
func (r *csvReader[T]) Poll(ctx context.Context, out op.SourceOutput[T]) (op.PollStatus, error) {
	r.conv.out = out
	st, err := r.inner.Poll(ctx, r.conv)
	if err != nil {
		return st, err
	}
	if r.conv.err != nil {
		return st, r.conv.err
	}
	return st, nil
}

// Snapshot implements op.SourceReader.
func (r *csvReader[T]) Snapshot(checkpointID int64) ([]byte, error) {
	return r.inner.Snapshot(checkpointID)
}

// Close implements op.SourceReader.
func (r *csvReader[T]) Close() error { return r.inner.Close() }
