package jobmanager

// High availability (FILESYSTEM): the JobManager keeps what a new JobManager process (a new YARN
// ApplicationMaster attempt) needs to recover in a directory on a durable file system. Layout
// (docs/ha.md):
//
//	<root> = <high-availability.storageDir>/<high-availability.cluster-id>
//	<root>/jobs/<job-id>.pb        the submitted job (graph, artifact); written before the
//	                               submission is acknowledged, removed when the job ended
//	<root>/results/<job-id>.json   the job's end (status, failure); written before jobs/ is removed
//	<root>/leader                  the current JobManager's RPC and REST addresses
//
// Every file is written atomically (temporary file + rename). Nothing here deletes data it could
// not read: an unreadable file is reported with its path and left in place.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/runtime/checkpoint"
	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// JobStore keeps submitted jobs durably so another JobManager can recover them. *HAStore
// implements it.
type JobStore interface {
	// PutJob stores a submitted job; the submission fails if it cannot.
	PutJob(ctx context.Context, job StoredJob) error
	// JobEnded records a job's globally terminal state and removes the stored job.
	JobEnded(ctx context.Context, result JobResult) error
}

// StoredJob is a submitted job as the HA store keeps it.
type StoredJob struct {
	Graph     *jobgraph.JobGraph
	Artifact  string // the job binary's URI (session clusters), if any
	Submitted time.Time
}

// JobResult is the recorded end of a job.
type JobResult struct {
	JobID   string    `json:"job_id"`
	Name    string    `json:"name"`
	Status  JobStatus `json:"status"`
	Failure string    `json:"failure,omitempty"`
	Ended   time.Time `json:"ended"`
}

// Leader is the content of the leader file: where the current JobManager listens.
type Leader struct {
	RPC     string    `json:"rpc"`
	REST    string    `json:"rest"`
	Attempt string    `json:"attempt,omitempty"`
	Written time.Time `json:"written"`
}

// HA store file names.
const (
	haJobsDir    = "jobs"
	haResultsDir = "results"
	haLeaderFile = "leader"
	haJobSuffix  = ".pb"
	haResSuffix  = ".json"
)

// ErrCorruptHAFile marks an HA file that exists but cannot be decoded.
var ErrCorruptHAFile = errors.New("corrupt high-availability file")

// HARoot returns the HA directory of a cluster: <storageDir>/<clusterID>. The cluster id must be
// a single path element (an application id, or "default").
func HARoot(storageDir, clusterID string) (string, error) {
	if storageDir == "" {
		return "", errors.New("high availability needs a storage directory (high-availability.storageDir)")
	}
	id := strings.Trim(clusterID, "/")
	if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
		return "", fmt.Errorf("high-availability.cluster-id %q must be one path element (e.g. the YARN application id)", clusterID)
	}
	return strings.TrimSuffix(storageDir, "/") + "/" + id, nil
}

// LeaderURI returns the leader file's URI below an HA root.
func LeaderURI(root string) string { return strings.TrimSuffix(root, "/") + "/" + haLeaderFile }

// HAStore is the FILESYSTEM HA store below one root URI (HARoot).
type HAStore struct {
	root string
	fsys fs.FileSystem
	path string
}

// OpenHAStore opens (and creates) the HA directory root, a URI on a registered file system.
func OpenHAStore(ctx context.Context, root string) (*HAStore, error) {
	fsys, p, err := fs.Get(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("high-availability directory %s: %w", root, err)
	}
	if err := fsys.MkdirAll(ctx, fs.Join(p, haJobsDir), 0o700); err != nil {
		return nil, fmt.Errorf("high-availability directory %s: creating %s/: %w (is the file system reachable and writable?)", root, haJobsDir, err)
	}
	return &HAStore{root: strings.TrimSuffix(root, "/"), fsys: fsys, path: p}, nil
}

// Root returns the store's root URI.
func (s *HAStore) Root() string { return s.root }

