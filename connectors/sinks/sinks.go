// Package sinks holds simple sinks: Print (stdout/stderr, like Flink's print()), Discard (a
// black hole that counts) and Collect (keeps records in memory under a name, for in-process
// tests; optionally transactional to test exactly-once delivery).
package sinks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/flink-go/flink-go/runtime/op"
)

// ---------------------------------------------------------------------------------------------
// Print

// PrintSink writes every record as one text line (fmt.Sprint of the value). When the sink runs
// with parallelism > 1 each line starts with "<subtask+1>> " (1-based, as Flink's print());
// with an identifier the prefix is "<identifier>:<subtask+1>> " or "<identifier>> ".
type PrintSink[T any] struct {
	w          io.Writer
	mu         *sync.Mutex
	identifier string
}

var (
	stdoutMu sync.Mutex
	stderrMu sync.Mutex
)

// Print returns a sink printing to standard output.
func Print[T any](identifier string) *PrintSink[T] {
	return &PrintSink[T]{w: os.Stdout, mu: &stdoutMu, identifier: identifier}
}

// PrintToErr returns a sink printing to standard error.
func PrintToErr[T any](identifier string) *PrintSink[T] {
	return &PrintSink[T]{w: os.Stderr, mu: &stderrMu, identifier: identifier}
}

// PrintTo returns a sink printing to w (writes are serialized per sink).
func PrintTo[T any](w io.Writer, identifier string) *PrintSink[T] {
	return &PrintSink[T]{w: w, mu: &sync.Mutex{}, identifier: identifier}
}

// CreateWriter implements op.Sink.
func (s *PrintSink[T]) CreateWriter(ctx op.SinkContext) (op.SinkWriter[T], error) {
	if s.w == nil {
		return nil, errors.New("print sink: nil writer")
	}
	prefix := s.identifier
	if ctx.Parallelism() > 1 {
		if prefix != "" {
			prefix += ":"
		}
		prefix += strconv.Itoa(ctx.Subtask() + 1)
	}
	if prefix != "" {
		prefix += "> "
	}
	return &printWriter[T]{sink: s, prefix: prefix}, nil
}

type printWriter[T any] struct {
	sink   *PrintSink[T]
	prefix string
	buf    bytes.Buffer
}

func (w *printWriter[T]) Write(v T, _ int64) error {
	w.buf.Reset()
	w.buf.WriteString(w.prefix)
	switch x := any(v).(type) {
	case string:
		w.buf.WriteString(x)
	case []byte:
		w.buf.Write(x)
	default:
		fmt.Fprint(&w.buf, v)
	}
	w.buf.WriteByte('\n')
	w.sink.mu.Lock()
	_, err := w.sink.w.Write(w.buf.Bytes()) // one write per line: lines of subtasks never interleave
	w.sink.mu.Unlock()
	if err != nil {
		return fmt.Errorf("print sink: write failed (output closed?): %w", err)
	}
	return nil
}

func (w *printWriter[T]) Finish() error { return nil }
func (w *printWriter[T]) Close() error  { return nil }

// ---------------------------------------------------------------------------------------------
// Discard

// DiscardSink drops every record (Nexmark's "blackhole") and counts them.
type DiscardSink[T any] struct {
	n atomic.Int64
}

// Discard returns a new discarding sink.
func Discard[T any]() *DiscardSink[T] { return &DiscardSink[T]{} }

// Count returns how many records all writers of the sink received.
func (s *DiscardSink[T]) Count() int64 { return s.n.Load() }

// CreateWriter implements op.Sink.
func (s *DiscardSink[T]) CreateWriter(op.SinkContext) (op.SinkWriter[T], error) {
	return &discardWriter[T]{sink: s}, nil
}

type discardWriter[T any] struct {
	sink  *DiscardSink[T]
	local int64
}

func (w *discardWriter[T]) Write(T, int64) error {
	w.local++
	if w.local == 4096 { // keep the shared counter off the per-record path
		w.sink.n.Add(w.local)
		w.local = 0
	}
	return nil
}

func (w *discardWriter[T]) flush() {
	w.sink.n.Add(w.local)
	w.local = 0
}

func (w *discardWriter[T]) Finish() error { w.flush(); return nil }
func (w *discardWriter[T]) Close() error  { w.flush(); return nil }
