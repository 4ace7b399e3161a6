package configs

import "time"

// Checkpointing options (Flink's execution.checkpointing.*).

// CheckpointingMode is the value of execution.checkpointing.mode.
type CheckpointingMode string

// Checkpointing modes.
const (
	ExactlyOnce CheckpointingMode = "EXACTLY_ONCE"
	AtLeastOnce CheckpointingMode = "AT_LEAST_ONCE"
)

// CheckpointRetention is the value of execution.checkpointing.externalized-checkpoint-retention.
type CheckpointRetention string

// Retention policies for completed checkpoints when the job stops.
const (
	RetainOnCancellation   CheckpointRetention = "RETAIN_ON_CANCELLATION"
	DeleteOnCancellation   CheckpointRetention = "DELETE_ON_CANCELLATION"
	NoExternalizedRetained CheckpointRetention = "NO_EXTERNALIZED_CHECKPOINTS"
)

// CheckpointStorageKind is the value of execution.checkpointing.storage.
type CheckpointStorageKind string

// Checkpoint storage kinds.
const (
	StorageJobManager CheckpointStorageKind = "jobmanager"
	StorageFileSystem CheckpointStorageKind = "filesystem"
)

var (
	// CheckpointInterval is the checkpoint period; 0 disables checkpointing.
	CheckpointInterval = Duration("execution.checkpointing.interval", 0,
		"Interval between the starts of two checkpoints. Unset or 0 disables periodic checkpointing.")

	// CheckpointTimeout aborts checkpoints that take longer.
	CheckpointTimeout = Duration("execution.checkpointing.timeout", 10*time.Minute,
		"A checkpoint that does not complete within this time is aborted.")

	// CheckpointMinPause is the minimum gap between the end of one checkpoint and the next start.
	CheckpointMinPause = Duration("execution.checkpointing.min-pause", 0,
		"Minimum time between the end of one checkpoint and the start of the next, so that processing can make progress under slow checkpoints. With a non-zero pause at most one checkpoint runs at a time.")

	// MaxConcurrentCheckpoints is the number of checkpoints that may be in flight.
	MaxConcurrentCheckpoints = Int("execution.checkpointing.max-concurrent-checkpoints", 1,
		"Maximum number of checkpoints in progress at the same time.")

	// TolerableFailedCheckpoints is how many consecutive checkpoint failures fail the job.
	TolerableFailedCheckpoints = Int("execution.checkpointing.tolerable-failed-checkpoints", 0,
		"Number of consecutive checkpoint failures tolerated before the job fails over. 0 means the first failure fails the job.")

	// CheckpointMode selects exactly-once (aligned barriers) or at-least-once.
	CheckpointMode = Enum("execution.checkpointing.mode", ExactlyOnce,
		[]CheckpointingMode{ExactlyOnce, AtLeastOnce},
		"Checkpointing guarantee: EXACTLY_ONCE aligns barriers from all inputs before snapshotting; AT_LEAST_ONCE does not wait, so records after a barrier may be processed before the snapshot.")

	// CheckpointDir is where checkpoint data and metadata are written.
	CheckpointDir = String("execution.checkpointing.dir", "",
		"Directory for checkpoint data and metadata files (file://, hdfs:// or s3:// URI). Required for the filesystem checkpoint storage and for retained checkpoints.").
		WithoutDefault().WithDeprecatedKeys("state.checkpoints.dir")

	// SavepointDir is the default target directory of savepoints.
	SavepointDir = String("execution.checkpointing.savepoint-dir", "",
		"Default directory for savepoints when a savepoint or stop command names none.").
		WithoutDefault().WithDeprecatedKeys("state.savepoints.dir")

	// CheckpointStorage selects where snapshots are kept.
	CheckpointStorage = Enum("execution.checkpointing.storage", CheckpointStorageKind(""),
		[]CheckpointStorageKind{StorageJobManager, StorageFileSystem},
		"Checkpoint storage: filesystem writes snapshots to execution.checkpointing.dir. jobmanager (snapshots in JobManager memory, Flink's testing option) is refused for periodic checkpoints in flink-go. Unset means filesystem when a checkpoint directory is set.").
		WithDeprecatedKeys("state.checkpoint-storage")

	// ExternalizedCheckpointRetention says whether checkpoints survive the job.
	ExternalizedCheckpointRetention = Enum("execution.checkpointing.externalized-checkpoint-retention", NoExternalizedRetained,
		[]CheckpointRetention{RetainOnCancellation, DeleteOnCancellation, NoExternalizedRetained},
		"What happens to completed checkpoints when the job is cancelled: RETAIN_ON_CANCELLATION keeps them (restore with -s), DELETE_ON_CANCELLATION deletes them, NO_EXTERNALIZED_CHECKPOINTS does not retain checkpoints at all. Failed jobs always keep theirs.")

	// CheckpointsNumRetained is the number of completed checkpoints kept.
	CheckpointsNumRetained = Int("execution.checkpointing.num-retained", 1,
		"Number of most recent completed checkpoints to keep; older ones are deleted.").
		WithDeprecatedKeys("state.checkpoints.num-retained")

	// UnalignedCheckpoints lets barriers overtake in-flight data.
	UnalignedCheckpoints = Bool("execution.checkpointing.unaligned.enabled", false,
		"Unaligned checkpoints: barriers overtake buffered records, which are stored in the checkpoint. Only with EXACTLY_ONCE and max-concurrent-checkpoints 1.").
		WithDeprecatedKeys("execution.checkpointing.unaligned").
		WithoutEffect("unaligned checkpoints are not implemented: checkpoints stay aligned, which is exactly-once as well, but under backpressure a barrier waits behind the records buffered before it.")

	// AlignedCheckpointTimeout switches to unaligned after this alignment time.
	AlignedCheckpointTimeout = Duration("execution.checkpointing.aligned-checkpoint-timeout", 0,
		"With unaligned checkpoints enabled, start each checkpoint aligned and switch to unaligned when alignment takes longer than this. 0 means always unaligned.").
		WithDeprecatedKeys("execution.checkpointing.alignment-timeout").
		WithoutEffect("checkpoints are always aligned: unaligned checkpoints are not implemented.")

	// IncrementalCheckpoints uploads only new state files.
	IncrementalCheckpoints = Bool("execution.checkpointing.incremental", false,
		"Incremental checkpoints: state backends that support them (pebble) upload only files created since the previous checkpoint.").
		WithDeprecatedKeys("state.backend.incremental")
)
