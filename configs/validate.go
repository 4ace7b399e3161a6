package configs

import (
	"errors"
	"fmt"
)

// ErrInconsistent is wrapped by errors about options that are valid alone but contradict
// each other.
var ErrInconsistent = errors.New("inconsistent configuration")

// crossRule is one rule relating several options. check returns "" when c satisfies it, else a
// description of the problem; key names the option the error is reported for.
type crossRule struct {
	key   string
	check func(c *Configuration) string
}

// describe renders "key=value (origin)" for messages.
func describe[T any](c *Configuration, o *Option[T]) string {
	v, origin := GetWithOrigin(c, o)
	return fmt.Sprintf("%s=%s (%s)", o.Key(), o.Format(v), origin)
}

var crossRules = []crossRule{
	{CheckpointStorage.Key(), func(c *Configuration) string {
		if Get(c, CheckpointStorage) == StorageFileSystem && Get(c, CheckpointDir) == "" {
			return describe(c, CheckpointStorage) + " needs execution.checkpointing.dir"
		}
		return ""
	}},
	{ExternalizedCheckpointRetention.Key(), func(c *Configuration) string {
		if r := Get(c, ExternalizedCheckpointRetention); r != NoExternalizedRetained && Get(c, CheckpointDir) == "" &&
			Get(c, CheckpointInterval) > 0 {
			return describe(c, ExternalizedCheckpointRetention) + " needs execution.checkpointing.dir to keep checkpoints in"
		}
		return ""
	}},
	{UnalignedCheckpoints.Key(), func(c *Configuration) string {
		if Get(c, UnalignedCheckpoints) && Get(c, CheckpointMode) != ExactlyOnce {
			return describe(c, UnalignedCheckpoints) + " requires execution.checkpointing.mode=EXACTLY_ONCE, but " + describe(c, CheckpointMode)
		}
		return ""
	}},
	{HighAvailability.Key(), func(c *Configuration) string {
		if Get(c, HighAvailability) != HANone && Get(c, HAStorageDir) == "" {
			return describe(c, HighAvailability) + " needs high-availability.storageDir (an hdfs:// or s3:// directory)"
		}
		return ""
	}},
	{HAZooKeeperQuorum.Key(), func(c *Configuration) string {
		if Get(c, HighAvailability) == HAZooKeeper && Get(c, HAZooKeeperQuorum) == "" {
			return describe(c, HighAvailability) + " needs high-availability.zookeeper.quorum"
		}
		return ""
	}},
	{HeartbeatTimeout.Key(), func(c *Configuration) string {
		if Get(c, HeartbeatTimeout) < Get(c, HeartbeatInterval) {
			return describe(c, HeartbeatTimeout) + " must not be shorter than " + describe(c, HeartbeatInterval)
		}
		return ""
	}},
	{ExpDelayMaxBackoff.Key(), func(c *Configuration) string {
		if Get(c, ExpDelayMaxBackoff) < Get(c, ExpDelayInitialBackoff) {
			return describe(c, ExpDelayMaxBackoff) + " must not be shorter than " + describe(c, ExpDelayInitialBackoff)
		}
		return ""
	}},
	{MaxParallelism.Key(), func(c *Configuration) string {
		if Get(c, MaxParallelism) < Get(c, Parallelism) {
			return describe(c, MaxParallelism) + " must be at least " + describe(c, Parallelism)
		}
		return ""
	}},
}

// Validate checks the rules that relate several options (each option's own type and range is
// checked when it is set): e.g. filesystem checkpoint storage needs a checkpoint directory, high
// availability needs a storage directory, the heartbeat timeout must not be shorter than the
// interval. Every broken rule is reported as an *Error wrapping ErrInconsistent, naming the
// values and their origins. Load does not call it, so that a configuration can always be
// loaded and printed; clients and cluster entry points should call it before they act.
func Validate(c *Configuration) error {
	var errs []error
	for _, r := range crossRules {
		if msg := r.check(c); msg != "" {
			_, origin := c.lookupOrigin(r.key)
			errs = append(errs, &Error{Key: r.key, Origin: origin, Err: fmt.Errorf("%w: %s", ErrInconsistent, msg)})
		}
	}
	return errors.Join(errs...)
}

// lookupOrigin returns the value and origin of key, DefaultOrigin when unset.
func (c *Configuration) lookupOrigin(key string) (string, Origin) {
	if c == nil {
		return "", DefaultOrigin
	}
	if v, o, ok := c.Lookup(key); ok {
		return v, o
	}
	return "", DefaultOrigin
}
