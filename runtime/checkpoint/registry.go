package checkpoint

import "sort"

// SharedRegistry counts, for every shared file (path relative to the job's
// shared directory), how many retained checkpoints reference it. A checkpoint
// referencing a file several times (several subtasks or handles) counts once.
//
// Safety rests on one rule for state backends writing incremental
// checkpoints: a newly uploaded shared file gets a unique name and belongs to
// exactly one checkpoint until that checkpoint completes; afterwards the
// backend may reference it again only from checkpoints triggered after it was
// notified of that completion. Since files are immutable and a file the
// backend no longer uses never comes back, a file dropped by every retained
// checkpoint is never referenced again and can be deleted.
type SharedRegistry struct {
	refs map[string]int
}

// NewSharedRegistry returns an empty registry.
func NewSharedRegistry() *SharedRegistry {
	return &SharedRegistry{refs: map[string]int{}}
}

// Register adds one reference to every shared file of c.
func (r *SharedRegistry) Register(c *Completed) {
	for _, p := range c.SharedFiles() {
		r.refs[p]++
	}
}

// Unregister drops c's references and returns the files that no retained
// checkpoint references any more (sorted); the caller deletes them.
func (r *SharedRegistry) Unregister(c *Completed) []string {
	var zero []string
	for _, p := range c.SharedFiles() {
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
