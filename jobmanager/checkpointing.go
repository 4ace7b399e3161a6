package jobmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/state"
	"github.com/flink-go/flink-go/runtime/task"
	"github.com/flink-go/flink-go/s3fs"
)

// ckptMsg is an acknowledgement or decline from a task, handed to the JobMaster's loop.
type ckptMsg struct {
	ack     *jobgraph.CheckpointAck
	decline *jobgraph.CheckpointDecline
}

// SavepointRequest is a user's savepoint (or stop-with-savepoint) request.
type SavepointRequest struct {
	Dir  string
	Stop bool
	// Result is closed when the request ended; then Location or Err is set.
	done     chan struct{}
	Location string
	Err      error
	ID       int64
}

// Done is closed when the savepoint completed or failed.
func (r *SavepointRequest) Done() <-chan struct{} { return r.done }

// checkpointing is the JobMaster's checkpoint state (owned by the JobMaster goroutine, except
// where noted).
type checkpointing struct {
	cfg          checkpoint.Config
	enabled      bool
	checkpoints  string // execution.checkpointing.dir
	savepointDir string
	coord        *checkpoint.Coordinator
	restored     *checkpoint.Completed
	msgs         chan ckptMsg
	savepoints   chan *SavepointRequest
	mu           sync.Mutex
	requests     map[int64]*SavepointRequest // by checkpoint id
	stopAfter    int64                       // stop-with-savepoint: finish the job after this one
	stats        checkpoint.Stats
}

func newCheckpointing(g *jobgraph.JobGraph, log zerolog.Logger) (*checkpointing, error) {
	c := configs.New()
	if err := c.SetAll(g.Config, configs.CodeOrigin("job")); err != nil {
		return nil, err
	}
	mode, err := checkpoint.ParseMode(string(configs.Get(c, configs.CheckpointMode)))
	if err != nil {
		return nil, err
	}
	ck := &checkpointing{
		cfg: checkpoint.Config{JobID: g.JobId, Interval: configs.Get(c, configs.CheckpointInterval), Timeout: configs.Get(c, configs.CheckpointTimeout),
			MinPause: configs.Get(c, configs.CheckpointMinPause), MaxConcurrent: configs.Get(c, configs.MaxConcurrentCheckpoints),
			TolerableFailures: configs.Get(c, configs.TolerableFailedCheckpoints), Retained: configs.Get(c, configs.CheckpointsNumRetained), Mode: mode},
		checkpoints: configs.Get(c, configs.CheckpointDir), savepointDir: configs.Get(c, configs.SavepointDir),
		msgs: make(chan ckptMsg, 1024), savepoints: make(chan *SavepointRequest, 16), requests: map[int64]*SavepointRequest{},
	}
	ck.enabled = ck.cfg.Interval > 0
	if ck.enabled && configs.Get(c, configs.CheckpointStorage) == configs.StorageJobManager {
		return nil, fmt.Errorf("%s=%s: keeping periodic checkpoints in JobManager memory is not implemented; set %s=%s and execution.checkpointing.dir",
			configs.CheckpointStorage.Key(), configs.StorageJobManager, configs.CheckpointStorage.Key(), configs.StorageFileSystem)
	}
	if ck.enabled && ck.checkpoints == "" {
		return nil, errors.New("execution.checkpointing.interval is set but execution.checkpointing.dir is not: where should checkpoints go? (e.g. file:///tmp/flink-go/checkpoints or hdfs:///flink-go/checkpoints)")
	}
	if ck.checkpoints != "" {
		if ck.cfg.JobDir, ck.cfg.DataJobDir, err = checkpointJobDirs(g.Config, ck.checkpoints, g.JobId); err != nil {
			return nil, err
		}
		if ck.cfg.DataJobDir != "" {
			log.Info().Str("metadata", ck.cfg.JobDir).Str("data", ck.cfg.DataJobDir).Msg("S3 entropy injection for checkpoint data files")
		}
	}
	if p := configs.Get(c, configs.StateRecoveryPath); p != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		restored, err := checkpoint.ResolveRestorePath(ctx, p)
		if err != nil {
			// A job's checkpoint directory: take its newest readable checkpoint, skipping (and
			// reporting, never deleting) corrupt or incomplete newer ones.
			latest, skipped := checkpoint.FindLatestURI(ctx, p)
			for _, e := range skipped {
				log.Warn().Err(e).Msg("skipping a checkpoint that cannot be restored")
			}
			if latest == nil {
				if len(skipped) > 0 {
					return nil, fmt.Errorf("restoring from %s: %w (and no older checkpoint there is usable: %v)", p, err, errors.Join(skipped...))
				}
				return nil, fmt.Errorf("restoring from %s: %w", p, err)
			}
			log.Info().Int64("checkpoint", latest.ID).Str("path", latest.ExternalPath).Msg("restoring from the newest usable checkpoint of the directory")
			restored = latest
		}
		if err := checkCompatible(g, restored, configs.Get(c, configs.StateRecoveryIgnoreUnclaimed)); err != nil {
			return nil, fmt.Errorf("restoring from %s: %w", p, err)
		}
		ck.restored = restored
	}
	return ck, nil
}

