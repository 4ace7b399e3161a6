package s3fs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/fs"
)

// modeMetaKey is the user-metadata key (x-amz-meta-flink-go-mode) that keeps
// a file's or directory marker's permission bits, in octal. S3 enforces
// none of them (IAM policies decide access); they are kept so that code
// which checks modes (YARN staging dirs 0700, key files 0600) sees what it
// asked for.
const modeMetaKey = "flink-go-mode"

// hadoopDirSuffix marks directories in buckets written by old Hadoop S3
// clients ("dir_$folder$"); such objects are not listed as files.
const hadoopDirSuffix = "_$folder$"

func init() { register() }

// register (re-)registers the s3 and s3a schemes; fs.Register drops the
// FileSystems fs.Get cached for them.
func register() {
	fs.Register("s3", factory)
	fs.Register("s3a", factory)
}

// factory creates the FileSystem of one bucket (the URI's authority) from the
// process-wide configuration.
func factory(ctx context.Context, u *url.URL) (fs.FileSystem, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("s3fs: %s URI without a bucket: want %s://bucket/path", u.Scheme, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("s3fs: credentials in %s URIs are not supported: set s3.access-key/s3.secret-key or use the default credential chain", u.Scheme)
	}
	opts, err := CurrentOptions()
	if err != nil {
		return nil, err
	}
	f, err := New(ctx, u.Host, opts)
	if err != nil {
		return nil, err
	}
	f.scheme = u.Scheme
	return f, nil
}

// FileSystem is one S3 bucket as an fs.FileSystem. Paths map to keys by
// dropping the leading slash: "/ckpt/chk-1/_metadata" is key
// "ckpt/chk-1/_metadata". See the package documentation for how directories,
// renames and permissions are emulated.
type FileSystem struct {
	client    *s3.Client
	bucket    string
	scheme    string
	region    string
	opts      Options
	transport *http.Transport
	log       zerolog.Logger
}

var _ fs.FileSystem = (*FileSystem)(nil)

// New returns the FileSystem for bucket with opts (zero fields take their
// defaults). It logs to the zerolog logger in ctx, if any, else to the
// package's (SetLogger). It makes no request unless the region must be discovered (no
// region configured anywhere), in which case it asks S3 for the bucket's
// region once.
func New(ctx context.Context, bucket string, opts Options) (*FileSystem, error) {
	if err := validBucket(bucket); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	base := logger
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		base = l.With().Str("component", "s3fs").Logger() // the caller's logger, as the hdfs package does
	}
	log := base.With().Str("bucket", bucket).Logger()
	client, region, tr, err := newClient(ctx, bucket, opts, log)
	if err != nil {
		return nil, err
	}
	return &FileSystem{client: client, bucket: bucket, scheme: "s3", region: region, opts: opts, transport: tr, log: log}, nil
}

func validBucket(b string) error {
	if b == "" || len(b) > 255 || strings.ContainsAny(b, "/ \\") {
		return fmt.Errorf("s3fs: invalid bucket name %q", b)
	}
	return nil
}

// Bucket is the bucket this FileSystem serves.
func (f *FileSystem) Bucket() string { return f.bucket }

// Region is the region requests are signed for.
func (f *FileSystem) Region() string { return f.region }

// Client is the underlying SDK client, for operations the fs interface lacks.
func (f *FileSystem) Client() *s3.Client { return f.client }

// Close releases idle connections. The FileSystem stays usable.
func (f *FileSystem) Close() error {
	f.transport.CloseIdleConnections()
	return nil
}

// key maps a path to its object key ("" for the root).
func key(p string) string { return strings.TrimPrefix(fs.Clean(p), "/") }

// dirPrefix is the key prefix of the entries of directory key k.
func dirPrefix(k string) string {
	if k == "" {
		return ""
	}
	return k + "/"
}

func (f *FileSystem) uri(k string) string { return f.scheme + "://" + f.bucket + "/" + k }

