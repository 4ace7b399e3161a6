package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/yarn/security"
)

func init() { fs.Register("hdfs", factory) }

// factory serves fs.Get for hdfs:// URIs. The configuration comes from
// HADOOP_CONF_DIR when set; "hdfs:///p" (no authority) needs it for
// fs.defaultFS, "hdfs://host:port/p" works without it (SIMPLE auth). On a
// Kerberized cluster a YARN container logs in again with its shipped keytab
// (KRB5_CLIENT_KTNAME) or else uses its HDFS delegation token
// (UseContainerToken); outside a container a keytab (KRB5_CLIENT_KTNAME) or
// the credential cache.
func factory(ctx context.Context, u *url.URL) (fs.FileSystem, error) {
	conf, err := LoadConf("")
	if err != nil && !errors.Is(err, ErrNoConfig) {
		return nil, err
	}
	var opts Options
	switch {
	case u.Host == "" && conf == nil:
		return nil, fmt.Errorf("hdfs: %s:/// names no NameNode and there is no fs.defaultFS: %w", u.Scheme, err)
	case u.Host == "":
		if opts, err = OptionsFromConf(conf); err != nil {
			return nil, err
		}
	default:
		if conf != nil {
			if opts, err = OptionsFromConf(conf); err != nil && !errors.Is(err, ErrNoConfig) {
				return nil, err
			}
		}
		opts.Addresses = ResolveAuthority(conf, u.Host)
		opts.Authority = u.Host
		if opts.User == "" {
			opts.User = DefaultUser()
		}
		if u.User != nil && u.User.Username() != "" {
			opts.User = u.User.Username()
		}
	}
	if opts.Kerberos != nil {
		return newKerberized(ctx, opts)
	}
	return New(ctx, opts)
}

// FileSystem is HDFS behind the fs.FileSystem interface, on top of
// github.com/colinmarc/hdfs/v2. It is safe for concurrent use (the NameNode
// connection serialises requests). Close it when done.
type FileSystem struct {
	client    *gohdfs.Client
	opts      Options
	authority string
	log       zerolog.Logger

	defaultsMu sync.Mutex
	defRepl    int
	defBlock   int64
}

var _ fs.FileSystem = (*FileSystem)(nil)