// checkpointJobDirs returns the job's checkpoint directories for execution.checkpointing.dir
// checkpoints: jobDir (<dir>/<job-id>) holds the chk-<n> directories with their _metadata and is
// where retained checkpoints are found; dataJobDir is empty, unless S3 entropy injection applies
// (s3.entropy.key set and found in an s3:// path, as Flink's EntropyInjector): then jobDir has
// the marker removed and dataJobDir keeps it, for the tasks to replace by random characters in
// each data file's path. HA recovery must search jobDir too.
func checkpointJobDirs(conf map[string]string, checkpoints, jobID string) (jobDir, dataJobDir string, err error) {
	e, err := s3fs.EntropyFromConfig(conf)
	if err != nil {
		return "", "", fmt.Errorf("checkpoint storage %s: %w", checkpoints, err)
	}
	if !e.Active(checkpoints) {
		return checkpoint.JobDir(checkpoints, jobID), "", nil
	}
	meta, err := e.Resolve(checkpoints, false)
	if err != nil {
		return "", "", fmt.Errorf("checkpoint storage %s: %w", checkpoints, err)
	}
	return checkpoint.JobDir(meta, jobID), checkpoint.JobDir(checkpoints, jobID), nil
}

// checkCompatible reports state of operators the job no longer has (unless allowed) and max
// parallelism changes of keyed operators.
func checkCompatible(g *jobgraph.JobGraph, c *checkpoint.Completed, allowNonRestored bool) error {
	ops := map[string]*jobgraph.Vertex{}
	for _, v := range g.Vertices {
		for _, o := range v.Operators {
			ops[o.Id] = v
		}
	}
	var missing []string
	for _, os := range c.Operators {
		v, ok := ops[os.OperatorID]
		if !ok {
			if len(os.Subtasks) > 0 {
				missing = append(missing, os.OperatorID)
			}
			continue
		}
		if os.MaxParallelism != 0 && os.MaxParallelism != int(v.MaxParallelism) {
			for _, st := range os.Subtasks {
				if len(st.Keyed) > 0 {
					return fmt.Errorf("operator %s (%s): the snapshot has max parallelism %d, the job %d: keyed state cannot be redistributed (keep pipeline.max-parallelism)", os.OperatorID, v.Name, os.MaxParallelism, v.MaxParallelism)
				}
			}
		}
	}
	if len(missing) > 0 && !allowNonRestored {
		return fmt.Errorf("the snapshot has state for %d operator(s) that are not in this job (%s): was it taken from another job, or were UIDs changed? Pass --allowNonRestoredState (-n) to skip that state", len(missing), strings.Join(missing, ", "))
	}
	return nil
}

// newCoordinator creates the coordinator for an attempt's executions, continuing the numbering
// and the retained checkpoints of the previous one.
func (ck *checkpointing) newCoordinator(eg *ExecutionGraph, prev *checkpoint.Coordinator) *checkpoint.Coordinator {
	var tasks, sources []checkpoint.TaskID
	for _, e := range eg.Executions {
		id := checkpoint.TaskID{Vertex: e.Vertex.Id, Subtask: e.Subtask}
		tasks = append(tasks, id)
		if e.Vertex.Operators[0].Kind == jobgraph.OperatorKind_SOURCE {
			sources = append(sources, id)
		}
	}
	restored, next := ck.restored, int64(1)
	if ck.restored != nil {
		next = ck.restored.ID + 1
	}
	if prev != nil {
		next = prev.NextID()
		if l := prev.Latest(); l != nil {
			restored = l
		}
	}
	return checkpoint.NewCoordinator(ck.cfg, tasks, sources, restored, next)
}

// restoreFrom returns the checkpoint an attempt restores from: the newest retained checkpoint of
// the job whose files are all there, else the savepoint/checkpoint given at submission. Unusable
// checkpoints are reported and skipped, never deleted.
func (ck *checkpointing) restoreFrom(log zerolog.Logger) *checkpoint.Completed {
	if ck.coord != nil {
		retained := ck.coord.Completed()
		for i := len(retained) - 1; i >= 0; i-- {
			c := retained[i]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := func() error {
				fsys, p, err := fs.Get(ctx, c.ExternalPath)
				if err != nil {
					return err
				}
				return checkpoint.VerifyFiles(ctx, fsys, p, c)
			}()
			cancel()
			if err == nil {
				return c
			}
			log.Warn().Err(err).Int64("checkpoint", c.ID).Msg("checkpoint is not restorable; falling back to an older one")
		}
	}
	return ck.restored
}

