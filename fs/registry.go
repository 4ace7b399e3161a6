package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Factory creates the FileSystem for one scheme and authority. u carries the
// scheme, the host (authority, possibly empty) and the user info of the URI
// that asked for it; its Path is not meaningful.
type Factory func(ctx context.Context, u *url.URL) (FileSystem, error)

type registry struct {
	mu        sync.Mutex
	factories map[string]Factory
	cache     map[string]FileSystem
}

var reg = &registry{
	factories: map[string]Factory{"file": localFactory},
	cache:     map[string]FileSystem{},
}

// Register makes a FileSystem implementation available for a URI scheme
// (case-insensitive), replacing any earlier registration. Packages call it
// from init, e.g. the hdfs package registers "hdfs".
func Register(scheme string, factory Factory) {
	scheme = strings.ToLower(scheme)
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.factories[scheme] = factory
	for k := range reg.cache {
		if strings.HasPrefix(k, scheme+"://") {
			delete(reg.cache, k)
		}
	}
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	out := make([]string, 0, len(reg.factories))
	for s := range reg.factories {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Get resolves a URI (or a bare local path) to the FileSystem that serves it
// and the absolute path within that file system. FileSystems are created once
// per scheme and authority and then shared; CloseAll releases them.
//
// A bare path ("/tmp/x", "ckpt/x") or a file: URI resolves to the local file
// system; a relative bare path is made absolute against the working directory.
// "hdfs:///p" (no authority) lets the hdfs implementation pick fs.defaultFS.
func Get(ctx context.Context, uri string) (FileSystem, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	u, p, err := SplitURI(uri)
	if err != nil {
		return nil, "", err
	}
	key := u.Scheme + "://" + u.User.String() + "@" + u.Host
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if fsys, ok := reg.cache[key]; ok {
		return fsys, p, nil
	}
	factory, ok := reg.factories[u.Scheme]
	if !ok {
		hint := ""
		if u.Scheme == "hdfs" {
			hint = " (import _ \"github.com/flink-go/flink-go/hdfs\" to register it)"
		}
		return nil, "", fmt.Errorf("fs: %q: %w %q%s", uri, ErrUnsupportedScheme, u.Scheme, hint)
	}
	fsys, err := factory(ctx, u)
	if err != nil {
		return nil, "", fmt.Errorf("fs: open %s file system for %q: %w", u.Scheme, uri, err)
	}
	reg.cache[key] = fsys
	return fsys, p, nil
}

// SplitURI parses a URI or bare path into its scheme/authority part (scheme
// lower-cased; "file" for bare paths) and a clean absolute path.
func SplitURI(uri string) (*url.URL, string, error) {
	if uri == "" {
		return nil, "", errors.New("fs: empty path")
	}
	if !strings.Contains(uri, ":") || strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, ".") {
		abs, err := filepath.Abs(uri)
		if err != nil {
			return nil, "", fmt.Errorf("fs: make %q absolute: %w", uri, err)
		}
		return &url.URL{Scheme: "file"}, filepath.ToSlash(abs), nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, "", fmt.Errorf("fs: parse URI %q: %w", uri, err)
	}
	if u.Scheme == "" {
		return nil, "", fmt.Errorf("fs: %q has no scheme", uri)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Opaque != "" {
		return nil, "", fmt.Errorf("fs: %q: expected %s:///path or %s://authority/path", uri, u.Scheme, u.Scheme)
	}
	if u.Scheme == "file" && u.Host != "" && u.Host != "localhost" {
		return nil, "", fmt.Errorf("fs: %q: file URIs name no host other than localhost", uri)
	}
	p := Clean(u.Path)
	base := &url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User}
	if u.Scheme == "file" {
		base.Host = ""
	}
	return base, p, nil
}

// CloseAll closes every cached FileSystem that implements io.Closer and
// forgets them all, so the next Get creates fresh ones. It returns the
// errors joined.
func CloseAll() error {
	reg.mu.Lock()
	cached := reg.cache
	reg.cache = map[string]FileSystem{}
	reg.mu.Unlock()
	var errs []error
	for _, fsys := range cached {
		if c, ok := fsys.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Clean returns the absolute, slash-separated, cleaned form of p ("" and "."
// become "/").
func Clean(p string) string {
	return path.Clean("/" + p)
}

// Join joins path elements with slashes and cleans the result.
func Join(elem ...string) string {
	return Clean(path.Join(elem...))
}

// Base returns the last element of p ("/" for the root).
func Base(p string) string {
	return path.Base(Clean(p))
}

// Dir returns all but the last element of p ("/" for the root).
func Dir(p string) string {
	return path.Dir(Clean(p))
}