// LeaderURI returns the URI of the store's leader file.
func (s *HAStore) LeaderURI() string { return LeaderURI(s.root) }

func (s *HAStore) uri(rel string) string { return s.root + "/" + rel }

func validJobID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("job id %q cannot name a file", id)
	}
	return nil
}

// PutJob implements JobStore: jobs/<job-id>.pb, written atomically.
func (s *HAStore) PutJob(ctx context.Context, job StoredJob) error {
	if job.Graph == nil {
		return errors.New("high availability: storing a job without a graph")
	}
	if err := validJobID(job.Graph.JobId); err != nil {
		return fmt.Errorf("high availability: %w", err)
	}
	b, err := EncodeStoredJob(job)
	if err != nil {
		return err
	}
	rel := haJobsDir + "/" + job.Graph.JobId + haJobSuffix
	if err := fs.WriteFileAtomic(ctx, s.fsys, fs.Join(s.path, rel), b); err != nil {
		return fmt.Errorf("high availability: storing job %s in %s: %w", job.Graph.JobId, s.uri(rel), err)
	}
	return nil
}

// JobEnded implements JobStore: results/<job-id>.json first, then jobs/<job-id>.pb is removed.
func (s *HAStore) JobEnded(ctx context.Context, r JobResult) error {
	if err := validJobID(r.JobID); err != nil {
		return fmt.Errorf("high availability: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("high availability: job result: %w", err)
	}
	rel := haResultsDir + "/" + r.JobID + haResSuffix
	if err := fs.WriteFileAtomic(ctx, s.fsys, fs.Join(s.path, rel), b); err != nil {
		return fmt.Errorf("high availability: recording the end of job %s in %s: %w", r.JobID, s.uri(rel), err)
	}
	jrel := haJobsDir + "/" + r.JobID + haJobSuffix
	if err := s.fsys.Delete(ctx, fs.Join(s.path, jrel), false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("high availability: removing the ended job's %s: %w", s.uri(jrel), err)
	}
	return nil
}

// Jobs reads every stored job, ordered by submission time. Files that cannot be read or decoded
// are reported (each error names its file) and left in place; the others are returned.
func (s *HAStore) Jobs(ctx context.Context) ([]StoredJob, []error) {
	entries, err := s.fsys.List(ctx, fs.Join(s.path, haJobsDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("high availability: listing %s: %w", s.uri(haJobsDir), err)}
	}
	var out []StoredJob
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir || !strings.HasSuffix(name, haJobSuffix) || strings.HasPrefix(name, ".") {
			continue // temporary files of an interrupted atomic write, foreign files
		}
		uri := s.uri(haJobsDir + "/" + name)
		b, err := fs.ReadFile(ctx, s.fsys, fs.Join(s.path, haJobsDir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("high availability: reading %s: %w", uri, err))
			continue
		}
		j, err := DecodeStoredJob(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("high availability: %s: %w", uri, err))
			continue
		}
		if want := strings.TrimSuffix(name, haJobSuffix); j.Graph.JobId != want {
			errs = append(errs, fmt.Errorf("high availability: %s: %w: it holds job %s (file renamed or copied?)", uri, ErrCorruptHAFile, j.Graph.JobId))
			continue
		}
		out = append(out, j)
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Submitted.Before(out[k].Submitted) })
	return out, errs
}

// Results reads the recorded job ends. Unreadable files are reported and left in place.
func (s *HAStore) Results(ctx context.Context) ([]JobResult, []error) {
	entries, err := s.fsys.List(ctx, fs.Join(s.path, haResultsDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("high availability: listing %s: %w", s.uri(haResultsDir), err)}
	}
	var out []JobResult
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir || !strings.HasSuffix(name, haResSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		uri := s.uri(haResultsDir + "/" + name)
		b, err := fs.ReadFile(ctx, s.fsys, fs.Join(s.path, haResultsDir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("high availability: reading %s: %w", uri, err))
			continue
		}
		var r JobResult
		if err := json.Unmarshal(b, &r); err != nil || r.JobID == "" || r.Status == "" {
			errs = append(errs, fmt.Errorf("high availability: %s: %w: not a job result (%v)", uri, ErrCorruptHAFile, err))
			continue
		}
		out = append(out, r)
	}
	return out, errs
}

