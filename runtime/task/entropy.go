package task

import (
	"context"
	"errors"
	"fmt"

	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/s3fs"
)

// S3 entropy injection for checkpoint data files (s3.entropy.key, s3.entropy.length), as Flink's
// EntropyInjector: when the checkpoint directory a barrier names contains the marker, every
// data file of a checkpoint is written where the marker is replaced by random characters, and
// reported to the JobManager by that absolute URI; the JobManager writes _metadata at the path
// with the marker removed (checkpoint.Config.DataJobDir). Savepoints are never injected: they
// must stay self-contained and relocatable (Flink writes them through a
// NotEntropyInjectingFileSystem). Without the key, or without the marker in the path, every
// path stays as it was.
//
// Granularity: heap backends' .keyed files get fresh entropy per file, a Pebble upload's
// private files per upload. A Pebble backend's shared SST files share one injected directory
// per operator subtask attempt (derived from job, operator, subtask and attempt), because an
// incremental checkpoint reuses the SSTs of the previous one only within one shared directory
// (state.PebbleCheckpoint.Upload, pebblestore.Restore); a subtask restored from a checkpoint of
// this job keeps the injected shared directory it restored from, so its next checkpoint stays
// incremental. Flink injects per file; the spreading over S3 partitions comes from the many
// subtasks and checkpoints instead.

// checkpointEntropy returns the job's entropy settings: its configuration's s3.entropy.*, else
// the process-wide S3 settings.
func (t *Task) checkpointEntropy() (s3fs.Entropy, error) {
	e, err := s3fs.EntropyFromConfig(t.d.Config)
	if err != nil {
		return e, fmt.Errorf("checkpoint storage: %w", err)
	}
	return e, nil
}

// dataURI returns where the checkpoint data file (or directory) uri below the barrier's
// directory is written: with entropy injection (checkpoints only) the marker is replaced by
// fresh random characters; otherwise uri itself. injected tells which.
func (t *Task) dataURI(b barrier, uri string) (out string, injected bool, err error) {
	if b.savepoint {
		return uri, false, nil
	}
	e, err := t.checkpointEntropy()
	if err != nil || !e.Active(uri) {
		return uri, false, err
	}
	out, err = e.Resolve(uri, true)
	if err != nil {
		return "", false, fmt.Errorf("checkpoint storage %s: %w", uri, err)
	}
	return out, true, nil
}

// pebbleSharedDir returns the URI of the directory an operator's Pebble checkpoint uploads its
// shared SST files to: the job's "shared" directory next to the barrier's chk-<n> directory,
// with entropy injection a stable injected form of it (see the comment at the top).
func (t *Task) pebbleSharedDir(b barrier, opID string) (uri string, injected bool, err error) {
	shared := checkpoint.SharedDir(b.dir)
	if b.savepoint {
		return shared, false, nil
	}
	e, err := t.checkpointEntropy()
	if err != nil || !e.Active(shared) {
		return shared, false, err
	}
	v := t.d.GetVertex()
	own := keyGroupRange(int(v.GetMaxParallelism()), int(v.GetParallelism()), int(t.d.Subtask))
	if dir := restoredSharedDir(t.d.RestoreState, opID, own); dir != "" && e.IsInjected(shared, dir) {
		return dir, true, nil
	}
	seed := fmt.Sprintf("%s\x00%s\x00%d\x00%d", t.d.JobId, opID, t.d.Subtask, t.d.Attempt)
	uri, err = e.ResolveWith(shared, e.Chars([]byte(seed)))
	if err != nil {
		return "", false, fmt.Errorf("checkpoint storage %s: %w", shared, err)
	}
	return uri, true, nil
}

// restoredSharedDir returns the one directory holding the shared files of the operator's
// pebble-v1 restore handle, when the subtask owning key groups own restores directly from one
// such handle covering exactly its key groups (state.PlanRestore's direct restore: the
// deployment carries every old subtask's state, the others do not overlap); else "".
func restoredSharedDir(rs []*jobgraph.OperatorSubtaskState, opID string, own serde.KeyGroupRange) string {
	dir, handles := "", 0
	for _, st := range rs {
		if st.OperatorId != opID || st.Keyed == nil {
			continue
		}
		kg := serde.KeyGroupRange{Start: int(st.Keyed.KeyGroupStart), End: int(st.Keyed.KeyGroupEnd)}
		if !st.Keyed.KeyGroupsSet {
			kg = keyGroupRange(int(st.MaxParallelism), int(st.Parallelism), int(st.Subtask))
		}
		if kg.End < own.Start || kg.Start > own.End {
			continue // another subtask's key groups
		}
		handles++
		if st.Keyed.Format != state.FormatPebble || kg != own {
			return ""
		}
		for _, f := range st.Keyed.Files {
			if !f.Shared {
				continue
			}
			d := uriDir(f.Path)
			if dir != "" && d != dir {
				return ""
			}
			dir = d
		}
	}
	if handles != 1 {
		return ""
	}
	return dir
}

// deleteOutside deletes a checkpoint file named by absolute URI (best effort, logged).
func (t *Task) deleteOutside(ctx context.Context, uri string) {
	fsys, p, err := fs.Get(ctx, uri)
	if err == nil {
		err = fsys.Delete(ctx, p, false)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.log.Warn().Err(err).Str("file", uri).Msg("could not delete an entropy-injected file of a failed checkpoint")
	}
}
