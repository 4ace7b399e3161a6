package configs

import "time"

// Core options: parallelism, pipeline, execution mode and the embedded local cluster.

// RuntimeMode is the value of execution.runtime-mode.
type RuntimeMode string

// Runtime modes.
const (
	RuntimeStreaming RuntimeMode = "STREAMING"
	RuntimeBatch     RuntimeMode = "BATCH"
	RuntimeAutomatic RuntimeMode = "AUTOMATIC"
)

// ExecutionTarget is the value of execution.target.
type ExecutionTarget string

// Execution targets.
const (
	TargetLocal           ExecutionTarget = "local"
	TargetRemote          ExecutionTarget = "remote"
	TargetYarnSession     ExecutionTarget = "yarn-session"
	TargetYarnApplication ExecutionTarget = "yarn-application"
	TargetYarnPerJob      ExecutionTarget = "yarn-per-job"
)

// ClaimMode is the value of execution.state-recovery.claim-mode.
type ClaimMode string

// Claim modes for restoring from a savepoint or retained checkpoint.
const (
	ClaimModeClaim   ClaimMode = "CLAIM"
	ClaimModeNoClaim ClaimMode = "NO_CLAIM"
)

var (
	// Parallelism is the default parallelism of operators.
	Parallelism = Int("parallelism.default", 1,
		"Default parallelism of jobs: used for every operator that does not set its own.")

	// MaxParallelism is the default number of key groups (the upper bound for rescaling).
	MaxParallelism = Int("pipeline.max-parallelism", 128,
		"Default maximum parallelism: the number of key groups keyed state is split into, and so the upper limit for rescaling a job from a savepoint. Flink's default (-1) derives it from the parallelism; flink-go uses a fixed 128.")

	// PipelineName is the job name.
	PipelineName = String("pipeline.name", "",
		"The job name shown in the web UI, the REST API and logs. Empty means the name given to Execute.").WithoutDefault()

	// ObjectReuse lets chained operators pass records without copying.
	ObjectReuse = Bool("pipeline.object-reuse", false,
		"Let chained operators hand records to each other without a defensive copy. Only safe when user functions neither keep nor modify their input records.").
		WithoutEffect("records pass between chained operators as Go values without a copy, as with object reuse enabled: a function must not change a record after emitting it.")

	// OperatorChaining enables operator chaining.
	OperatorChaining = Bool("pipeline.operator-chaining.enabled", true,
		"Chain operators that are connected one-to-one with equal parallelism into one task, calling each other directly.").
		WithDeprecatedKeys("pipeline.operator-chaining")

	// AutoWatermarkInterval is the period of periodic watermark generation.
	AutoWatermarkInterval = Duration("pipeline.auto-watermark-interval", 200*time.Millisecond,
		"Interval at which periodic watermark generators emit watermarks. 0 disables periodic watermarks.")

	// GlobalJobParameters are key/value parameters visible to every user function.
	GlobalJobParameters = Map("pipeline.global-job-parameters", nil,
		"Parameters made available to every user function of the job, as \"k1:v1,k2:v2\" or a YAML mapping.").
		WithoutEffect("a job's parameters are its own command-line arguments and user.* configuration keys (readable from operators through the task's configuration).")

	// BufferTimeout is the maximum time a network buffer waits before it is sent.
	BufferTimeout = Duration("execution.buffer-timeout.interval", 100*time.Millisecond,
		"Maximum time a partly filled output buffer waits before it is sent downstream. 0 sends every record at once (lowest latency, lowest throughput).").
		WithDeprecatedKeys("execution.buffer-timeout")

	// BufferTimeoutEnabled switches the buffer timeout off (buffers are sent only when full).
	BufferTimeoutEnabled = Bool("execution.buffer-timeout.enabled", true,
		"If false, output buffers are sent only when full or at a checkpoint barrier (highest throughput; records may wait indefinitely in idle streams).")

	// ExecutionRuntimeMode selects streaming or batch execution.
	ExecutionRuntimeMode = Enum("execution.runtime-mode", RuntimeStreaming,
		[]RuntimeMode{RuntimeStreaming, RuntimeBatch, RuntimeAutomatic},
		"Runtime execution mode of DataStream programs. AUTOMATIC picks BATCH when all sources are bounded.")

	// Target is the deployment target of the client.
	Target = Enum("execution.target", ExecutionTarget(""),
		[]ExecutionTarget{TargetLocal, TargetRemote, TargetYarnSession, TargetYarnApplication, TargetYarnPerJob},
		"Where the client runs the job: local (embedded cluster), remote (a running cluster's REST endpoint), yarn-session, yarn-application or yarn-per-job (deprecated in Flink 1.15). Unset means local.")

	// Attached keeps the client waiting for the job result.
	Attached = Bool("execution.attached", false,
		"If true the client waits for the job to finish and reports its result; otherwise it returns once the job is submitted (detached).").
		WithoutEffect("the CLI decides, as Flink's does: with -d/--detached it returns after the submission, otherwise it follows the job to its end.")

	// ShutdownOnAttachedExit cancels the job when an attached client is interrupted.
	ShutdownOnAttachedExit = Bool("execution.shutdown-on-attached-exit", false,
		"If the job was submitted attached, cancel it (and shut the cluster down) when the client is interrupted, e.g. with Ctrl+C.")

	// StateRecoveryPath is the savepoint or checkpoint to restore from.
	StateRecoveryPath = String("execution.state-recovery.path", "",
		"Path of a savepoint or retained checkpoint to restore the job from (e.g. hdfs:///flink/savepoints/savepoint-1a2b3c).").
		WithoutDefault().WithDeprecatedKeys("execution.savepoint.path")

	// StateRecoveryIgnoreUnclaimed allows restoring a savepoint with state for removed operators.
	StateRecoveryIgnoreUnclaimed = Bool("execution.state-recovery.ignore-unclaimed-state", false,
		"Allow restoring from a savepoint that contains state of operators no longer in the job (that state is dropped).").
		WithDeprecatedKeys("execution.savepoint.ignore-unclaimed-state")

	// StateRecoveryClaimMode says who owns the restored snapshot's files.
	StateRecoveryClaimMode = Enum("execution.state-recovery.claim-mode", ClaimModeNoClaim,
		[]ClaimMode{ClaimModeClaim, ClaimModeNoClaim},
		"Ownership of the snapshot restored from: CLAIM lets the job take it over and delete it when subsumed; NO_CLAIM leaves it untouched and makes the first checkpoint a full one.").
		WithDeprecatedKeys("execution.savepoint-restore-mode").
		WithoutEffect("restores always behave as NO_CLAIM: the snapshot restored from is never changed or deleted, and the first checkpoint after it is a full one.")

	// TmpDirs are directories for temporary files.
	TmpDirs = List("io.tmp.dirs", nil,
		"Directories for temporary files (spilled data, local state), separated by ';'. Unset means the system temp directory; on YARN the container's local directories.")

	// LocalTaskManagers is the number of TaskManagers of the embedded local cluster.
	LocalTaskManagers = Int("local.taskmanagers", 1,
		"flink-go: number of TaskManagers the embedded local cluster starts, each with taskmanager.numberOfTaskSlots slots.")

	// LocalTaskManagerProcesses runs the local TaskManagers as OS processes.
	LocalTaskManagerProcesses = Bool("local.taskmanagers.processes", false,
		"flink-go: run the embedded local cluster's TaskManagers as separate OS processes (re-executing the job binary) instead of goroutines in the client process. Processes isolate failures and exercise the network stack as on a real cluster.")
)