// New connects to the NameNode(s) in opts. With opts.Kerberos set it logs in to
// Kerberos first; otherwise it uses SIMPLE authentication as opts.User.
func New(ctx context.Context, opts Options) (*FileSystem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(opts.Addresses) == 0 {
		return nil, fmt.Errorf("hdfs: no NameNode address given: %w", ErrNoConfig)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	dial := (&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	co := gohdfs.ClientOptions{
		Addresses:              opts.Addresses,
		User:                   opts.User,
		UseDatanodeHostname:    opts.UseDatanodeHostname,
		NamenodeDialFunc:       dial,
		DatanodeDialFunc:       dial,
		DataTransferProtection: opts.DataTransferProtection,
	}
	if opts.Token != nil {
		if opts.Token.Kind != "" && opts.Token.Kind != security.KindHDFSDelegation && opts.Token.Kind != "WEBHDFS delegation" {
			return nil, fmt.Errorf("hdfs: token of kind %q is not an HDFS delegation token", opts.Token.Kind)
		}
		id, err := ParseDelegationTokenIdentifier(opts.Token.Identifier)
		if err != nil {
			return nil, err
		}
		// The NameNode requires the connection context's user to be the token's.
		co.User = id.User()
		co.NamenodeDialFunc = tokenDialer(dial, *opts.Token, opts.DialTimeout+10*time.Second)
	} else if opts.Kerberos != nil {
		kc, err := kerberosClient(opts.Kerberos)
		if err != nil {
			return nil, err
		}
		co.KerberosClient = kc
		co.KerberosServicePrincipleName = opts.Kerberos.ServicePrincipal
	} else if opts.User == "" {
		return nil, errors.New("hdfs: no user for SIMPLE authentication: set HADOOP_USER_NAME or USER")
	}
	authority := opts.Authority
	if authority == "" {
		authority = opts.Addresses[0]
	}
	client, err := callCleanup(ctx, func() (*gohdfs.Client, error) { return gohdfs.NewClient(co) },
		func(c *gohdfs.Client) { c.Close() })
	if err != nil {
		hint := "is it up? is HADOOP_CONF_DIR set?"
		if opts.Token != nil && strings.Contains(err.Error(), "delegation token login") {
			hint = "delegation token login failed: expired or for another cluster?"
		}
		return nil, fmt.Errorf("hdfs: connect to the NameNode at %s (%s): %w",
			strings.Join(opts.Addresses, ","), hint, err)
	}
	f := &FileSystem{
		client:    client,
		opts:      opts,
		authority: authority,
		log:       zerolog.Ctx(ctx).With().Str("component", "hdfs").Str("namenode", authority).Logger(),
	}
	f.log.Debug().Str("user", client.User()).Msg("connected")
	return f, nil
}

// NewFromEnv connects using HADOOP_CONF_DIR (fs.defaultFS) and the user from
// HADOOP_USER_NAME/USER. It fails with an error wrapping ErrNoConfig ("is
// HADOOP_CONF_DIR set?") when there is no configuration.
func NewFromEnv(ctx context.Context) (*FileSystem, error) {
	opts, err := LoadOptions("")
	if err != nil {
		return nil, err
	}
	return New(ctx, opts)
}

// Client exposes the underlying colinmarc/hdfs client for what the interface
// lacks (chmod, chown, xattrs, content summaries).
func (f *FileSystem) Client() *gohdfs.Client { return f.client }

// User is the HDFS user the file system acts as.
func (f *FileSystem) User() string { return f.client.User() }

// URI returns the fully qualified hdfs:// URI of p on this file system, e.g.
// for a YARN LocalResource URL.
func (f *FileSystem) URI(p string) string {
	return (&url.URL{Scheme: "hdfs", Host: f.authority, Path: fs.Clean(p)}).String()
}

// Authority is the nameservice or NameNode host:port this file system's URIs carry.
func (f *FileSystem) Authority() string { return f.authority }

// HomeDir is /user/<user>, HDFS's home directory convention.
func (f *FileSystem) HomeDir() string {
	u := f.client.User()
	if i := strings.IndexAny(u, "/@"); i >= 0 {
		u = u[:i] // Kerberos principal: the short name
	}
	return "/user/" + u
}

// Close closes the NameNode connection. Files still open for writing lose
// their leases.
func (f *FileSystem) Close() error { return f.client.Close() }

// Open opens a file for reading; the result supports ReadAt and Seek.
func (f *FileSystem) Open(ctx context.Context, p string) (fs.File, error) {
	p = fs.Clean(p)
	r, err := callCleanup(ctx, func() (*gohdfs.FileReader, error) {
		return retryStandby(ctx, func() (*gohdfs.FileReader, error) { return f.client.Open(p) })
	},
		func(r *gohdfs.FileReader) { r.Close() })
	if err != nil {
		return nil, f.wrap("open", p, err)
	}
	if r.Stat().IsDir() {
		r.Close()
		return nil, &os.PathError{Op: "open", Path: p, Err: errors.New("is a directory")}
	}
	return r, nil
}

// Create creates a file, making missing parent directories (mode 0755).
// With opts.Overwrite an existing file is deleted first (HDFS has no
// atomic replace on create; use Rename for that). Replication and block size
// come from opts, then from Options, then from the NameNode's defaults.
func (f *FileSystem) Create(ctx context.Context, p string, opts fs.CreateOptions) (fs.Writer, error) {
	p = fs.Clean(p)
	repl, block := opts.Replication, opts.BlockSize
	if repl == 0 {
		repl = f.opts.Replication
	}
	if block == 0 {
		block = f.opts.BlockSize
	}
	if repl == 0 || block == 0 {
		dr, db, err := f.serverDefaults(ctx)
		if err != nil {
			return nil, err
		}
		if repl == 0 {
			repl = dr
		}
		if block == 0 {
			block = db
		}
	}
	if repl < 0 || repl > 512 {
		return nil, fmt.Errorf("hdfs: create %s: replication %d out of range", p, repl)
	}
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	w, err := callCleanup(ctx, func() (*gohdfs.FileWriter, error) {
		return retryStandby(ctx, func() (*gohdfs.FileWriter, error) { return f.create(p, opts, repl, block, perm) })
	}, func(w *gohdfs.FileWriter) {
		w.Close()
		_ = f.client.Remove(p) // the caller gave up: do not leave an empty file behind
	})
	if err != nil {
		return nil, f.wrap("create", p, err)
	}
	return &writer{fs: f, w: w, path: p}, nil
}

// create makes the parents, removes a file being overwritten, and creates p.
func (f *FileSystem) create(p string, opts fs.CreateOptions, repl int, block int64, perm os.FileMode) (*gohdfs.FileWriter, error) {
	if err := f.client.MkdirAll(path.Dir(p), 0o755); err != nil {
		return nil, err
	}
	if opts.Overwrite {
		st, err := f.client.Stat(p)
		if err == nil && st.IsDir() {
			return nil, &os.PathError{Op: "create", Path: p, Err: errors.New("is a directory")}
		}
		if err == nil {
			if err := f.client.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return f.client.CreateFile(p, repl, block, perm)
}

func (f *FileSystem) serverDefaults(ctx context.Context) (int, int64, error) {
	f.defaultsMu.Lock()
	defer f.defaultsMu.Unlock()
	if f.defBlock == 0 { // not fetched yet (or the last attempt failed)
		d, err := call(ctx, func() (gohdfs.ServerDefaults, error) { return retryStandby(ctx, f.client.ServerDefaults) })
		if err != nil {
			return 0, 0, fmt.Errorf("hdfs: ask the NameNode for its defaults: %w", err)
		}
		f.defRepl, f.defBlock = d.Replication, d.BlockSize
	}
	return f.defRepl, f.defBlock, nil
}

// writer adapts colinmarc's FileWriter to fs.Writer.
type writer struct {
	fs   *FileSystem
	w    *gohdfs.FileWriter
	path string
	mu   sync.Mutex
	done bool
}

func (w *writer) Write(b []byte) (int, error) { return w.w.Write(b) }

// Close flushes the last block and completes the file. HDFS answers "not yet
// replicated" while the DataNodes have not reported the last block; like the
// Java client, Close retries that with backoff (up to about 30 s).
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return fmt.Errorf("hdfs: close %s: %w", w.path, os.ErrClosed)
	}
	w.done = true
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.w.Close()
		if err == nil {
			return nil
		}
		if !gohdfs.IsErrReplicating(err) || time.Now().After(deadline) {
			return fmt.Errorf("hdfs: complete %s: %w", w.path, err)
		}
		w.fs.log.Debug().Str("path", w.path).Dur("backoff", backoff).Msg("last block not yet replicated; retrying complete")
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Abort closes the file and deletes it.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return fmt.Errorf("hdfs: abort %s: %w", w.path, os.ErrClosed)
	}
	w.done = true
	_ = w.w.Close() // releases the lease where it can; the delete below is what matters
	if err := w.fs.client.Remove(w.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("hdfs: abort %s: delete the partial file: %w", w.path, err)
	}
	return nil
}

// Rename moves from to to atomically (HDFS rename2 with OVERWRITE), replacing
// a file at to. The parent of to must exist.
func (f *FileSystem) Rename(ctx context.Context, from, to string) error {
	from, to = fs.Clean(from), fs.Clean(to)
	_, err := call(ctx, func() (struct{}, error) {
		return retryStandby(ctx, func() (struct{}, error) { return struct{}{}, f.client.Rename(from, to) })
	})
	return f.wrap("rename", from+" to "+to, err)
}

// Delete removes a file or directory; the root cannot be deleted.
func (f *FileSystem) Delete(ctx context.Context, p string, recursive bool) error {
	p = fs.Clean(p)
	if p == "/" {
		return &os.PathError{Op: "delete", Path: p, Err: os.ErrPermission}
	}
	_, err := call(ctx, func() (struct{}, error) {
		return retryStandby(ctx, func() (struct{}, error) {
			if recursive {
				// RemoveAll hides a missing path; the fs contract reports it.
				if _, err := f.client.Stat(p); err != nil {
					return struct{}{}, err
				}
				return struct{}{}, f.client.RemoveAll(p)
			}
			return struct{}{}, f.client.Remove(p)
		})
	})
	return f.wrap("delete", p, err)
}

// List lists a directory, sorted by name.
func (f *FileSystem) List(ctx context.Context, dir string) ([]fs.FileInfo, error) {
	dir = fs.Clean(dir)
	infos, err := call(ctx, func() ([]os.FileInfo, error) {
		return retryStandby(ctx, func() ([]os.FileInfo, error) {
			r, err := f.client.Open(dir)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			if !r.Stat().IsDir() {
				return nil, &os.PathError{Op: "list", Path: dir, Err: errors.New("not a directory")}
			}
			return r.Readdir(0)
		})
	})
	if err != nil {
		return nil, f.wrap("list", dir, err)
	}
	out := make([]fs.FileInfo, 0, len(infos))
	for _, info := range infos {
		out = append(out, toFileInfo(fs.Join(dir, info.Name()), info))
	}
	return out, nil
}

// Stat describes a path. ModTime is HDFS's modification time (ms resolution).
func (f *FileSystem) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	p = fs.Clean(p)
	info, err := call(ctx, func() (os.FileInfo, error) {
		return retryStandby(ctx, func() (os.FileInfo, error) { return f.client.Stat(p) })
	})
	if err != nil {
		return fs.FileInfo{}, f.wrap("stat", p, err)
	}
	return toFileInfo(p, info), nil
}