func modeOf(meta map[string]string, def os.FileMode) os.FileMode {
	if v, ok := meta[modeMetaKey]; ok {
		if m, err := strconv.ParseUint(v, 8, 32); err == nil {
			return os.FileMode(m) & os.ModePerm
		}
	}
	return def
}

func modeMeta(perm os.FileMode, def os.FileMode) map[string]string {
	if perm == 0 {
		perm = def
	}
	return map[string]string{modeMetaKey: fmt.Sprintf("%04o", perm.Perm())}
}

// head returns the object's metadata, or an error (isNotFound for a missing key).
func (f *FileSystem) head(ctx context.Context, k string) (*s3.HeadObjectOutput, error) {
	return f.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: aws.String(k)})
}

// Stat describes a path: a file is an object; a directory is a prefix with
// objects below it, or a marker object "dir/" written by MkdirAll.
func (f *FileSystem) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return fs.FileInfo{}, err
	}
	p = fs.Clean(p)
	k := key(p)
	if k == "" {
		if _, err := f.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &f.bucket}); err != nil {
			if isNotFound(err) {
				return fs.FileInfo{}, fmt.Errorf("s3: stat %s: bucket %q does not exist (is the bucket name right? is s3.endpoint %s right?): %w",
					f.uri(""), f.bucket, f.endpointDesc(), errors.Join(fs.ErrNotExist, err))
			}
			return fs.FileInfo{}, f.wrapErr("stat", "", err)
		}
		return fs.FileInfo{Path: "/", IsDir: true, Mode: os.ModeDir | 0o755}, nil
	}
	h, err := f.head(ctx, k)
	if err == nil {
		return fs.FileInfo{Path: p, Size: aws.ToInt64(h.ContentLength), ModTime: aws.ToTime(h.LastModified),
			Mode: modeOf(h.Metadata, 0o644)}, nil
	}
	if !isNotFound(err) {
		return fs.FileInfo{}, f.wrapErr("stat", k, err)
	}
	fi, ok, err := f.statDir(ctx, p)
	if err != nil {
		return fs.FileInfo{}, err
	}
	if !ok {
		return fs.FileInfo{}, fmt.Errorf("s3: stat %s: %w", f.uri(k), fs.ErrNotExist)
	}
	return fi, nil
}

// statDir reports whether p (not the root) is a directory: a marker or any
// object below it.
func (f *FileSystem) statDir(ctx context.Context, p string) (fs.FileInfo, bool, error) {
	prefix := dirPrefix(key(p))
	out, err := f.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return fs.FileInfo{}, false, f.wrapErr("stat", prefix, err)
	}
	if len(out.Contents) == 0 {
		return fs.FileInfo{}, false, nil
	}
	fi := fs.FileInfo{Path: p, IsDir: true, Mode: os.ModeDir | 0o755}
	first := out.Contents[0]
	if aws.ToString(first.Key) == prefix { // the marker sorts first
		fi.ModTime = aws.ToTime(first.LastModified)
		if h, err := f.head(ctx, prefix); err == nil {
			fi.Mode = os.ModeDir | modeOf(h.Metadata, 0o755)
		} else if !isNotFound(err) {
			return fs.FileInfo{}, false, f.wrapErr("stat", prefix, err)
		}
	}
	return fi, true, nil
}

// List returns the entries of a directory sorted by name. Files report mode
// 0644 and directories 0755 (listings carry no metadata; Stat reads the
// stored mode).
func (f *FileSystem) List(ctx context.Context, dir string) ([]fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir = fs.Clean(dir)
	k := key(dir)
	prefix := dirPrefix(k)
	var out []fs.FileInfo
	sawMarker := false
	pager := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix, Delimiter: aws.String("/")})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, f.wrapErr("list", prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if name == "" {
				continue // "dir//x": an empty path element, not reachable by paths
			}
			out = append(out, fs.FileInfo{Path: fs.Join(dir, name), IsDir: true, Mode: os.ModeDir | 0o755})
		}
		for _, obj := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(obj.Key), prefix)
			if name == "" {
				sawMarker = true
				continue
			}
			if strings.HasSuffix(name, hadoopDirSuffix) {
				continue
			}
			out = append(out, fs.FileInfo{Path: fs.Join(dir, name), Size: aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified), Mode: 0o644})
		}
	}
	if len(out) == 0 && !sawMarker && k != "" {
		if _, err := f.head(ctx, k); err == nil {
			return nil, fmt.Errorf("s3: list %s: not a directory (it is a file)", f.uri(k))
		} else if !isNotFound(err) {
			return nil, f.wrapErr("list", k, err)
		}
		return nil, fmt.Errorf("s3: list %s: %w", f.uri(k), fs.ErrNotExist)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].IsDir && !out[j].IsDir
	})
	return out, nil
}

