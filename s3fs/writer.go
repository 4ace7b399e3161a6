package s3fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flink-go/flink-go/fs"
)

// Create starts writing a file. Nothing is visible until Close: a file of up
// to one part (8 MiB by default) is written by one PutObject on Close; a
// larger one becomes a multipart upload whose parts upload in the
// background as they fill, completed on Close and aborted by Abort or on a
// failure. Either way the object appears whole or not at all.
//
// Without opts.Overwrite an existing file gives ErrExist, checked when
// Create is called and again, atomically, when the object is published
// (If-None-Match: *). The context bounds the whole write, including the
// uploads that Write and Close start.
func (f *FileSystem) Create(ctx context.Context, p string, opts fs.CreateOptions) (fs.Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := key(p)
	if k == "" {
		return nil, fmt.Errorf("s3: create %s: the bucket's root is a directory", f.uri(k))
	}
	if !opts.Overwrite {
		if _, err := f.head(ctx, k); err == nil {
			return nil, fmt.Errorf("s3: create %s: %w", f.uri(k), fs.ErrExist)
		} else if !isNotFound(err) {
			return nil, f.wrapErr("create", k, err)
		}
	}
	return &writer{
		f: f, ctx: ctx, key: k, overwrite: opts.Overwrite, meta: modeMeta(opts.Perm, 0o644),
		partSize: int(f.opts.PartSize), sem: make(chan struct{}, f.opts.UploadConcurrency),
	}, nil
}

// bufPools hold part buffers by size.
var bufPools sync.Map // int -> *sync.Pool

func getBuf(size int) []byte {
	p, _ := bufPools.LoadOrStore(size, &sync.Pool{New: func() any { b := make([]byte, 0, size); return &b }})
	return (*p.(*sync.Pool).Get().(*[]byte))[:0]
}

func putBuf(b []byte) {
	if b == nil {
		return
	}
	if p, ok := bufPools.Load(cap(b)); ok {
		b = b[:0]
		p.(*sync.Pool).Put(&b)
	}
}

// writer is a file being uploaded.
type writer struct {
	f         *FileSystem
	ctx       context.Context
	key       string
	overwrite bool
	meta      map[string]string
	partSize  int

	buf      []byte
	size     int64
	uploadID *string
	nparts   int32
	sem      chan struct{} // bounds parts in flight
	wg       sync.WaitGroup
	done     bool

	mu    sync.Mutex
	parts []types.CompletedPart
	md5s  [][]byte // per part, for the expected ETag of the whole upload
	err   error    // first failure of a background part upload
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write buffers p, uploading each full part.
func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("s3: write %s: writer already closed", w.f.uri(w.key))
	}
	if err := w.failure(); err != nil {
		return 0, err
	}
	if err := w.ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3: write %s: %w", w.f.uri(w.key), err)
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.partSize {
			// Upload a full part only once more data follows: a file of
			// exactly one part is still a single PutObject.
			if err := w.flushPart(); err != nil {
				w.fail(err) // sticky: Close must not publish a truncated file
				return n, err
			}
		}
		// The first part grows as needed (small files stay small); later
		// parts use pooled part-size buffers.
		c := min(w.partSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:c]...)
		p = p[c:]
		n += c
		w.size += int64(c)
	}
	return n, nil
}

// flushPart starts the multipart upload if needed and uploads the buffer as
// the next part in the background.
func (w *writer) flushPart() error {
	if w.uploadID == nil {
		out, err := w.f.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{Bucket: &w.f.bucket, Key: &w.key, Metadata: w.meta})
		if err != nil {
			return w.f.wrapErr("create: start multipart upload of", w.key, err)
		}
		w.uploadID = out.UploadId
	}
	if w.nparts >= MaxParts {
		return fmt.Errorf("s3: write %s: more than %d parts of %d bytes: raise %s", w.f.uri(w.key), MaxParts, w.partSize, KeyPartSize)
	}
	w.nparts++
	num := w.nparts
	data := w.buf
	w.buf = getBuf(w.partSize)
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		putBuf(data)
		return fmt.Errorf("s3: write %s: %w", w.f.uri(w.key), w.ctx.Err())
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		defer putBuf(data)
		if err := w.uploadPart(num, data); err != nil {
			w.fail(err)
		}
	}()
	return nil
}