// WriteLeader publishes the current JobManager's addresses (atomically).
func (s *HAStore) WriteLeader(ctx context.Context, l Leader) error {
	if l.RPC == "" {
		return errors.New("high availability: leader without an RPC address")
	}
	if l.Written.IsZero() {
		l.Written = time.Now()
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("high availability: leader: %w", err)
	}
	if err := fs.WriteFileAtomic(ctx, s.fsys, fs.Join(s.path, haLeaderFile), b); err != nil {
		return fmt.Errorf("high availability: writing the leader file %s: %w", s.LeaderURI(), err)
	}
	return nil
}

// ReadLeader reads a leader file (LeaderURI) on any registered file system.
func ReadLeader(ctx context.Context, uri string) (Leader, error) {
	fsys, p, err := fs.Get(ctx, uri)
	if err != nil {
		return Leader{}, fmt.Errorf("leader file %s: %w", uri, err)
	}
	b, err := fs.ReadFile(ctx, fsys, p)
	if err != nil {
		return Leader{}, fmt.Errorf("reading the leader file %s: %w", uri, err)
	}
	return DecodeLeader(uri, b)
}

// DecodeLeader parses the content of the leader file named name.
func DecodeLeader(name string, b []byte) (Leader, error) {
	var l Leader
	if err := json.Unmarshal(b, &l); err != nil {
		return Leader{}, fmt.Errorf("leader file %s: %w: %v", name, ErrCorruptHAFile, err)
	}
	if l.RPC == "" {
		return Leader{}, fmt.Errorf("leader file %s: %w: no rpc address", name, ErrCorruptHAFile)
	}
	return l, nil
}

// Stored job file format (version 1): the 8 magic bytes "FGHAJOB1", then protobuf wire fields
// 1 = format version (varint), 2 = job id (bytes), 3 = artifact (bytes), 4 = submission time in
// Unix milliseconds (varint), 5 = the JobGraph message (bytes), then the CRC-32C (Castagnoli) of
// everything before it, 4 bytes big endian.
var haJobMagic = []byte("FGHAJOB1")

const haJobVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeStoredJob serializes a stored job (format above).
func EncodeStoredJob(j StoredJob) ([]byte, error) {
	if j.Graph == nil {
		return nil, errors.New("high availability: encoding a job without a graph")
	}
	g, err := proto.Marshal(j.Graph)
	if err != nil {
		return nil, fmt.Errorf("high availability: serializing job %s: %w", j.Graph.JobId, err)
	}
	b := append([]byte(nil), haJobMagic...)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, haJobVersion)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, j.Graph.JobId)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, j.Artifact)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(j.Submitted.UnixMilli()))
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	b = protowire.AppendBytes(b, g)
	sum := crc32.Checksum(b, castagnoli)
	return append(b, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)), nil
}

