package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanup(t *testing.T) {
	ctx := context.Background()
	root := filepath.ToSlash(t.TempDir())
	mk := func(rel string) string {
		p := filepath.Join(filepath.FromSlash(root), filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
		return p
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(filepath.FromSlash(root), filepath.FromSlash(rel)))
		return err == nil
	}
	mk("job/chk-1/a")
	mk("job/chk-2/b")
	mk("job/shared/s1")
	mk("job/shared/s2")
	mk("job/shared/s3")
	mk("sp/savepoint-abc-1/x")
	mk("sp/older-savepoint/keep")

	acts := []Action{
		&AbortAction{ID: 1, Dir: root + "/job/chk-1", DiscardShared: []string{"s1", "missing"}},
		&DiscardAction{Checkpoint: &Completed{ID: 2, ExternalPath: root + "/job/chk-2"}, SharedFiles: []string{"s2"}},
		&AbortAction{ID: 3, Savepoint: true, Dir: root + "/sp/savepoint-abc-1"},
		&NotifyCompleteAction{ID: 4},
	}
	for _, a := range acts {
		if err := Cleanup(ctx, a); err != nil {
			t.Fatalf("%v: %v", a, err)
		}
	}
	for rel, want := range map[string]bool{"job/chk-1": false, "job/chk-2": false, "job/shared/s1": false, "job/shared/s2": false,
		"job/shared/s3": true, "sp/savepoint-abc-1": false, "sp/older-savepoint/keep": true} {
		if exists(rel) != want {
			t.Errorf("%s exists = %v, want %v", rel, !want, want)
		}
	}
	// A late acknowledgement's files, written after the directory was removed.
	mk("job/chk-5/late")
	mk("job/shared/new-late")
	if err := Cleanup(ctx, &DiscardStateAction{ID: 5, Dir: root + "/job/chk-5", Exclusive: []string{"late", "gone"}, Shared: []string{"new-late"}}); err != nil {
		t.Fatal(err)
	}
	if exists("job/chk-5/late") || exists("job/shared/new-late") {
		t.Error("late files not deleted")
	}
	// A savepoint target directory passed by mistake is never wiped.
	err := Cleanup(ctx, &AbortAction{ID: 6, Savepoint: true, Dir: root + "/sp"})
	if err == nil || !strings.Contains(err.Error(), "neither chk-<n> nor savepoint-*") || !exists("sp/older-savepoint/keep") {
		t.Errorf("guard: %v", err)
	}
	if err := Cleanup(ctx, &AbortAction{ID: 7, DiscardShared: []string{"s3"}}); err == nil {
		t.Error("shared files without a directory: no error")
	}
}

// A late acknowledgement of an aborted savepoint points at the savepoint's
// directory, not at chk-<id>.
func TestLateAckOfSavepoint(t *testing.T) {
	c := NewCoordinator(Config{JobDir: "/ck/j", TolerableFailures: UnlimitedFailures}, tasks4, srcs, nil, 1)
	id, _ := c.TriggerSavepoint(at(0), "/sp/savepoint-j-1", SavepointPlain)
	want(t, "decline", c.Decline(at(1), map0, id, "x"), "abort(1)")
	acts := c.Ack(at(2), map1, id, handle(map1, id))
	want(t, "late", acts, "discard-state(1)")
	if d := acts[0].(*DiscardStateAction).Dir; d != "/sp/savepoint-j-1" {
		t.Errorf("dir %q", d)
	}
	// Refused savepoint acks never hand out shared files to delete.
	id, _ = c.TriggerSavepoint(at(3), "/sp/savepoint-j-2", SavepointPlain)
	acts = c.Ack(at(4), map0, id, handle(map0, id, "new:bad"))
	want(t, "refused", acts, "abort(2)")
	if ds := acts[0].(*AbortAction).DiscardShared; len(ds) != 0 {
		t.Errorf("DiscardShared %v", ds)
	}
	for i := 0; i < maxAbortedDirs+10; i++ {
		id, _ := c.TriggerCheckpoint(at(5))
		c.Decline(at(5), map0, id, "x")
	}
	if len(c.abortedDirs) > maxAbortedDirs {
		t.Errorf("abortedDirs grew to %d", len(c.abortedDirs))
	}
}
