package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/testing/jobs/countingcheck"
	"github.com/flink-go/flink-go/testing/s3/s3bed"
)

// TestS3EntropyInjection: checkpoints to s3://<bucket>/_entropy_/ckpt with
// s3.entropy.key=_entropy_ and s3.entropy.length=4, in a local session (so the JobManager
// outlives the jobs and finishes their cleanup). A counting job on the pebble backend
// (incremental: shared SSTs and private files) is cancelled with its newest checkpoint
// retained: every _metadata lives at ckpt/<job>/chk-N/ (marker removed), every data file it
// references under <4 random characters>/ckpt/<job>/..., and the files of the checkpoints that
// fell out of the retention are gone (shared files still referenced excepted). The retained
// checkpoint restores (run -s, hashmap backend, whose .keyed files are injected too) to the
// exact output; once that second job finished, none of its checkpoints' files are left, and
// the first job's checkpoint it restored from is untouched.
func TestS3EntropyInjection(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	client := srv.Client()
	const records, keys, every = 1_500_000, 500, 50
	want := countingcheck.Expected(records, keys, every)
	home := t.TempDir()
	out := filepath.Join(home, "out")
	port := freePort(t)
	s3conf := s3Flags(srv.Config())
	if r := flinkGoHome(t, home, 30*time.Second, append([]string{"cluster", "start", "-D", fmt.Sprintf("rest.port=%d", port),
		"-D", "local.taskmanagers=2", "-D", "io.tmp.dirs=" + filepath.Join(home, "tmp")}, s3conf...)...); r.code != 0 {
		t.Fatalf("cluster start: exit %d\n%s", r.code, r.stderr)
	}
	defer flinkGoHome(t, home, 30*time.Second, "cluster", "stop")
	common := append([]string{"-p", "2", "-D", "execution.checkpointing.interval=300ms",
		"-D", "execution.checkpointing.dir=s3://" + bucket + "/_entropy_/ckpt",
		"-D", "execution.checkpointing.externalized-checkpoint-retention=RETAIN_ON_CANCELLATION",
		"-D", "s3.entropy.key=_entropy_", "-D", "s3.entropy.length=4"}, s3conf...)
	job := []string{bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every), "--rate", "200000", "--output", out}
	submit := func(extra ...string) string {
		t.Helper()
		r := flinkGoHome(t, home, 60*time.Second, append(append(append([]string{"run", "-d"}, extra...), common...), job...)...)
		m := jobIDRe.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("run -d: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		return m[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Job A: pebble backend, cancelled mid-run with its newest checkpoint retained.
	idA := submit("-D", "state.backend.type=pebble")
	seenA := newMetaWatcher(client, bucket, idA)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := seenA.poll(ctx); err != nil {
			t.Fatal(err)
		}
		if seenA.count() >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for 4 completed checkpoints of job %s on S3, saw %d", idA, seenA.count())
		}
	}
	if r := flinkGoHome(t, home, 10*time.Second, "cancel", idA); r.code != 0 {
		t.Fatalf("cancel: exit %d\n%s", r.code, r.stderr)
	}
	waitState(t, home, idA, "CANCELED")

	// The retained checkpoint is the only _metadata left; the discarded ones' files go.
	var retained *checkpoint.Completed
	var retainedKey string
	var retainedFiles map[string]bool
	var objs map[string]bool
	var problems []string
	gone := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		objs = listObjects(t, client, bucket)
		problems, gone = nil, 0
		var metas []string
		for k := range objs {
			if strings.HasPrefix(k, "ckpt/"+idA+"/") && strings.HasSuffix(k, "/"+checkpoint.MetadataFileName) {
				metas = append(metas, k)
			}
		}
		if len(metas) != 1 {
			problems = append(problems, fmt.Sprintf("job %s has %d _metadata files %v, want the one retained checkpoint", idA, len(metas), metas))
		} else if retainedKey != metas[0] {
			c, err := readMetadataObject(ctx, client, bucket, metas[0])
			if err != nil {
				t.Fatal(err)
			}
			retained, retainedKey, retainedFiles = c, metas[0], fileKeys(t, bucket, c)
		}
		if retained != nil {
			for k := range retainedFiles {
				if !objs[k] {
					t.Fatalf("retained checkpoint %d references %s, which is missing", retained.ID, k)
				}
			}
			for id, c := range seenA.all() {
				if id == retained.ID {
					continue
				}
				for k := range fileKeys(t, bucket, c.Completed) {
					if retainedFiles[k] {
						continue // a shared file the retained checkpoint still uses
					}
					if objs[k] {
						problems = append(problems, fmt.Sprintf("discarded checkpoint %d: its file %s is still there", id, k))
					}
					gone++
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the cancellation:\n%s", strings.Join(problems, "\n"))
		}
	}
	checkLayout(t, bucket, idA, objs, seenA)
	if gone == 0 {
		t.Fatal("no discarded checkpoint's file was observed: the test checked nothing")
	}
	t.Logf("job %s: %d checkpoints seen, %d files of discarded ones deleted; restoring checkpoint %d", idA, seenA.count(), gone, retained.ID)

	// Job B: restores the retained checkpoint (hashmap backend) and finishes.
	chkURI := "s3://" + bucket + "/" + strings.TrimSuffix(retainedKey, "/"+checkpoint.MetadataFileName)
	idB := submit("-s", chkURI)
	seenB := newMetaWatcher(client, bucket, idB)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if err := seenB.poll(ctx); err != nil {
			t.Fatal(err)
		}
		st := jobState(t, home, idB)
		if st == "FINISHED" {
			break
		}
		if st == "FAILED" || st == "CANCELED" || time.Now().After(deadline) {
			t.Fatalf("resumed job %s: %s (want FINISHED within 2 min)", idB, st)
		}
	}
	if got := committedLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output differs from a run without the cancellation: %d lines, want %d", len(got), len(want))
	}
	if seenB.count() == 0 {
		t.Fatal("the resumed job completed no checkpoint that the test saw: lower --rate or the interval")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		objs = listObjects(t, client, bucket)
		problems = nil
		for k := range retainedFiles {
			if !objs[k] {
				t.Fatalf("the restored checkpoint of job %s lost %s (a restore must not claim another job's checkpoint)", idA, k)
			}
		}
		for id, c := range seenB.all() {
			if objs[c.metaKey] {
				problems = append(problems, fmt.Sprintf("finished job %s kept checkpoint %d (%s)", idB, id, c.metaKey))
			}
			for k := range fileKeys(t, bucket, c.Completed) {
				if objs[k] {
					problems = append(problems, fmt.Sprintf("finished job %s: file %s of its checkpoint %d is still there", idB, k, id))
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the job finished:\n%s", strings.Join(problems, "\n"))
		}
	}
	checkLayout(t, bucket, idB, objs, seenB)
	t.Logf("resumed job %s: %d checkpoints seen, all deleted after it finished", idB, seenB.count())
}

// TestS3EntropyFailover: with entropy injection and the pebble backend, a TaskManager process is
// killed; the job restores from its injected checkpoint files and finishes with the exact
// output, and the restarted subtasks keep uploading their SSTs to the injected shared
// directories they restored from (so checkpoints after the restore stay incremental).
func TestS3EntropyFailover(t *testing.T) {
	srv := s3bed.Require(t)
	bucket := srv.NewBucket(t)
	client := srv.Client()
	const records, keys, every = 2_000_000, 500, 100
	want := countingcheck.Expected(records, keys, every)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"run", "-t", "local", "-p", "2", "-D", fmt.Sprintf("rest.port=%d", port), "-D", "local.taskmanagers=2",
		"-D", "local.taskmanagers.processes=true", "-D", "state.backend.type=pebble",
		"-D", "execution.checkpointing.interval=300ms", "-D", "execution.checkpointing.dir=s3://" + bucket + "/_entropy_/ckpt",
		"-D", "s3.entropy.key=_entropy_", "-D", "s3.entropy.length=4", "-D", "io.tmp.dirs=" + filepath.Join(dir, "tmp"),
		"-D", "restart-strategy.type=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=10", "-D", "restart-strategy.fixed-delay.delay=200ms"},
		s3Flags(srv.Config())...)
	args = append(args, bin("counting"), "--records", strconv.Itoa(records), "--keys", strconv.Itoa(keys), "--every", strconv.Itoa(every),
		"--rate", "250000", "--output", out)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := startFlinkGo(ctx, t, dir, args...)
	id := run.runningJob(t, addr)
	w := newMetaWatcher(client, bucket, id)
	for deadline := time.Now().Add(60 * time.Second); w.count() < 2; time.Sleep(100 * time.Millisecond) {
		if err := w.poll(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for 2 checkpoints of job %s, saw %d\n%s", id, w.count(), run.stderr.String())
		}
	}
	var lastBefore int64
	for cid := range w.all() {
		lastBefore = max(lastBefore, cid)
	}
	killed := false
	for _, p := range taskManagers(run.cmd.Process.Pid) {
		if syscall.Kill(p, syscall.SIGKILL) == nil {
			killed = true
			break
		}
	}
	if !killed {
		t.Fatal("no TaskManager process to kill")
	}
	var errRun error
	for running := true; running; {
		select {
		case errRun = <-run.done:
			running = false
		case <-time.After(100 * time.Millisecond):
			if err := w.poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if errRun != nil {
		t.Fatalf("job failed: %v\n%s", errRun, run.stderr.String())
	}
	if got := committedLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("output differs: %d lines, want %d", len(got), len(want))
	}
	sharedDirs := func(after bool) (map[string]bool, map[string]bool) {
		dirs, files := map[string]bool{}, map[string]bool{}
		for cid, c := range w.all() {
			if (cid > lastBefore) != after {
				continue
			}
			for _, f := range c.Files() {
				if f.Shared {
					dirs[f.Path[:strings.LastIndexByte(f.Path, '/')]] = true
					files[f.Path] = true
				}
			}
		}
		return dirs, files
	}
	beforeDirs, beforeFiles := sharedDirs(false)
	afterDirs, afterFiles := sharedDirs(true)
	if len(afterDirs) == 0 {
		t.Fatalf("no checkpoint with shared files seen after the TaskManager was killed (checkpoints seen: %d, last before the kill %d)", w.count(), lastBefore)
	}
	for d := range afterDirs {
		if !beforeDirs[d] {
			t.Errorf("after the restore, SSTs go to %s, not to a shared directory the job used before %v (the restored subtask lost its incremental base)", d, beforeDirs)
		}
		if !strings.HasPrefix(d, "s3://"+bucket+"/") || strings.Contains(d, "_entropy_") || !strings.HasSuffix(d, "/ckpt/"+id+"/shared") {
			t.Errorf("shared directory %s is not entropy-injected", d)
		}
	}
	reused := 0
	for f := range afterFiles {
		if beforeFiles[f] {
			reused++
		}
	}
	t.Logf("%d checkpoints seen (%d before the kill); shared directories %d; %d SST files referenced both before and after the restore",
		w.count(), lastBefore, len(beforeDirs), reused)
}

