package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flink-go/flink-go/fs"
)

// skipLimit is how far a forward Seek may be served by reading and
// discarding from the open response instead of a new ranged GET.
const skipLimit = 256 << 10

// Open opens a file for reading. Sequential reads stream one GET from the
// current offset; Seek moves the offset (the next Read issues a new ranged
// GET, or skips ahead on the open one when the jump is small); ReadAt issues
// a ranged GET of exactly the bytes asked for and is safe for concurrent
// use. Every GET carries the ETag Open saw (If-Match), so a file replaced
// while it is read gives an error instead of mixed contents. A response cut
// off mid-way is resumed from where it stopped, with backoff, up to the
// configured attempts. The context bounds all reads of the file.
func (f *FileSystem) Open(ctx context.Context, p string) (fs.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := key(p)
	if k == "" {
		return nil, fmt.Errorf("s3: open %s: is a directory", f.uri(k))
	}
	h, err := f.head(ctx, k)
	if err != nil {
		if isNotFound(err) {
			if _, isDir, derr := f.statDir(ctx, fs.Clean(p)); derr == nil && isDir {
				return nil, fmt.Errorf("s3: open %s: is a directory", f.uri(k))
			}
		}
		return nil, f.wrapErr("open", k, err)
	}
	return &file{f: f, ctx: ctx, key: k, size: aws.ToInt64(h.ContentLength), etag: aws.ToString(h.ETag)}, nil
}

type file struct {
	f    *FileSystem
	ctx  context.Context
	key  string
	size int64
	etag string

	mu      sync.Mutex // guards the fields below (Read, Seek, Close)
	off     int64
	body    io.ReadCloser
	bodyOff int64
	closed  bool
}

// get opens a ranged GET of [off, end] (end < 0: to the end of the file).
func (r *file) get(off, end int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if end >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", off, end)
	}
	in := &s3.GetObjectInput{Bucket: &r.f.bucket, Key: &r.key, Range: aws.String(rng)}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.f.client.GetObject(r.ctx, in)
	if err != nil {
		if kind, _, _ := classify(err); kind == kindPrecondition {
			return nil, fmt.Errorf("s3: read %s: the file was replaced while it was read (ETag %s no longer matches): %w", r.f.uri(r.key), r.etag, err)
		}
		return nil, r.f.wrapErr("read", r.key, err)
	}
	return out.Body, nil
}

// pause waits before the next attempt to resume a cut-off read.
func (r *file) pause(attempt int, cause error) error {
	if attempt >= r.f.opts.MaxAttempts {
		return fmt.Errorf("s3: read %s: the connection kept failing (%d attempts): %w", r.f.uri(r.key), attempt, cause)
	}
	d := backoff{base: r.f.opts.BaseBackoff, max: r.f.opts.MaxBackoff}.delay(attempt, rand.Float64())
	r.f.log.Warn().Err(cause).Str("key", r.key).Int("attempt", attempt).Dur("backoff", d).Msg("read interrupted; resuming")
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return fmt.Errorf("s3: read %s: %w", r.f.uri(r.key), r.ctx.Err())
	}
}

func (r *file) dropBody() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
}

// Read reads from the current offset.
func (r *file) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("s3: read %s: file already closed", r.f.uri(r.key))
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.off >= r.size {
		r.dropBody()
		return 0, io.EOF
	}
	if r.body != nil && r.bodyOff != r.off {
		if d := r.off - r.bodyOff; d > 0 && d <= skipLimit {
			if n, err := io.CopyN(io.Discard, r.body, d); err != nil || n != d {
				r.dropBody()
			} else {
				r.bodyOff = r.off
			}
		} else {
			r.dropBody()
		}
	}
	if max := r.size - r.off; int64(len(p)) > max {
		p = p[:max]
	}
	for attempt := 1; ; attempt++ {
		if r.body == nil {
			body, err := r.get(r.off, -1)
			if err != nil {
				return 0, err
			}
			r.body, r.bodyOff = body, r.off
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		r.bodyOff += int64(n)
		if err == nil {
			return n, nil
		}
		r.dropBody()
		if r.off >= r.size {
			return n, nil // the next Read reports io.EOF
		}
		if n > 0 {
			return n, nil // resume on the next Read
		}
		if r.ctx.Err() != nil {
			return 0, fmt.Errorf("s3: read %s: %w", r.f.uri(r.key), r.ctx.Err())
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if perr := r.pause(attempt, err); perr != nil {
			return 0, perr
		}
	}
}

// ReadAt reads len(p) bytes at off with one ranged GET (resumed if cut off).
// It returns io.EOF with the bytes that exist when the range passes the end.
func (r *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3: read %s: negative offset %d", r.f.uri(r.key), off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	got := int64(0)
	for attempt := 1; got < want; attempt++ {
		body, err := r.get(off+got, off+want-1)
		if err != nil {
			return int(got), err
		}
		n, err := io.ReadFull(body, p[got:want])
		_ = body.Close()
		got += int64(n)
		if err == nil || got == want {
			break
		}
		if r.ctx.Err() != nil {
			return int(got), fmt.Errorf("s3: read %s: %w", r.f.uri(r.key), r.ctx.Err())
		}
		if n > 0 {
			attempt = 0 // progress: the attempts count again
		}
		if perr := r.pause(max(attempt, 1), err); perr != nil {
			return int(got), perr
		}
	}
	if want < int64(len(p)) {
		return int(got), io.EOF
	}
	return int(got), nil
}

// Seek sets the offset for the next Read. Offsets past the end are allowed
// (Read then reports io.EOF); negative ones are an error.
func (r *file) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("s3: seek %s: file already closed", r.f.uri(r.key))
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("s3: seek %s: invalid whence %d", r.f.uri(r.key), whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("s3: seek %s: negative position %d", r.f.uri(r.key), abs)
	}
	r.off = abs
	return abs, nil
}

// Close releases the open response, if any.
func (r *file) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("s3: close " + r.f.uri(r.key) + ": file already closed")
	}
	r.closed = true
	r.dropBody()
	return nil
}
