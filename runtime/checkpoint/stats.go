package checkpoint

// Checkpoint status names as Flink's REST API reports them.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
)

// CheckpointStats describes one checkpoint for REST /jobs/:id/checkpoints
// (history entries and "latest"). Durations are milliseconds, times Unix
// milliseconds, sizes bytes; JSON names follow Flink's.
type CheckpointStats struct {
	ID                      int64  `json:"id"`
	Status                  string `json:"status"`
	IsSavepoint             bool   `json:"is_savepoint"`
	CheckpointType          string `json:"checkpoint_type"`
	TriggerTimestamp        int64  `json:"trigger_timestamp"`
	LatestAckTimestamp      int64  `json:"latest_ack_timestamp"`
	StateSize               int64  `json:"state_size"`
	CheckpointedSize        int64  `json:"checkpointed_size"`
	EndToEndDuration        int64  `json:"end_to_end_duration"`
	AlignmentDuration       int64  `json:"alignment_duration"`
	NumSubtasks             int    `json:"num_subtasks"`
	NumAcknowledgedSubtasks int    `json:"num_acknowledged_subtasks"`
	ExternalPath            string `json:"external_path,omitempty"`
	Discarded               bool   `json:"discarded"`
	FailureTimestamp        int64  `json:"failure_timestamp,omitempty"`
	FailureMessage          string `json:"failure_message,omitempty"`
}

// MinMaxAvg summarizes a figure over completed checkpoints.
type MinMaxAvg struct {
	Min   int64 `json:"min"`
	Max   int64 `json:"max"`
	Avg   int64 `json:"avg"`
	count int64
	sum   int64
}

func (m *MinMaxAvg) add(v int64) {
	if m.count == 0 || v < m.Min {
		m.Min = v
	}
	if m.count == 0 || v > m.Max {
		m.Max = v
	}
	m.count++
	m.sum += v
	m.Avg = m.sum / m.count
}

// Summary holds figures over all completed checkpoints and savepoints.
type Summary struct {
	StateSize         MinMaxAvg `json:"state_size"`
	CheckpointedSize  MinMaxAvg `json:"checkpointed_size"`
	EndToEndDuration  MinMaxAvg `json:"end_to_end_duration"`
	AlignmentDuration MinMaxAvg `json:"alignment_duration"`
}

// Counts counts checkpoints by outcome.
type Counts struct {
	Restored   int64 `json:"restored"`
	Total      int64 `json:"total"`
	InProgress int64 `json:"in_progress"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
}

// RestoredStats describes the checkpoint the job last restored from.
type RestoredStats struct {
	ID               int64  `json:"id"`
	RestoreTimestamp int64  `json:"restore_timestamp"`
	IsSavepoint      bool   `json:"is_savepoint"`
	ExternalPath     string `json:"external_path"`
}

// Latest holds the most recent checkpoint of each outcome.
type Latest struct {
	Completed *CheckpointStats `json:"completed"`
	Savepoint *CheckpointStats `json:"savepoint"`
	Failed    *CheckpointStats `json:"failed"`
	Restored  *RestoredStats   `json:"restored"`
}

// Stats is the coordinator's statistics in the shape of Flink's REST
// /jobs/:id/checkpoints. History is newest first.
type Stats struct {
	Counts  Counts            `json:"counts"`
	Summary Summary           `json:"summary"`
	Latest  Latest            `json:"latest"`
	History []CheckpointStats `json:"history"`
	// ConsecutiveFailures is the failure count compared against
	// Config.TolerableFailures.
	ConsecutiveFailures int `json:"-"`
}

func copyStats(s *CheckpointStats) *CheckpointStats {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