// jobState returns the session's state of a job ("" when not listed).
func jobState(t *testing.T, home, id string) string {
	t.Helper()
	for _, line := range strings.Split(flinkGoHome(t, home, 10*time.Second, "list", "-a").stdout, "\n") {
		if strings.HasPrefix(line, id) {
			for _, st := range []string{"FINISHED", "FAILED", "CANCELED", "RUNNING", "CREATED", "RESTARTING", "CANCELLING", "FAILING"} {
				if strings.Contains(line, st) {
					return st
				}
			}
		}
	}
	return ""
}

// metaWatcher records every checkpoint _metadata that appears in a bucket below ckpt/<job>/.
type metaWatcher struct {
	client      *s3.Client
	bucket, job string
	skip        string
	mu          sync.Mutex
	seen        map[int64]*seenCheckpoint
}

type seenCheckpoint struct {
	*checkpoint.Completed
	job, metaKey string
}

func newMetaWatcher(client *s3.Client, bucket, job string) *metaWatcher {
	return &metaWatcher{client: client, bucket: bucket, job: job, seen: map[int64]*seenCheckpoint{}}
}

var metaKeyRe = regexp.MustCompile(`^ckpt/([^/]+)/chk-([0-9]+)/_metadata$`)

func (w *metaWatcher) poll(ctx context.Context) error {
	keys, err := listKeys(ctx, w.client, w.bucket, "ckpt/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		m := metaKeyRe.FindStringSubmatch(k)
		if m == nil || (w.job != "" && m[1] != w.job) || m[1] == w.skip {
			continue
		}
		id, _ := strconv.ParseInt(m[2], 10, 64)
		w.mu.Lock()
		_, ok := w.seen[id]
		w.mu.Unlock()
		if ok {
			continue
		}
		c, err := readMetadataObject(ctx, w.client, w.bucket, k)
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			continue // discarded between the listing and the read
		}
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.seen[id] = &seenCheckpoint{Completed: c, job: m[1], metaKey: k}
		w.mu.Unlock()
	}
	return nil
}

