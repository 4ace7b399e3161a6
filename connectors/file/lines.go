package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flink-go/flink-go/fs"
)

// lineReader reads the lines that start inside a byte range [start, end) of one file: the
// Hadoop/Flink input-split rule. If start > 0 and the byte before start is not a newline, the
// (partial) line that straddles start belongs to the previous range and is skipped; the last
// line that starts before end is read to its end even if that lies beyond end. end < 0 means
// "to the end of the file". Lines exclude the '\n' and a trailing '\r'.
type lineReader struct {
	f    fs.File
	path string
	end  int64
	buf  []byte
	r, w int   // unconsumed bytes are buf[r:w]
	off  int64 // file offset of buf[0]
	eof  bool
	done bool
	idx  []int
}

func newLineReader(bufSize int) *lineReader {
	return &lineReader{buf: make([]byte, bufSize)}
}

// open positions the reader at the first line starting at or after start.
func (lr *lineReader) open(ctx context.Context, path string, start, end int64) error {
	lr.closeFile()
	fsys, p, err := openID(ctx, path)
	if err != nil {
		return fmt.Errorf("file source: %w", err)
	}
	f, err := fsys.Open(ctx, p)
	if err != nil {
		return fmt.Errorf("file source: open %s (was it deleted or moved while the job ran?): %w", path, err)
	}
	lr.f, lr.path, lr.end = f, path, end
	lr.r, lr.w, lr.eof, lr.done = 0, 0, false, false
	seekTo := start
	if start > 0 {
		seekTo = start - 1
	}
	if _, err := f.Seek(seekTo, io.SeekStart); err != nil {
		return fmt.Errorf("file source: seek %s to %d: %w", path, seekTo, err)
	}
	lr.off = seekTo
	if start > 0 {
		// Skip through the first '\n' at or after start-1.
		for {
			if i := bytes.IndexByte(lr.buf[lr.r:lr.w], '\n'); i >= 0 {
				lr.r += i + 1
				break
			}
			lr.r = lr.w
			if lr.eof {
				lr.done = true
				return nil
			}
			if err := lr.fill(); err != nil {
				return err
			}
		}
	}
	if lr.end >= 0 && lr.pos() >= lr.end {
		lr.done = true
	}
	return nil
}

// pos is the file offset of the next unread line.
func (lr *lineReader) pos() int64 { return lr.off + int64(lr.r) }

// fill reads more data, compacting or growing the buffer as needed.
func (lr *lineReader) fill() error {
	if lr.r > 0 {
		n := copy(lr.buf, lr.buf[lr.r:lr.w])
		lr.off += int64(lr.r)
		lr.r, lr.w = 0, n
	}
	if lr.w == len(lr.buf) { // a line longer than the buffer: grow
		nb := make([]byte, 2*len(lr.buf))
		copy(nb, lr.buf[:lr.w])
		lr.buf = nb
	}
	n, err := lr.f.Read(lr.buf[lr.w:])
	lr.w += n
	if errors.Is(err, io.EOF) || (err == nil && n == 0) {
		lr.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("file source: read %s at %d: %w", lr.path, lr.off+int64(lr.w), err)
	}
	return nil
}

// next emits up to max lines through emit and returns how many; lr.done reports the range end.
func (lr *lineReader) next(max int, emit func(string)) (int, error) {
	n := 0
	for n < max && !lr.done {
		data := lr.buf[lr.r:lr.w]
		// Pass 1: find the complete lines to emit (bounds into data).
		lr.idx = lr.idx[:0]
		scanned := 0
		for n+len(lr.idx)/2 < max {
			if lr.end >= 0 && lr.off+int64(lr.r+scanned) >= lr.end {
				lr.done = true
				break
			}
			i := bytes.IndexByte(data[scanned:], '\n')
			if i < 0 {
				break
			}
			j := scanned + i
			k := j
			if k > scanned && data[k-1] == '\r' {
				k--
			}
			lr.idx = append(lr.idx, scanned, k)
			scanned = j + 1
		}
		// Pass 2: emit them (one string allocation per line; converting a whole batch at once
		// measured slower and would pin the batch's memory while any line lives).
		if len(lr.idx) > 0 {
			for x := 0; x < len(lr.idx); x += 2 {
				emit(string(data[lr.idx[x]:lr.idx[x+1]]))
			}
			n += len(lr.idx) / 2
		}
		lr.r += scanned
		if lr.done || n >= max {
			break
		}
		if lr.eof {
			// Last line without a trailing newline (if it starts inside the range).
			if lr.r < lr.w && (lr.end < 0 || lr.pos() < lr.end) {
				emit(string(bytes.TrimSuffix(lr.buf[lr.r:lr.w], []byte{'\r'})))
				n++
				lr.r = lr.w
			}
			lr.done = true
			break
		}
		if err := lr.fill(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (lr *lineReader) closeFile() error {
	if lr.f == nil {
		return nil
	}
	err := lr.f.Close()
	lr.f = nil
	return err
}