// MkdirAll creates a directory and its missing parents (perm 0 means 0755).
func (f *FileSystem) MkdirAll(ctx context.Context, p string, perm os.FileMode) error {
	p = fs.Clean(p)
	if perm == 0 {
		perm = 0o755
	}
	_, err := call(ctx, func() (struct{}, error) {
		return retryStandby(ctx, func() (struct{}, error) { return struct{}{}, f.client.MkdirAll(p, perm) })
	})
	return f.wrap("mkdir", p, err)
}

// Resource is what a YARN LocalResource needs about a file: its size and its
// modification time in milliseconds, exactly as the NameNode reports them
// (the NodeManager refuses a resource whose timestamp differs by one ms).
type Resource struct {
	// URI is the fully qualified hdfs:// URI.
	URI string
	// Path is the path within the file system.
	Path string
	// Size in bytes.
	Size int64
	// Timestamp is the modification time in ms since the epoch.
	Timestamp int64
}

// StatResource returns size and timestamp of a file for a YARN LocalResource.
func (f *FileSystem) StatResource(ctx context.Context, p string) (Resource, error) {
	st, err := f.Stat(ctx, p)
	if err != nil {
		return Resource{}, err
	}
	if st.IsDir {
		return Resource{}, fmt.Errorf("hdfs: %s is a directory, not a file resource", st.Path)
	}
	return Resource{URI: f.URI(st.Path), Path: st.Path, Size: st.Size, Timestamp: st.ModTime.UnixMilli()}, nil
}

