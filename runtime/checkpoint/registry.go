package checkpoint

import "sort"

// SharedRegistry counts, for every shared file (path relative to the job's
// shared directory), how many checkpoints reference it: retained ones, and
// pending ones from the moment a task's acknowledgement names the file (as
// Flink registers shared state on acknowledgement). A checkpoint referencing
// a file several times (several subtasks or handles) counts once.
//
// The rule for state backends writing incremental checkpoints: a newly
// uploaded shared file gets a unique name, is marked StateFile.New, and
// belongs to exactly one checkpoint until that checkpoint completes; the
// backend may reuse it only after it was notified of that completion. A file
// that reaches zero references is deleted; a late reuse of such a file (the
// task had not heard of the newer checkpoint that dropped it yet) is refused
// by the Coordinator, which aborts that checkpoint instead of completing one
// that could not be restored.
type SharedRegistry struct {
	refs map[string]int
}

// NewSharedRegistry returns an empty registry.
func NewSharedRegistry() *SharedRegistry {
	return &SharedRegistry{refs: map[string]int{}}
}

// Register adds one reference to every shared file of c.
func (r *SharedRegistry) Register(c *Completed) { r.Acquire(c.SharedFiles()...) }

// Unregister drops c's references and returns the files that no checkpoint
// references any more (sorted); the caller deletes them.
func (r *SharedRegistry) Unregister(c *Completed) []string { return r.Release(c.SharedFiles()...) }

// Acquire adds one reference to each path (pass distinct paths).
func (r *SharedRegistry) Acquire(paths ...string) {
	for _, p := range paths {
		r.refs[p]++
	}
}

// Release drops one reference from each path (pass distinct paths) and
// returns those that reached zero, sorted.
func (r *SharedRegistry) Release(paths ...string) []string {
	var zero []string
	for _, p := range paths {
		n, ok := r.refs[p]
		if !ok {
			continue // never registered (or registered by an earlier owner)
		}
		if n <= 1 {
			delete(r.refs, p)
			zero = append(zero, p)
			continue
		}
		r.refs[p] = n - 1
	}
	sort.Strings(zero)
	return zero
}

// Refs returns how many retained checkpoints reference the shared file.
func (r *SharedRegistry) Refs(path string) int { return r.refs[path] }

// Len returns the number of shared files referenced.
func (r *SharedRegistry) Len() int { return len(r.refs) }