// DecodeStoredJob parses a stored job; errors wrap ErrCorruptHAFile and say what is wrong.
func DecodeStoredJob(b []byte) (StoredJob, error) {
	if len(b) < len(haJobMagic)+4 || !bytes.Equal(b[:len(haJobMagic)], haJobMagic) {
		return StoredJob{}, fmt.Errorf("%w: not a flink-go stored job (no %q header; %d bytes)", ErrCorruptHAFile, haJobMagic, len(b))
	}
	body, tail := b[:len(b)-4], b[len(b)-4:]
	if want, got := uint32(tail[0])<<24|uint32(tail[1])<<16|uint32(tail[2])<<8|uint32(tail[3]), crc32.Checksum(body, castagnoli); want != got {
		return StoredJob{}, fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x): truncated or overwritten", ErrCorruptHAFile, want, got)
	}
	rest := body[len(haJobMagic):]
	var j StoredJob
	var id string
	var version uint64
	var graph []byte
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return StoredJob{}, fmt.Errorf("%w: bad field tag: %v", ErrCorruptHAFile, protowire.ParseError(n))
		}
		rest = rest[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			version, n = protowire.ConsumeVarint(rest)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(rest)
			id = string(v)
		case num == 3 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(rest)
			j.Artifact = string(v)
		case num == 4 && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(rest)
			j.Submitted = time.UnixMilli(int64(v))
		case num == 5 && typ == protowire.BytesType:
			graph, n = protowire.ConsumeBytes(rest)
		default:
			n = protowire.ConsumeFieldValue(num, typ, rest)
		}
		if n < 0 {
			return StoredJob{}, fmt.Errorf("%w: field %d: %v", ErrCorruptHAFile, num, protowire.ParseError(n))
		}
		rest = rest[n:]
	}
	if version != haJobVersion {
		return StoredJob{}, fmt.Errorf("%w: format version %d, this flink-go reads version %d", ErrCorruptHAFile, version, haJobVersion)
	}
	if graph == nil {
		return StoredJob{}, fmt.Errorf("%w: no job graph", ErrCorruptHAFile)
	}
	g := &jobgraph.JobGraph{}
	if err := proto.Unmarshal(graph, g); err != nil {
		return StoredJob{}, fmt.Errorf("%w: job graph: %v", ErrCorruptHAFile, err)
	}
	if g.JobId != id || id == "" {
		return StoredJob{}, fmt.Errorf("%w: job id %q in the header, %q in the graph", ErrCorruptHAFile, id, g.JobId)
	}
	j.Graph = g
	return j, nil
}

// Recovery is how a stored job is resumed: from the newest restorable checkpoint of its
// checkpoint directory, or as submitted (its own execution.state-recovery.path, if any, or
// from scratch) when none completed.
type Recovery struct {
	Graph *jobgraph.JobGraph // a copy of the stored graph, configured to restore
	// Checkpoint is the checkpoint restored from (nil: none).
	Checkpoint *checkpoint.Completed
	// Skipped are newer checkpoints that could not be restored (reported, never deleted).
	Skipped []error
}

// PrepareRecovery finds where a stored job resumes: the newest checkpoint under
// <execution.checkpointing.dir>/<job-id>/ whose metadata and files are intact (the same search
// `run -s <job dir>` uses). The returned graph is a copy with execution.state-recovery.path set
// to it; the job id stays the same.
func PrepareRecovery(ctx context.Context, g *jobgraph.JobGraph) (Recovery, error) {
	if g == nil || g.JobId == "" {
		return Recovery{}, errors.New("high availability: recovering a job without a graph or job id")
	}
	c := configs.New()
	if err := c.SetAll(g.Config, configs.CodeOrigin("stored job "+g.JobId)); err != nil {
		return Recovery{}, fmt.Errorf("high availability: stored job %s configuration: %w", g.JobId, err)
	}
	r := Recovery{Graph: proto.Clone(g).(*jobgraph.JobGraph)}
	dir := configs.Get(c, configs.CheckpointDir)
	if dir == "" {
		return r, nil
	}
	// With S3 entropy injection the checkpoints' metadata lives under the path without the marker.
	jobDir, _, err := checkpointJobDirs(g.Config, dir, g.JobId)
	if err != nil {
		return Recovery{}, fmt.Errorf("high availability: job %s: %w", g.JobId, err)
	}
	latest, skipped := checkpoint.FindLatestURI(ctx, jobDir)
	r.Skipped = skipped
	if latest == nil {
		return r, nil
	}
	if err := c.Set(configs.StateRecoveryPath.Key(), latest.ExternalPath, configs.CodeOrigin("high-availability recovery")); err != nil {
		return Recovery{}, fmt.Errorf("high availability: job %s: %w", g.JobId, err)
	}
	r.Graph.Config = c.Map()
	r.Checkpoint = latest
	return r, nil
}