// restoreState builds the restore part of a deployment from a completed checkpoint.
func restoreState(c *checkpoint.Completed, v *jobgraph.Vertex) []*jobgraph.OperatorSubtaskState {
	if c == nil {
		return nil
	}
	var out []*jobgraph.OperatorSubtaskState
	for i, o := range v.Operators {
		os := c.Operator(o.Id)
		if os == nil {
			continue
		}
		for _, st := range os.Subtasks {
			s := &jobgraph.OperatorSubtaskState{OperatorId: o.Id, Subtask: int32(st.Subtask), Parallelism: int32(os.Parallelism), MaxParallelism: int32(os.MaxParallelism)}
			for _, k := range st.Keyed {
				s.Keyed = restoreHandle(c.ExternalPath, k)
			}
			switch {
			case i == 0 && o.Kind == jobgraph.OperatorKind_SOURCE:
				s.OperatorState = st.SourceReader
			case len(st.Committables) > 0:
				s.OperatorState = st.Committables[0]
			}
			out = append(out, s)
		}
	}
	return out
}

// restoreHandle turns a keyed handle of a completed checkpoint into a deployment's handle with
// resolved file URIs: one FGKS file (heap-v1) or all files of a multi-file format (pebble-v1).
func restoreHandle(chkDir string, k checkpoint.KeyedState) *jobgraph.StateHandle {
	h := &jobgraph.StateHandle{KeyGroupStart: int32(k.KeyGroups.Start), KeyGroupEnd: int32(k.KeyGroups.End), KeyGroupsSet: true}
	if k.Format == state.FormatPebble {
		h.Format = k.Format
		for _, f := range k.Files {
			h.Files = append(h.Files, &jobgraph.StateFileRef{Path: checkpoint.ResolveFile(chkDir, f), Size: f.Size, Shared: f.Shared})
			h.Size += f.Size
		}
		return h
	}
	for _, f := range k.Files {
		h.Path, h.Size = checkpoint.ResolveFile(chkDir, f), f.Size
	}
	return h
}

// handleFromAck converts a task's acknowledgement into the coordinator's handle.
func handleFromAck(e *Execution, s *jobgraph.TaskStateSnapshot) (checkpoint.TaskStateHandle, error) {
	h := checkpoint.TaskStateHandle{AlignmentDuration: int64(time.Duration(s.AlignmentMs) * time.Millisecond), BytesWritten: s.Bytes}
	kinds := map[string]jobgraph.OperatorKind{}
	for _, o := range e.Vertex.Operators {
		kinds[o.Id] = o.Kind
	}
	for _, st := range s.Operators {
		os := checkpoint.OperatorSubtaskState{OperatorID: st.OperatorId, MaxParallelism: int(st.MaxParallelism)}
		if st.Keyed != nil {
			if st.Keyed.Path == "" && st.Keyed.Format != state.FormatPebble {
				return h, fmt.Errorf("operator %s sent inline keyed state, but checkpoints need files", st.OperatorId)
			}
			kg := serde.KeyGroupRangeFor(int(st.MaxParallelism), int(st.Parallelism), int(st.Subtask))
			if st.Keyed.Format == state.FormatPebble {
				// Paths are already relative: shared files to <job>/shared/, the others to chk-<n>/.
				ks := checkpoint.KeyedState{KeyGroups: kg, Format: state.FormatPebble}
				for _, f := range st.Keyed.Files {
					ks.Files = append(ks.Files, checkpoint.StateFile{Path: f.Path, Size: f.Size, Shared: f.Shared, New: f.New})
				}
				os.Keyed = []checkpoint.KeyedState{ks}
			} else {
				// The task names the file by URI: in the checkpoint's directory (the coordinator
				// stores it relative) or, entropy-injected, elsewhere (stored as the URI).
				os.Keyed = []checkpoint.KeyedState{{
					KeyGroups: kg,
					Format:    state.FormatHeap,
					Files:     []checkpoint.StateFile{{Path: st.Keyed.Path, Size: st.Keyed.Size}},
				}}
			}
		}
		if len(st.OperatorState) > 0 {
			if kinds[st.OperatorId] == jobgraph.OperatorKind_SOURCE {
				os.SourceReader = st.OperatorState
			} else {
				os.Committables = [][]byte{st.OperatorState}
			}
		}
		h.Operators = append(h.Operators, os)
	}
	return h, nil
}

// finalNotification is the id tasks waiting after their end of input are notified with.
const finalNotification = task.FinalCheckpointID