func (w *writer) uploadPart(num int32, data []byte) error {
	sum := md5.Sum(data)
	out, err := w.f.client.UploadPart(w.ctx, &s3.UploadPartInput{Bucket: &w.f.bucket, Key: &w.key, UploadId: w.uploadID,
		PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		return w.f.wrapErr(fmt.Sprintf("upload part %d of", num), w.key, err)
	}
	w.mu.Lock()
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	for len(w.md5s) < int(num) {
		w.md5s = append(w.md5s, nil)
	}
	w.md5s[num-1] = sum[:]
	w.mu.Unlock()
	w.f.log.Debug().Str("key", w.key).Int32("part", num).Int("bytes", len(data)).Msg("part uploaded")
	return nil
}

// Close publishes the file: one PutObject, or the last part and
// CompleteMultipartUpload. On failure the multipart upload is aborted.
func (w *writer) Close() error {
	if w.done {
		return fmt.Errorf("s3: close %s: writer already closed", w.f.uri(w.key))
	}
	w.done = true
	defer func() { putBuf(w.buf); w.buf = nil }()
	if w.uploadID == nil {
		if err := w.failure(); err != nil {
			return err
		}
		return w.putSingle()
	}
	if len(w.buf) > 0 && w.failure() == nil {
		w.nparts++
		if err := w.uploadPart(w.nparts, w.buf); err != nil {
			w.wg.Wait()
			w.abortUpload()
			return err
		}
	}
	w.wg.Wait()
	if err := w.failure(); err != nil {
		w.abortUpload()
		return err
	}
	if err := w.ctx.Err(); err != nil {
		w.abortUpload()
		return fmt.Errorf("s3: close %s: %w", w.f.uri(w.key), err)
	}
	sort.Slice(w.parts, func(i, j int) bool { return *w.parts[i].PartNumber < *w.parts[j].PartNumber })
	in := &s3.CompleteMultipartUploadInput{Bucket: &w.f.bucket, Key: &w.key, UploadId: w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts}}
	if !w.overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := w.f.client.CompleteMultipartUpload(w.ctx, in)
	if err == nil {
		w.f.log.Debug().Str("key", w.key).Int64("bytes", w.size).Int32("parts", w.nparts).Msg("multipart upload complete")
		return nil
	}
	// A retried Complete whose first attempt succeeded (the response was
	// lost) answers NoSuchUpload, or PreconditionFailed with If-None-Match:
	// if the object now is exactly our upload, the write succeeded.
	if kind, _, _ := classify(err); kind == kindNoSuchUpload || kind == kindPrecondition {
		if w.landed(multipartETag(w.md5s)) {
			return nil
		}
	}
	w.abortUpload()
	return w.f.wrapErr("close: complete multipart upload of", w.key, err)
}

// putSingle writes a small file with one PutObject.
func (w *writer) putSingle() error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("s3: close %s: %w", w.f.uri(w.key), err)
	}
	sum := md5.Sum(w.buf)
	in := &s3.PutObjectInput{Bucket: &w.f.bucket, Key: &w.key, Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])), Metadata: w.meta}
	if !w.overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := w.f.client.PutObject(w.ctx, in)
	if err == nil {
		return nil
	}
	if kind, _, _ := classify(err); kind == kindPrecondition && w.landed(`"`+hex.EncodeToString(sum[:])+`"`) {
		return nil // our own earlier attempt landed; its response was lost
	}
	return w.f.wrapErr("close: put", w.key, err)
}

// landed reports whether the object at the key has the ETag our upload would
// have produced.
func (w *writer) landed(etag string) bool {
	h, err := w.f.head(w.ctx, w.key)
	if err != nil {
		return false
	}
	ok := strings.EqualFold(aws.ToString(h.ETag), etag) && aws.ToInt64(h.ContentLength) == w.size
	if ok {
		w.f.log.Info().Str("key", w.key).Msg("upload found complete after a retried request lost its response")
	}
	return ok
}

// multipartETag is S3's ETag of a multipart upload: the MD5 of the parts'
// MD5s, a dash, and the number of parts.
func multipartETag(md5s [][]byte) string {
	h := md5.New()
	for _, m := range md5s {
		h.Write(m)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(md5s))
}

// Abort discards the file: nothing was published, and a multipart upload is
// aborted so its parts are freed.
func (w *writer) Abort() error {
	if w.done {
		return fmt.Errorf("s3: abort %s: writer already closed", w.f.uri(w.key))
	}
	w.done = true
	w.wg.Wait()
	putBuf(w.buf)
	w.buf = nil
	if w.uploadID != nil {
		return w.abortUpload()
	}
	return nil
}

func (w *writer) abortUpload() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	_, err := w.f.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.f.bucket, Key: &w.key, UploadId: w.uploadID})
	if err != nil {
		if kind, _, _ := classify(err); kind == kindNoSuchUpload {
			return nil
		}
		w.f.log.Warn().Err(err).Str("key", w.key).Msg("abort multipart upload failed; its parts stay until a bucket lifecycle rule for incomplete uploads removes them")
		return w.f.wrapErr("abort multipart upload of", w.key, err)
	}
	return nil
}
