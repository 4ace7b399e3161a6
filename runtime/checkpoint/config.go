package checkpoint

import (
	"errors"
	"fmt"
	"time"
)

// Mode is the checkpointing guarantee (execution.checkpointing.mode).
type Mode int

const (
	// ExactlyOnce aligns barriers: a task with several inputs blocks each
	// input after its barrier until all barriers arrived.
	ExactlyOnce Mode = iota
	// AtLeastOnce does not align: records after a barrier on one input are
	// processed before the snapshot, so they may be replayed after a restore.
	AtLeastOnce
)

// String returns Flink's name for m.
func (m Mode) String() string {
	switch m {
	case ExactlyOnce:
		return "EXACTLY_ONCE"
	case AtLeastOnce:
		return "AT_LEAST_ONCE"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "EXACTLY_ONCE" / "AT_LEAST_ONCE" (case-insensitive, '-' or '_').
func ParseMode(s string) (Mode, error) {
	switch normalizeEnum(s) {
	case "EXACTLY_ONCE":
		return ExactlyOnce, nil
	case "AT_LEAST_ONCE":
		return AtLeastOnce, nil
	}
	return 0, fmt.Errorf("checkpoint mode %q: want EXACTLY_ONCE or AT_LEAST_ONCE", s)
}

func normalizeEnum(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// SavepointKind says what a savepoint is for.
type SavepointKind int

const (
	// SavepointNone marks a checkpoint (not a savepoint).
	SavepointNone SavepointKind = iota
	// SavepointPlain is a savepoint of a job that keeps running.
	SavepointPlain
	// SavepointStop is stop-with-savepoint: once it completes, sources stop
	// and the job finishes without more checkpoints.
	SavepointStop
	// SavepointStopDrain is stop-with-savepoint --drain: sources emit the
	// maximum watermark first, firing all event-time timers and windows.
	SavepointStopDrain
)

// String names k.
func (k SavepointKind) String() string {
	switch k {
	case SavepointNone:
		return "CHECKPOINT"
	case SavepointPlain:
		return "SAVEPOINT"
	case SavepointStop:
		return "STOP_WITH_SAVEPOINT"
	case SavepointStopDrain:
		return "STOP_WITH_SAVEPOINT_DRAIN"
	}
	return fmt.Sprintf("SavepointKind(%d)", int(k))
}

// IsStop reports whether k stops the job.
func (k SavepointKind) IsStop() bool { return k == SavepointStop || k == SavepointStopDrain }

// Defaults, as Flink's.
const (
	DefaultTimeout       = 10 * time.Minute
	DefaultMaxConcurrent = 1
	DefaultRetained      = 1
	// DefaultHistory is how many recent checkpoints Stats keeps
	// (web.checkpoints.history).
	DefaultHistory = 10
)

// UnlimitedFailures as Config.TolerableFailures never fails the job because
// of failed checkpoints.
const UnlimitedFailures = -1

// Config configures a Coordinator. Zero values take Flink's defaults.
type Config struct {
	// JobID is the job's id; a restored checkpoint of the same job (and not a
	// savepoint) is owned: retained and eventually discarded like the job's
	// own checkpoints.
	JobID string
	// JobDir is <execution.checkpointing.dir>/<job-id> (URI or path), used
	// only to name a checkpoint's directory (ExternalPath: where _metadata is
	// written and relative file paths resolve); may be empty. With S3
	// entropy injection it is the directory with the entropy marker removed.
	JobDir string
	// DataJobDir, when set, is the job directory tasks write their files
	// below (TriggerAction.Dir is DataJobDir/chk-<id>): with S3 entropy
	// injection, <execution.checkpointing.dir>/<job-id> still holding the
	// marker, which each task replaces by random characters per file. Empty
	// means JobDir. Savepoints always use their own directory.
	DataJobDir string
	// Interval is execution.checkpointing.interval; 0 turns periodic
	// checkpoints off (savepoints still work).
	Interval time.Duration
	// Timeout is execution.checkpointing.timeout (default 10 min): a
	// checkpoint not acknowledged by all tasks in time is aborted ("expired").
	Timeout time.Duration
	// MinPause is execution.checkpointing.min-pause: the least time between
	// the end (completion or failure) of one periodic checkpoint and the
	// trigger of the next. As in Flink, MinPause > 0 implies MaxConcurrent 1.
	MinPause time.Duration
	// MaxConcurrent is execution.checkpointing.max-concurrent-checkpoints
	// (default 1). Pending savepoints count towards it (a savepoint itself is
	// triggered regardless).
	MaxConcurrent int
	// TolerableFailures is execution.checkpointing.tolerable-failed-checkpoints.
	// Flink's semantics: consecutive failures of periodic checkpoints caused by
	// a decline, an expiry or a failed write are counted (each checkpoint id
	// once, only ids newer than the last completed checkpoint); when the count
	// exceeds TolerableFailures the job fails (and restarts per its restart
	// strategy). A completed checkpoint resets the count. The default 0 is
	// Flink's effective default: the first such failure fails the job.
	// Failures of savepoints, checkpoints aborted because the job is failing
	// over or stopping, subsumed checkpoints and tasks that finished do not
	// count. Use UnlimitedFailures to never fail the job.
	TolerableFailures int
	// Retained is execution.checkpointing.num-retained (default 1).
	Retained int
	// Mode is execution.checkpointing.mode; it travels with the trigger.
	Mode Mode
	// History is how many recent checkpoints Stats reports (default 10).
	History int
}

// Validate reports settings that cannot work. NewCoordinator does not call it
// (it replaces such values by defaults); callers that parse user
// configuration should.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("execution.checkpointing.interval %v is negative", c.Interval))
	}
	if c.Interval > 0 && c.Interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("execution.checkpointing.interval %v is below the minimum of 10ms", c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("execution.checkpointing.timeout %v is negative", c.Timeout))
	}
	if c.MinPause < 0 {
		errs = append(errs, fmt.Errorf("execution.checkpointing.min-pause %v is negative", c.MinPause))
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("execution.checkpointing.max-concurrent-checkpoints %d is negative", c.MaxConcurrent))
	}
	if c.TolerableFailures < UnlimitedFailures {
		errs = append(errs, fmt.Errorf("execution.checkpointing.tolerable-failed-checkpoints %d: want >= 0 (or %d for unlimited)", c.TolerableFailures, UnlimitedFailures))
	}
	if c.Retained < 0 {
		errs = append(errs, fmt.Errorf("execution.checkpointing.num-retained %d is negative", c.Retained))
	}
	if c.Mode != ExactlyOnce && c.Mode != AtLeastOnce {
		errs = append(errs, fmt.Errorf("checkpoint mode %v is unknown", c.Mode))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero (or invalid) values with the defaults.
func (c Config) withDefaults() Config {
	if c.Interval < 0 {
		c.Interval = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MinPause < 0 {
		c.MinPause = 0
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MinPause > 0 {
		c.MaxConcurrent = 1
	}
	if c.TolerableFailures < UnlimitedFailures {
		c.TolerableFailures = 0
	}
	if c.Retained <= 0 {
		c.Retained = DefaultRetained
	}
	if c.History <= 0 {
		c.History = DefaultHistory
	}
	return c
}