func (w *metaWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func (w *metaWatcher) all() map[int64]*seenCheckpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int64]*seenCheckpoint{}
	for k, v := range w.seen {
		out[k] = v
	}
	return out
}

// checkLayout asserts the entropy layout of a job's checkpoints: no key holds the marker,
// _metadata sits at ckpt/<job>/chk-N/, every file a checkpoint references is an absolute URI
// under <4 alphanumeric characters>/ckpt/<job>/chk-N/ (exclusive) or .../shared/ (shared).
func checkLayout(t *testing.T, bucket, job string, objs map[string]bool, w *metaWatcher) {
	t.Helper()
	for k := range objs {
		if strings.Contains(k, "_entropy_") {
			t.Errorf("object %s still holds the entropy marker", k)
		}
	}
	prefixes := map[string]bool{}
	for id, c := range w.all() {
		if want := fmt.Sprintf("ckpt/%s/chk-%d/_metadata", job, id); c.metaKey != want {
			t.Errorf("metadata at %s, want %s", c.metaKey, want)
		}
		exclusive := regexp.MustCompile(fmt.Sprintf(`^s3://%s/([A-Za-z0-9]{4})/ckpt/%s/chk-%d/`, regexp.QuoteMeta(bucket), regexp.QuoteMeta(job), id))
		shared := regexp.MustCompile(fmt.Sprintf(`^s3://%s/([A-Za-z0-9]{4})/ckpt/%s/shared/[^/]+$`, regexp.QuoteMeta(bucket), regexp.QuoteMeta(job)))
		files := c.Files()
		if len(files) == 0 {
			t.Errorf("checkpoint %d references no file", id)
		}
		for _, f := range files {
			re := exclusive
			if f.Shared {
				re = shared
			}
			m := re.FindStringSubmatch(f.Path)
			if m == nil {
				t.Errorf("checkpoint %d: file %q (shared %v) is not entropy-injected below the job's directory", id, f.Path, f.Shared)
				continue
			}
			prefixes[m[1]] = true
		}
	}
	t.Logf("%d distinct entropy prefixes", len(prefixes))
	if len(prefixes) < 2 {
		t.Errorf("all data files share the entropy prefix %v: no entropy", prefixes)
	}
}

// fileKeys returns the object keys of the files a checkpoint references (all absolute URIs in
// this bucket, see checkLayout).
func fileKeys(t *testing.T, bucket string, c *checkpoint.Completed) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range c.Files() {
		k, ok := strings.CutPrefix(checkpoint.ResolveFile(c.ExternalPath, f), "s3://"+bucket+"/")
		if !ok {
			t.Fatalf("checkpoint %d references %s outside bucket %s", c.ID, f.Path, bucket)
		}
		out[k] = true
	}
	return out
}

func readMetadataObject(ctx context.Context, client *s3.Client, bucket, key string) (*checkpoint.Completed, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o, err := client.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer o.Body.Close()
	data, err := io.ReadAll(o.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	c, err := checkpoint.UnmarshalMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	c.ExternalPath = "s3://" + bucket + "/" + strings.TrimSuffix(key, "/"+checkpoint.MetadataFileName)
	return c, nil
}

func listKeys(ctx context.Context, client *s3.Client, bucket, prefix string) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(lctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func listObjects(t *testing.T, client *s3.Client, bucket string) map[string]bool {
	t.Helper()
	keys, err := listKeys(context.Background(), client, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}