// MkdirAll writes a directory marker object "dir/" carrying perm, unless the
// marker exists. Parent directories need no marker: they exist because the
// marker is below them. A directory with a marker outlives its last file;
// one without (made implicitly by Create) disappears with it.
func (f *FileSystem) MkdirAll(ctx context.Context, p string, perm os.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := key(p)
	if k == "" {
		return nil
	}
	if _, err := f.head(ctx, k); err == nil {
		return fmt.Errorf("s3: mkdir %s: %w (a file has that name)", f.uri(k), fs.ErrExist)
	} else if !isNotFound(err) {
		return f.wrapErr("mkdir", k, err)
	}
	marker := dirPrefix(k)
	if _, err := f.head(ctx, marker); err == nil {
		return nil
	} else if !isNotFound(err) {
		return f.wrapErr("mkdir", marker, err)
	}
	_, err := f.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &f.bucket, Key: &marker, Body: strings.NewReader(""),
		ContentLength: aws.Int64(0), ContentType: aws.String("application/x-directory"), Metadata: modeMeta(perm, 0o755),
		IfNoneMatch: aws.String("*")})
	if err != nil {
		if k, _, _ := classify(err); k == kindPrecondition {
			return nil // made concurrently
		}
		return f.wrapErr("mkdir", marker, err)
	}
	return nil
}

// Delete removes a file, or a directory: its marker and, with recursive,
// every object below it, in batches of up to 1000 keys (DeleteObjects).
func (f *FileSystem) Delete(ctx context.Context, p string, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := key(p)
	if k == "" {
		return fmt.Errorf("s3: delete %s: refusing to delete the bucket's root: %w", f.uri(""), fs.ErrPermission)
	}
	if _, err := f.head(ctx, k); err == nil {
		if _, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &k}); err != nil {
			return f.wrapErr("delete", k, err)
		}
		return nil
	} else if !isNotFound(err) {
		return f.wrapErr("delete", k, err)
	}
	prefix := dirPrefix(k)
	if !recursive {
		out, err := f.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix, MaxKeys: aws.Int32(2)})
		if err != nil {
			return f.wrapErr("delete", prefix, err)
		}
		switch {
		case len(out.Contents) == 0:
			return fmt.Errorf("s3: delete %s: %w", f.uri(k), fs.ErrNotExist)
		case len(out.Contents) > 1 || aws.ToString(out.Contents[0].Key) != prefix:
			return fmt.Errorf("s3: delete %s: %w (use a recursive delete)", f.uri(k), fs.ErrNotEmpty)
		}
		if _, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &prefix}); err != nil {
			return f.wrapErr("delete", prefix, err)
		}
		return nil
	}
	n := 0
	pager := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return f.wrapErr("delete", prefix, err)
		}
		keys := make([]string, 0, len(page.Contents))
		for _, obj := range page.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
		if err := f.deleteKeys(ctx, keys); err != nil {
			return err
		}
		n += len(keys)
	}
	if n == 0 {
		return fmt.Errorf("s3: delete %s: %w", f.uri(k), fs.ErrNotExist)
	}
	f.log.Debug().Str("prefix", prefix).Int("objects", n).Msg("deleted directory")
	return nil
}

