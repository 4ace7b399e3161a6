package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/flink-go/flink-go/fs"
)

// FetchBinary returns a local path for a job binary. A binary given as a URI of a file system
// (s3://, s3a://, hdfs://, file://) — as EMR steps do — is downloaded into a temporary directory
// and made executable; the returned cleanup removes it. Local paths are returned as they are.
func FetchBinary(ctx context.Context, ref string) (string, func(), error) {
	if !strings.Contains(ref, "://") {
		return ref, func() {}, nil
	}
	fsys, p, err := fs.Get(ctx, ref)
	if err != nil {
		return "", nil, fmt.Errorf("job binary %s: %w", ref, err)
	}
	f, err := fsys.Open(ctx, p)
	if err != nil {
		return "", nil, fmt.Errorf("job binary %s: %w", ref, err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "flink-go-job-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	local := filepath.Join(dir, path.Base(p))
	out, err := os.OpenFile(local, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		cleanup()
		return "", nil, fmt.Errorf("downloading job binary %s: %w", ref, err)
	}
	if err := out.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return local, cleanup, nil
}
