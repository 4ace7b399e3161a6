package checkpoint

import (
	"strings"

	"github.com/flink-go/flink-go/configs"
)

// ConfigFrom builds the coordinator's Config from the job's configuration
// (execution.checkpointing.*). The job directory is
// <execution.checkpointing.dir>/<jobID>, empty when no directory is set.
// Call Validate on the result to report unusable values to the user.
func ConfigFrom(conf *configs.Configuration, jobID string) Config {
	c := Config{
		JobID:             jobID,
		Interval:          configs.Get(conf, configs.CheckpointInterval),
		Timeout:           configs.Get(conf, configs.CheckpointTimeout),
		MinPause:          configs.Get(conf, configs.CheckpointMinPause),
		MaxConcurrent:     configs.Get(conf, configs.MaxConcurrentCheckpoints),
		TolerableFailures: configs.Get(conf, configs.TolerableFailedCheckpoints),
		Retained:          configs.Get(conf, configs.CheckpointsNumRetained),
	}
	if configs.Get(conf, configs.CheckpointMode) == configs.AtLeastOnce {
		c.Mode = AtLeastOnce
	}
	if dir := configs.Get(conf, configs.CheckpointDir); dir != "" {
		c.JobDir = JobDir(dir, jobID)
	}
	return c
}

// DiscardOnShutdown says whether retained checkpoints are deleted when the
// job reaches a terminal status ("FINISHED", "CANCELED", "FAILED", or
// "SUSPENDED" when the JobManager loses leadership), following Flink's
// checkpoint properties for each retention policy
// (execution.checkpointing.externalized-checkpoint-retention):
//
//	policy                       FINISHED  CANCELED  FAILED  SUSPENDED
//	NO_EXTERNALIZED_CHECKPOINTS  delete    delete    delete  delete
//	DELETE_ON_CANCELLATION       delete    delete    keep    keep
//	RETAIN_ON_CANCELLATION       delete    keep      keep    keep
//
// Pass the result to Coordinator.Shutdown.
func DiscardOnShutdown(policy configs.CheckpointRetention, status string) bool {
	status = strings.ToUpper(status)
	if status == "FINISHED" {
		return true
	}
	switch policy {
	case configs.RetainOnCancellation:
		return false
	case configs.DeleteOnCancellation:
		return status == "CANCELED" || status == "CANCELLED"
	default:
		return true
	}
}
