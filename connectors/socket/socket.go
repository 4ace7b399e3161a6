// Package socket is a text socket source (like Flink's socketTextStream): it connects to
// host:port and emits the delimiter-separated text it receives as string records.
package socket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/runtime/op"
)

// Option configures a Source.
type Option func(*config)

type config struct {
	delim          byte
	maxRetries     int // 0 = none, -1 = forever
	initialBackoff time.Duration
	maxBackoff     time.Duration
	dialTimeout    time.Duration
	maxLine        int
}

// Delimiter sets the record delimiter (default '\n'; with '\n' a trailing '\r' is removed).
func Delimiter(d byte) Option { return func(c *config) { c.delim = d } }

// Reconnect makes the source reconnect when the connection fails or closes: up to maxRetries
// times in a row (-1 = forever), waiting initial, then doubling up to max between attempts. A
// successful connection resets the count. Without it the source ends when the connection
// closes.
func Reconnect(maxRetries int, initial, max time.Duration) Option {
	return func(c *config) { c.maxRetries, c.initialBackoff, c.maxBackoff = maxRetries, initial, max }
}

// DialTimeout bounds one connection attempt (default 10 s).
func DialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// MaxLineLength fails the source on a record longer than n bytes (default 16 MiB).
func MaxLineLength(n int) Option { return func(c *config) { c.maxLine = n } }

// Source is an unbounded, non-parallel source of text records read from a TCP socket. Only
// subtask 0 connects; any other subtask marks itself idle and ends at once, so run it with
// parallelism 1. It has no replayable position: records received before a failure and not yet
// checkpointed downstream are lost on recovery (at-most-once), as with Flink's socket source.
type Source struct {
	addr string
	cfg  config
}

var _ op.Source[string] = (*Source)(nil)

// NewSource returns a socket source for addr ("host:port").
func NewSource(addr string, opts ...Option) (*Source, error) {
	c := config{delim: '\n', dialTimeout: 10 * time.Second, maxLine: 16 << 20}
	for _, o := range opts {
		o(&c)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("socket source: address %q is not host:port: %w", addr, err)
	}
	switch {
	case c.maxRetries < -1:
		return nil, fmt.Errorf("socket source: max retries %d (use -1 for forever)", c.maxRetries)
	case c.maxRetries != 0 && (c.initialBackoff <= 0 || c.maxBackoff < c.initialBackoff):
		return nil, fmt.Errorf("socket source: backoff %v..%v must be positive and increasing", c.initialBackoff, c.maxBackoff)
	case c.dialTimeout <= 0:
		return nil, fmt.Errorf("socket source: dial timeout %v must be positive", c.dialTimeout)
	case c.maxLine < 1:
		return nil, fmt.Errorf("socket source: max line length %d must be positive", c.maxLine)
	}
	return &Source{addr: addr, cfg: c}, nil
}

// Bounded implements op.Source: false.
func (s *Source) Bounded() bool { return false }