// deleteKeys deletes keys with DeleteObjects, 1000 per request, and reports
// the keys S3 could not delete.
func (f *FileSystem) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := f.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &f.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return f.wrapErr("delete objects below", keys[0], err)
		}
		var failed []string
		var first error
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			if first == nil {
				first = fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))
			}
			failed = append(failed, aws.ToString(e.Key))
		}
		if len(failed) > 0 {
			err := fmt.Errorf("s3: delete: %d of %d objects were not deleted (first %s: %w)", len(failed), n, f.uri(failed[0]), first)
			if strings.HasPrefix(first.Error(), "AccessDenied") {
				err = errors.Join(err, fs.ErrPermission)
			}
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Rename copies from to to on the server side (CopyObject, or UploadPartCopy
// in parts for objects over 5 GiB) and then deletes from; a directory is
// renamed object by object. It is not atomic: a failure can leave both
// copies or, for directories, part of the destination; a reader never sees
// a partially copied file, because each object copy is published whole.
func (f *FileSystem) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fk, tk := key(from), key(to)
	if fk == "" || tk == "" {
		return fmt.Errorf("s3: rename %s to %s: cannot rename the bucket's root or onto it", f.uri(fk), f.uri(tk))
	}
	if fk == tk {
		_, err := f.Stat(ctx, from)
		return err
	}
	if strings.HasPrefix(tk, fk+"/") {
		return fmt.Errorf("s3: rename %s to %s: cannot move a directory into itself", f.uri(fk), f.uri(tk))
	}
	src, err := f.head(ctx, fk)
	if err == nil {
		if _, isDir, err := f.statDir(ctx, fs.Clean(to)); err != nil {
			return err
		} else if isDir {
			return fmt.Errorf("s3: rename %s to %s: the destination is a directory: %w", f.uri(fk), f.uri(tk), fs.ErrExist)
		}
		if err := f.copyObject(ctx, fk, tk, aws.ToInt64(src.ContentLength), aws.ToString(src.ETag)); err != nil {
			return err
		}
		if _, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &fk}); err != nil {
			return f.wrapErr("rename: delete source", fk, err)
		}
		return nil
	}
	if !isNotFound(err) {
		return f.wrapErr("rename", fk, err)
	}
	return f.renameDir(ctx, fk, tk)
}

func (f *FileSystem) renameDir(ctx context.Context, fk, tk string) error {
	fp, tp := dirPrefix(fk), dirPrefix(tk)
	var objs []types.Object
	pager := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &fp})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return f.wrapErr("rename", fp, err)
		}
		objs = append(objs, page.Contents...)
	}
	if len(objs) == 0 {
		return fmt.Errorf("s3: rename %s: %w", f.uri(fk), fs.ErrNotExist)
	}
	if _, err := f.head(ctx, tk); err == nil {
		return fmt.Errorf("s3: rename directory %s to %s: a file has the destination's name: %w", f.uri(fk), f.uri(tk), fs.ErrExist)
	} else if !isNotFound(err) {
		return f.wrapErr("rename", tk, err)
	}
	out, err := f.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &tp, MaxKeys: aws.Int32(2)})
	if err != nil {
		return f.wrapErr("rename", tp, err)
	}
	if len(out.Contents) > 1 || (len(out.Contents) == 1 && aws.ToString(out.Contents[0].Key) != tp) {
		return fmt.Errorf("s3: rename directory %s to %s: the destination is a non-empty directory: %w", f.uri(fk), f.uri(tk), fs.ErrNotEmpty)
	}
	// Copy everything first, then delete the sources: a failure leaves the
	// source complete.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, f.opts.UploadConcurrency)
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, obj := range objs {
		sk := aws.ToString(obj.Key)
		dk := tp + strings.TrimPrefix(sk, fp)
		select {
		case sem <- struct{}{}:
		case <-cctx.Done():
		}
		if cctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.copyObject(cctx, sk, dk, aws.ToInt64(obj.Size), aws.ToString(obj.ETag)); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("s3: rename %s: %w", f.uri(fk), ctx.Err())
	}
	if firstErr != nil {
		return firstErr
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = aws.ToString(o.Key)
	}
	if err := f.deleteKeys(ctx, keys); err != nil {
		return fmt.Errorf("s3: rename %s to %s: copied, but deleting the sources failed: %w", f.uri(fk), f.uri(tk), err)
	}
	f.log.Debug().Str("from", fp).Str("to", tp).Int("objects", len(objs)).Msg("renamed directory")
	return nil
}

