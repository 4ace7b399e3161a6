package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flink-go/flink-go/fs"
)

// Cleanup carries out the deletions an AbortAction, DiscardAction or
// DiscardStateAction asks for; other actions are ignored. Directories are
// URIs or paths resolved with fs.Get; missing files are not errors. It only
// ever deletes recursively a directory named chk-<n> or savepoint-*, so a
// savepoint target directory passed by mistake is never wiped. Errors of the
// individual deletions are joined.
func Cleanup(ctx context.Context, a Action) error {
	switch a := a.(type) {
	case *AbortAction:
		return errors.Join(deleteDir(ctx, a.Dir), deleteShared(ctx, a.Dir, a.DiscardShared))
	case *DiscardAction:
		return errors.Join(deleteDir(ctx, a.Checkpoint.ExternalPath), deleteShared(ctx, a.Checkpoint.ExternalPath, a.SharedFiles))
	case *DiscardStateAction:
		var errs []error
		for _, p := range a.Exclusive {
			errs = append(errs, deleteFile(ctx, a.Dir, ResolveFile(a.Dir, StateFile{Path: p})))
		}
		errs = append(errs, deleteShared(ctx, a.Dir, a.Shared))
		return errors.Join(errs...)
	}
	return nil
}

func deletable(dir string) bool {
	_, p := splitURI(dir)
	base := fs.Base(p)
	_, isChk := parseCheckpointDirName(base)
	return isChk || strings.HasPrefix(base, "savepoint-")
}

func deleteDir(ctx context.Context, dir string) error {
	if dir == "" {
		return nil
	}
	if !deletable(dir) {
		return fmt.Errorf("checkpoint: not deleting %s recursively: its name is neither chk-<n> nor savepoint-*", dir)
	}
	fsys, p, err := fs.Get(ctx, dir)
	if err != nil {
		return fmt.Errorf("checkpoint: delete %s: %w", dir, err)
	}
	if err := fsys.Delete(ctx, p, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: delete %s: %w", dir, err)
	}
	return nil
}

func deleteShared(ctx context.Context, chkDir string, files []string) error {
	if len(files) == 0 {
		return nil
	}
	if chkDir == "" {
		return fmt.Errorf("checkpoint: cannot delete shared files %v: the checkpoint has no directory (Config.JobDir unset)", files)
	}
	var errs []error
	for _, f := range files {
		errs = append(errs, deleteFile(ctx, chkDir, ResolveFile(chkDir, StateFile{Path: f, Shared: true})))
	}
	return errors.Join(errs...)
}

func deleteFile(ctx context.Context, dir, uri string) error {
	if dir == "" {
		return nil
	}
	fsys, p, err := fs.Get(ctx, uri)
	if err != nil {
		return fmt.Errorf("checkpoint: delete %s: %w", uri, err)
	}
	if err := fsys.Delete(ctx, p, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: delete %s: %w", uri, err)
	}
	return nil
}