// CreateReader implements op.Source.
func (s *Source) CreateReader(ctx op.SourceContext) (op.SourceReader[string], error) {
	if ctx.Subtask() != 0 {
		if log := ctx.Logger(); log != nil {
			log.Warn().Int("subtask", ctx.Subtask()).Msg("socket source is not parallel: this subtask ends without data (use parallelism 1)")
		}
		return idleReader{}, nil
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &reader{src: s, ch: make(chan msg, 4), cancel: cancel, log: ctx.Logger()}
	r.wg.Add(1)
	go r.run(rctx)
	return r, nil
}

type idleReader struct{}

func (idleReader) Poll(_ context.Context, out op.SourceOutput[string]) (op.PollStatus, error) {
	out.MarkIdle()
	return op.End, nil
}
func (idleReader) Snapshot(int64) ([]byte, error) { return nil, nil }
func (idleReader) Close() error                   { return nil }

type msg struct {
	lines []string
	err   error
	end   bool
}

type reader struct {
	src    *Source
	ch     chan msg
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *zerolog.Logger
	ended  bool
}

// ErrRetriesExhausted is returned when the source cannot (re)connect within its retries.
var ErrRetriesExhausted = errors.New("socket source: connection retries exhausted")

// run owns the connection: it connects (with retries), reads records and hands batches to Poll.
func (r *reader) run(ctx context.Context) {
	defer r.wg.Done()
	c := &r.src.cfg
	failures := 0
	backoff := c.initialBackoff
	send := func(m msg) bool {
		select {
		case r.ch <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		d := net.Dialer{Timeout: c.dialTimeout}
		conn, err := d.DialContext(ctx, "tcp", r.src.addr)
		if err == nil {
			failures, backoff = 0, c.initialBackoff
			if r.log != nil {
				r.log.Info().Str("addr", r.src.addr).Msg("socket source connected")
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() }) // unblocks reads on Close
			err = r.readConn(ctx, conn, send)
			stop()
			conn.Close()
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errTooLong) {
				send(msg{err: err})
				return
			}
		}
		if c.maxRetries == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				send(msg{err: fmt.Errorf("socket source: %s (is the server listening?): %w", r.src.addr, err)})
				return
			}
			send(msg{end: true})
			return
		}
		failures++
		if c.maxRetries > 0 && failures > c.maxRetries {
			send(msg{err: fmt.Errorf("%w: %s after %d attempts: %v", ErrRetriesExhausted, r.src.addr, failures, err)})
			return
		}
		if r.log != nil {
			r.log.Warn().Err(err).Str("addr", r.src.addr).Dur("backoff", backoff).Msg("socket source disconnected, reconnecting")
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

var errTooLong = errors.New("socket source: record longer than the maximum line length (wrong delimiter?)")

// readConn reads records until the connection ends; it returns io.EOF on a clean close.
func (r *reader) readConn(ctx context.Context, conn net.Conn, send func(msg) bool) error {
	c := &r.src.cfg
	br := bufio.NewReaderSize(conn, 64<<10)
	var partial []byte
	var batch []string
	for {
		chunk, err := br.ReadSlice(c.delim)
		if len(chunk) > 0 {
			if err == nil { // a complete record
				rec := chunk[:len(chunk)-1]
				if len(partial) > 0 {
					partial = append(partial, rec...)
					rec = partial
				}
				if c.delim == '\n' {
					rec = bytes.TrimSuffix(rec, []byte{'\r'})
				}
				batch = append(batch, string(rec))
				partial = partial[:0]
			} else {
				partial = append(partial, chunk...)
				if len(partial) > c.maxLine {
					return errTooLong
				}
			}
		}
		// Hand over what we have when the buffer is drained or the batch is large.
		if len(batch) > 0 && (br.Buffered() == 0 || len(batch) >= 1024) {
			if !send(msg{lines: batch}) {
				return ctx.Err()
			}
			batch = nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if len(partial) > 0 { // the last record without a delimiter
				batch = append(batch, string(partial))
			}
			if len(batch) > 0 && !send(msg{lines: batch}) {
				return ctx.Err()
			}
			return err
		}
	}
}

// Poll implements op.SourceReader.
func (r *reader) Poll(ctx context.Context, out op.SourceOutput[string]) (op.PollStatus, error) {
	if r.ended {
		return op.End, nil
	}
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case m := <-r.ch:
		switch {
		case m.err != nil:
			return op.NothingAvailable, m.err
		case m.end:
			r.ended = true
			return op.End, nil
		}
		for _, l := range m.lines {
			out.Collect(l)
		}
		return op.MoreAvailable, nil
	case <-t.C:
		return op.NothingAvailable, nil
	case <-ctx.Done():
		return op.NothingAvailable, nil
	}
}

// Snapshot implements op.SourceReader: the socket has no position to restore.
func (r *reader) Snapshot(int64) ([]byte, error) { return nil, nil }

// Close implements op.SourceReader: stops the connection goroutine.
func (r *reader) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}