// copyObject copies one object (metadata included) on the server side. The
// source's ETag guards against copying a file that changed meanwhile.
func (f *FileSystem) copyObject(ctx context.Context, from, to string, size int64, etag string) error {
	if size > singleCopyLimit {
		return f.multipartCopy(ctx, from, to, size, etag)
	}
	in := &s3.CopyObjectInput{Bucket: &f.bucket, Key: &to, CopySource: aws.String(copySource(f.bucket, from))}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	if _, err := f.client.CopyObject(ctx, in); err != nil {
		return f.wrapErr("copy "+f.uri(from)+" to", to, err)
	}
	return nil
}

// singleCopyLimit and minCopyPartSize are MaxSinglePutCopy and 512 MiB;
// tests lower them to exercise multipart copies with small files.
var (
	singleCopyLimit int64 = MaxSinglePutCopy
	minCopyPartSize int64 = 512 << 20
)

// copySource is the x-amz-copy-source value: bucket/key, URL-escaped.
func copySource(bucket, k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		// "+" too: some servers decode it as a space.
		parts[i] = strings.ReplaceAll(url.PathEscape(p), "+", "%2B")
	}
	return bucket + "/" + strings.Join(parts, "/")
}

// copyPartSize picks the part size of a multipart copy: at least 512 MiB and
// large enough to stay within 10000 parts.
func copyPartSize(size int64) int64 {
	ps := minCopyPartSize
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		ps = need
	}
	return min(ps, int64(MaxPartSize))
}

// multipartCopy copies an object of over 5 GiB with UploadPartCopy.
func (f *FileSystem) multipartCopy(ctx context.Context, from, to string, size int64, etag string) error {
	h, err := f.head(ctx, from)
	if err != nil {
		return f.wrapErr("copy", from, err)
	}
	cr, err := f.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &f.bucket, Key: &to, Metadata: h.Metadata})
	if err != nil {
		return f.wrapErr("copy: start multipart upload of", to, err)
	}
	uploadID := cr.UploadId
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := f.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &f.bucket, Key: &to, UploadId: uploadID}); err != nil {
			f.log.Warn().Err(err).Str("key", to).Msg("abort multipart copy failed; a bucket lifecycle rule for incomplete uploads cleans it up")
		}
	}
	ps := copyPartSize(size)
	nparts := int((size + ps - 1) / ps)
	parts := make([]types.CompletedPart, nparts)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, f.opts.UploadConcurrency)
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range nparts {
		start := int64(i) * ps
		end := min(start+ps, size) - 1
		select {
		case sem <- struct{}{}:
		case <-cctx.Done():
		}
		if cctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			in := &s3.UploadPartCopyInput{Bucket: &f.bucket, Key: &to, UploadId: uploadID, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: aws.String(copySource(f.bucket, from)), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end))}
			if etag != "" {
				in.CopySourceIfMatch = aws.String(etag)
			}
			out, err := f.client.UploadPartCopy(cctx, in)
			if err == nil && out.CopyPartResult == nil {
				err = errors.New("no CopyPartResult in the response")
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = f.wrapErr(fmt.Sprintf("copy part %d of %d of %s to", i+1, nparts, f.uri(from)), to, err)
				}
				mu.Unlock()
				cancel()
				return
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("s3: copy %s: %w", f.uri(from), ctx.Err())
	}
	if firstErr != nil {
		abort()
		return firstErr
	}
	if _, err := f.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &f.bucket, Key: &to, UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		abort()
		return f.wrapErr("copy: complete multipart upload of", to, err)
	}
	return nil
}