// Upload copies a local file to p (replacing it) with the given replication
// factor (0: the default) and returns it as a Resource. Parents are created.
func (f *FileSystem) Upload(ctx context.Context, localPath, p string, replication int) (Resource, error) {
	src, err := os.Open(localPath)
	if err != nil {
		return Resource{}, fmt.Errorf("hdfs: upload: %w", err)
	}
	defer src.Close()
	w, err := f.Create(ctx, p, fs.CreateOptions{Overwrite: true, Replication: replication})
	if err != nil {
		return Resource{}, fmt.Errorf("hdfs: upload %s: %w", localPath, err)
	}
	if _, err := io.Copy(w, src); err != nil {
		return Resource{}, errors.Join(fmt.Errorf("hdfs: upload %s to %s: %w", localPath, p, err), w.Abort())
	}
	if err := w.Close(); err != nil {
		return Resource{}, fmt.Errorf("hdfs: upload %s: %w", localPath, err)
	}
	return f.StatResource(ctx, p)
}

// wrap names the operation, the path and the NameNode in an error; nil stays
// nil, and context errors pass unchanged. errors.Is against fs.ErrNotExist
// and friends keeps working through the wrapping.
func (f *FileSystem) wrap(op, p string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("hdfs: %s %s on %s: %w", op, p, f.authority, err)
}

func toFileInfo(p string, info os.FileInfo) fs.FileInfo {
	fi := fs.FileInfo{Path: p, ModTime: info.ModTime(), IsDir: info.IsDir(), Mode: info.Mode() & (os.ModePerm | os.ModeDir)}
	if !fi.IsDir {
		fi.Size = info.Size()
	}
	return fi
}

// failoverWait bounds how long an operation waits for an active NameNode when
// every NameNode answers StandbyException (a failover in progress, or
// colinmarc still backing off from the NameNode that has just become active).
const failoverWait = 30 * time.Second

// retryStandby retries fn while it fails with a StandbyException. That is
// safe for every operation: a standby NameNode executes nothing.
func retryStandby[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(failoverWait)
	backoff := 250 * time.Millisecond
	for {
		v, err := fn()
		if err == nil || !isStandby(err) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func isStandby(err error) bool {
	return strings.Contains(err.Error(), "org.apache.hadoop.ipc.StandbyException")
}

// call runs fn, returning early with ctx.Err() when ctx ends first (fn then
// finishes in the background: colinmarc's client takes no context). It
// returns at once when ctx is already done.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	return callCleanup(ctx, fn, nil)
}

// callCleanup is call for results that hold resources: when ctx ends first,
// cleanup releases the result fn produces later.
func callCleanup[T any](ctx context.Context, fn func() (T, error), cleanup func(T)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		if cleanup != nil {
			go func() {
				if r := <-ch; r.err == nil {
					cleanup(r.v)
				}
			}()
		}
		return zero, ctx.Err()
	}
}
