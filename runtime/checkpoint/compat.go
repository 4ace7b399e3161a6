package checkpoint

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/flink-go/flink-go/runtime/serde"
)

// OperatorInfo is what the compatibility check needs to know about an
// operator of the job being started.
type OperatorInfo struct {
	ID             string
	MaxParallelism int
}

// MaxParallelismMismatch is an operator whose keyed state was written with
// another max parallelism than the new job has.
type MaxParallelismMismatch struct {
	OperatorID string
	Checkpoint int
	Job        int
}

// Compatibility is the outcome of CheckCompatibility.
type Compatibility struct {
	// NotRestored lists operators with state in the checkpoint that the new
	// job does not have (sorted). Their state is dropped when
	// allowNonRestoredState is set.
	NotRestored []string
	// NewOperators lists the job's operators the checkpoint does not know
	// (they start with empty state).
	NewOperators []string
	// Mismatches lists max-parallelism changes of operators with keyed state.
	Mismatches []MaxParallelismMismatch
}

// Errors of CheckCompatibility.
var (
	ErrNonRestoredState          = errors.New("checkpoint has state for operators the job does not have")
	ErrMaxParallelismChanged     = errors.New("max parallelism changed for an operator with keyed state")
	errCompatibilityNoCheckpoint = errors.New("no checkpoint to check")
)

// CheckCompatibility compares the new job's operators with a checkpoint's.
// State of operators that no longer exist is an error wrapping
// ErrNonRestoredState unless allowNonRestoredState (flink-go run -n); keyed
// state restored with a different max parallelism is an error wrapping
// ErrMaxParallelismChanged (key groups cannot be remapped; keep the max
// parallelism, or set the old one explicitly). Operators without any state in
// the checkpoint never cause errors. The report is returned in both cases.
func CheckCompatibility(ops []OperatorInfo, c *Completed, allowNonRestoredState bool) (*Compatibility, error) {
	if c == nil {
		return nil, errCompatibilityNoCheckpoint
	}
	rep := &Compatibility{}
	job := map[string]OperatorInfo{}
	var errs []error
	for _, o := range ops {
		job[o.ID] = o
		if o.MaxParallelism < 1 || o.MaxParallelism > serde.UpperBoundMaxParallelism {
			errs = append(errs, fmt.Errorf("operator %s: max parallelism %d outside [1, %d]", o.ID, o.MaxParallelism, serde.UpperBoundMaxParallelism))
		}
	}
	for _, op := range c.Operators {
		if len(op.Subtasks) == 0 {
			continue
		}
		o, ok := job[op.OperatorID]
		if !ok {
			rep.NotRestored = append(rep.NotRestored, op.OperatorID)
			continue
		}
		hasKeyed := false
		for _, st := range op.Subtasks {
			hasKeyed = hasKeyed || len(st.Keyed) > 0
		}
		if hasKeyed && o.MaxParallelism != op.MaxParallelism {
			rep.Mismatches = append(rep.Mismatches, MaxParallelismMismatch{OperatorID: op.OperatorID, Checkpoint: op.MaxParallelism, Job: o.MaxParallelism})
		}
	}
	for _, o := range ops {
		if c.Operator(o.ID) == nil {
			rep.NewOperators = append(rep.NewOperators, o.ID)
		}
	}
	sort.Strings(rep.NotRestored)
	sort.Strings(rep.NewOperators)
	if len(rep.NotRestored) > 0 && !allowNonRestoredState {
		errs = append(errs, fmt.Errorf("%w: %s (operator ids changed? keep .UID() stable, or pass --allowNonRestoredState / -n to drop that state)",
			ErrNonRestoredState, strings.Join(rep.NotRestored, ", ")))
	}
	for _, m := range rep.Mismatches {
		errs = append(errs, fmt.Errorf("%w: operator %s was checkpointed with max parallelism %d, the job has %d (key groups cannot be remapped; set the max parallelism back to %d)",
			ErrMaxParallelismChanged, m.OperatorID, m.Checkpoint, m.Job, m.Checkpoint))
	}
	return rep, errors.Join(errs...)
}

// KeyedStateFor returns the keyed state handles of an operator that overlap
// the key groups subtask owns at newParallelism (with the checkpoint's max
// parallelism), and that range. A restore reads only those key groups from
// each handle (Offsets tell where they start in single-file formats).
func (c *Completed) KeyedStateFor(operatorID string, newParallelism, subtask int) ([]KeyedState, serde.KeyGroupRange, error) {
	op := c.Operator(operatorID)
	if op == nil {
		return nil, serde.EmptyKeyGroupRange, nil
	}
	if err := serde.CheckParallelism(op.MaxParallelism, newParallelism); err != nil {
		return nil, serde.EmptyKeyGroupRange, fmt.Errorf("operator %s: %w", operatorID, err)
	}
	if subtask < 0 || subtask >= newParallelism {
		return nil, serde.EmptyKeyGroupRange, fmt.Errorf("operator %s: subtask %d outside parallelism %d", operatorID, subtask, newParallelism)
	}
	r := serde.KeyGroupRangeFor(op.MaxParallelism, newParallelism, subtask)
	var out []KeyedState
	for _, st := range op.Subtasks {
		for _, k := range st.Keyed {
			if k.KeyGroups.Start <= r.End && r.Start <= k.KeyGroups.End {
				out = append(out, k)
			}
		}
	}
	return out, r, nil
}
