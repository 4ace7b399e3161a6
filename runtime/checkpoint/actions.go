package checkpoint

import "fmt"

// Action is something the Coordinator asks its caller to do. It is one of
// *TriggerAction, *CompleteAction, *NotifyCompleteAction, *AbortAction,
// *DiscardAction, *DiscardStateAction and *FailJobAction. Actions returned by
// one call must be carried out in order.
type Action interface {
	isAction()
	String() string
}

// TriggerAction starts a checkpoint: the caller tells the Targets (the
// source tasks) to snapshot and emit barrier ID with Timestamp.
type TriggerAction struct {
	ID int64
	// Timestamp is the trigger time, Unix milliseconds.
	Timestamp int64
	Savepoint bool
	Kind      SavepointKind
	// Mode is the configured guarantee (aligned or not).
	Mode Mode
	// Dir is where the tasks write their files: the savepoint directory, or
	// chk-<ID> below the job directory.
	Dir     string
	Targets []TaskID
}

// CompleteAction: all tasks acknowledged. The caller writes the checkpoint's
// _metadata (WriteMetadata into Checkpoint.ExternalPath) and then must call
// Coordinator.Finalized with the result; only then are tasks notified.
type CompleteAction struct {
	Checkpoint *Completed
}

// NotifyCompleteAction: the checkpoint is durable; tell every task (sinks
// commit their pre-committed transactions now).
type NotifyCompleteAction struct {
	ID int64
	// Savepoint is set when ID is a savepoint; Kind says which.
	Savepoint bool
	Kind      SavepointKind
	// Path is the checkpoint's directory (for savepoint requests' replies).
	Path string
}

// AbortAction: the checkpoint failed. The caller tells the tasks to abort it
// (optional: they also drop it when a newer barrier arrives), deletes its
// directory Dir recursively (unless empty) and the shared files listed in
// DiscardShared (uploaded for this checkpoint and referenced by no retained
// checkpoint; paths relative to the job's shared directory, or absolute
// URIs), and, for a savepoint, fails the user's request with Reason. Files
// acknowledged for it outside Dir (entropy-injected) follow in a
// DiscardStateAction.
type AbortAction struct {
	ID            int64
	Reason        string
	Savepoint     bool
	Kind          SavepointKind
	Dir           string
	DiscardShared []string
}

// DiscardAction: a retained checkpoint fell out of the retention (or the
// coordinator shut down with discard). The caller deletes its directory
// (Checkpoint.ExternalPath) recursively and the shared files listed in
// SharedFiles (reference count reached zero; relative to the shared dir, or
// absolute URIs). Its exclusive files outside the directory
// (entropy-injected) follow in a DiscardStateAction.
type DiscardAction struct {
	Checkpoint  *Completed
	SharedFiles []string
}

// DiscardStateAction: files of checkpoint ID that no directory deletion
// reaches must go. Either a task acknowledged a checkpoint that is no longer
// pending (it was aborted or expired; Task is set): the files were written
// for nothing. Or an AbortAction or DiscardAction just before it deleted the
// checkpoint's directory, and its exclusive files written outside that
// directory (S3 entropy injection; Task is zero) are listed here. The caller
// deletes Exclusive relative to Dir and Shared (files the task uploaded for
// the checkpoint, marked New, that no checkpoint references) relative to the
// job's shared directory; a path that is an absolute URI stands for itself
// (ResolveFile). Deleting a missing file is not an error.
type DiscardStateAction struct {
	ID        int64
	Task      TaskID
	Dir       string
	Exclusive []string
	Shared    []string
}

// FailJobAction: too many consecutive checkpoint failures (see
// Config.TolerableFailures). The caller fails the job (and restarts it per
// its restart strategy, then calls Coordinator.Reset).
type FailJobAction struct {
	Reason string
}

func (*TriggerAction) isAction()        {}
func (*CompleteAction) isAction()       {}
func (*NotifyCompleteAction) isAction() {}
func (*AbortAction) isAction()          {}
func (*DiscardAction) isAction()        {}
func (*DiscardStateAction) isAction()   {}
func (*FailJobAction) isAction()        {}

func (a *TriggerAction) String() string {
	return fmt.Sprintf("trigger %d ts=%d %v targets=%v", a.ID, a.Timestamp, a.Kind, a.Targets)
}
func (a *CompleteAction) String() string { return fmt.Sprintf("complete %d", a.Checkpoint.ID) }
func (a *NotifyCompleteAction) String() string {
	return fmt.Sprintf("notify-complete %d", a.ID)
}
func (a *AbortAction) String() string {
	return fmt.Sprintf("abort %d (%s) shared=%v", a.ID, a.Reason, a.DiscardShared)
}
func (a *DiscardAction) String() string {
	return fmt.Sprintf("discard %d shared=%v", a.Checkpoint.ID, a.SharedFiles)
}
func (a *DiscardStateAction) String() string {
	return fmt.Sprintf("discard-state %d %v exclusive=%v shared=%v", a.ID, a.Task, a.Exclusive, a.Shared)
}
func (a *FailJobAction) String() string { return "fail-job: " + a.Reason }
