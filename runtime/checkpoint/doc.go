// Package checkpoint holds flink-go's checkpoint coordinator and the on-disk
// checkpoint format.
//
// # The coordinator
//
// Coordinator is pure decision logic in the style of etcd-raft: no goroutines,
// no I/O, no clock. The JobMaster feeds it inputs (Tick, TriggerSavepoint,
// Ack, Decline, Finalized, TasksFinished, Reset, Shutdown) with the current
// time, and every input returns the Actions the caller must carry out, in
// order: send barriers (TriggerAction), write a checkpoint's _metadata
// (CompleteAction), tell tasks a checkpoint is durable (NotifyCompleteAction),
// abort and clean up (AbortAction, DiscardStateAction), delete checkpoints
// that fell out of the retention (DiscardAction), or fail the job
// (FailJobAction). A Coordinator is not safe for concurrent use; the JobMaster
// calls it from one goroutine.
//
// Completion is two-step, so that a checkpoint whose _metadata could not be
// written is never reported to the sinks (which commit their transactions when
// notified):
//
//	acts := c.Ack(now, task, id, handle)       // -> CompleteAction{Checkpoint}
//	err := checkpoint.WriteMetadata(ctx, fsys, dir, cp)
//	acts = c.Finalized(now, id, err)           // -> NotifyComplete, Abort(subsumed), Discard...
//
// # Storage layout
//
//	<execution.checkpointing.dir>/<job-id>/chk-<n>/_metadata   written last, atomically
//	<execution.checkpointing.dir>/<job-id>/chk-<n>/<files>     written by tasks before they ack
//	<execution.checkpointing.dir>/<job-id>/shared/<files>      incremental files, reference-counted
//	<savepoint-dir>/savepoint-<jobid6>-<random>/_metadata      self-contained, relative paths
//
// The byte format of _metadata and the rules above are documented in
// docs/formats/checkpoint.md.
package checkpoint
