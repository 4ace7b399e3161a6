package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/colinmarc/hdfs/v2/hadoopconf"
	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/yarn"
)

// Names of the YARN deployment contract (docs/yarn-deployment.md) that the client sets for the
// ApplicationMaster container.
const (
	// EnvYarnStagingDir is the URI of the application's staging directory.
	EnvYarnStagingDir = "FLINK_GO_STAGING_DIR"
	// EnvYarnJobBinary is the file name of the job binary in the staging directory.
	EnvYarnJobBinary = "FLINK_GO_JOB_BINARY"
	// EnvYarnScheduler lists the RM scheduler addresses (comma-separated) for the AM.
	EnvYarnScheduler = "FLINK_GO_YARN_SCHEDULER"
	// RoleYarnApplication is the role a job binary runs in as the AM of an application cluster.
	RoleYarnApplication = "yarn-application"
	// YarnSessionAMCommand is the hidden flink-go command a session's AM container runs.
	YarnSessionAMCommand = "yarn-session-am"

	stagingSubdir    = ".flink-go"
	hadoopConfLink   = "hadoop-conf"
	configJSONName   = "config.json"
	flinkGoLinkName  = "flink-go"
	defaultYarnType  = "flink-go"
	keyMinAllocMB    = "yarn.scheduler.minimum-allocation-mb"
	keyMaxAllocMB    = "yarn.scheduler.maximum-allocation-mb"
	keyMaxAllocVCore = "yarn.scheduler.maximum-allocation-vcores"
)

// YarnMode says what a YARN application's AM container runs.
type YarnMode string

// Deployment modes. Per-job deployments run in application mode (the job binary is the AM).
const (
	YarnApplicationMode YarnMode = "yarn-application"
	YarnSessionMode     YarnMode = "yarn-session"
)

// Errors of a YARN deployment, for errors.Is; the messages name the cause and the fix.
var (
	ErrYarnUnreachable   = errors.New("YARN ResourceManager unreachable (is HADOOP_CONF_DIR set? is yarn.resourcemanager.address right?)")
	ErrYarnQueue         = errors.New("unusable YARN queue")
	ErrYarnResources     = errors.New("requested resources exceed the YARN scheduler's maximum allocation")
	ErrHDFSUnavailable   = errors.New("HDFS unavailable (is HADOOP_CONF_DIR set? is fs.defaultFS right and the NameNode up?)")
	ErrYarnAppNotRunning = errors.New("YARN application is not running")
	ErrYarnDeployFailed  = errors.New("YARN deployment failed")
)

// YarnAppSpec is the submission part of a deployment that follows from the configuration alone
// (Flink's yarn.* keys and their defaults). It has no I/O: see YarnAppSpecFrom.
type YarnAppSpec struct {
	Mode      YarnMode
	Name      string
	Type      string
	Queue     string
	Tags      []string
	Priority  int32 // 0 = the queue's default
	NodeLabel string
	// MaxAttempts of the AM: yarn.application-attempts, else 2 with HA and 1 without.
	MaxAttempts int32
	// AttemptFailuresValidityInterval applies with HA only (0 = failures count forever).
	AttemptFailuresValidityInterval time.Duration
	// KeepContainers across AM attempts (with HA).
	KeepContainers bool
	// AM is the AM container (jobmanager.memory.process.size, yarn.appmaster.vcores).
	AM yarn.Resource
	// TaskManager is one TaskManager container (taskmanager.memory.process.size,
	// yarn.containers.vcores or taskmanager.numberOfTaskSlots).
	TaskManager yarn.Resource
}

// YarnAppSpecFrom derives the submission from the configuration.
func YarnAppSpecFrom(conf *configs.Configuration, mode YarnMode) (YarnAppSpec, error) {
	s := YarnAppSpec{Mode: mode}
	switch mode {
	case YarnApplicationMode:
		s.Name = "Flink Application Cluster"
	case YarnSessionMode:
		s.Name = "Flink session cluster"
	default:
		return s, fmt.Errorf("unknown YARN deployment mode %q (want %s or %s)", mode, YarnApplicationMode, YarnSessionMode)
	}
	if n := configs.Get(conf, configs.YarnApplicationName); n != "" {
		s.Name = n
	}
	s.Type = defaultYarnType
	if configs.IsSet(conf, configs.YarnApplicationType) {
		s.Type = configs.Get(conf, configs.YarnApplicationType)
	}
	s.Queue = configs.Get(conf, configs.YarnQueue)
	for _, t := range configs.Get(conf, configs.YarnTags) {
		if t = strings.TrimSpace(t); t != "" {
			s.Tags = append(s.Tags, t)
		}
	}
	if p := configs.Get(conf, configs.YarnPriority); p > 0 {
		s.Priority = int32(p)
	}
	s.NodeLabel = configs.Get(conf, configs.YarnNodeLabel)
	ha := haEnabled(conf)
	switch {
	case configs.IsSet(conf, configs.YarnApplicationAttempts):
		a := configs.Get(conf, configs.YarnApplicationAttempts)
		if a < 1 {
			return s, fmt.Errorf("%s must be at least 1, got %d", configs.YarnApplicationAttempts.Key(), a)
		}
		s.MaxAttempts = int32(a)
	case ha:
		s.MaxAttempts = 2
	default:
		s.MaxAttempts = 1
	}
	if ha {
		// The next attempt adopts the TaskManager containers (docs/ha.md).
		s.KeepContainers = true
		if v := configs.Get(conf, configs.YarnAttemptFailuresValidityInterval); v > 0 {
			s.AttemptFailuresValidityInterval = time.Duration(v) * time.Millisecond
		}
	}
	jm := configs.Get(conf, configs.JobManagerMemory).MebiBytes()
	tm := configs.Get(conf, configs.TaskManagerMemory).MebiBytes()
	amCores := configs.Get(conf, configs.YarnAppMasterVcores)
	tmCores := configs.Get(conf, configs.YarnContainerVcores)
	if tmCores <= 0 {
		tmCores = max(configs.Get(conf, configs.NumberOfTaskSlots), 1)
	}
	if jm <= 0 || tm <= 0 {
		return s, fmt.Errorf("%s (%d MB) and %s (%d MB) must be at least 1 MB", configs.JobManagerMemory.Key(), jm, configs.TaskManagerMemory.Key(), tm)
	}
	if amCores < 1 {
		return s, fmt.Errorf("%s must be at least 1, got %d", configs.YarnAppMasterVcores.Key(), amCores)
	}
	s.AM = yarn.Resource{MemoryMB: jm, VCores: int32(amCores)}
	s.TaskManager = yarn.Resource{MemoryMB: tm, VCores: int32(tmCores)}
	return s, nil
}

// CheckYarnResources validates the AM and TaskManager containers against the scheduler's minimum
// (from yarn-site.xml) and maximum (from getNewApplication) allocation. It returns notes for the
// user (memory raised to the minimum, not a multiple of it) and an error wrapping
// ErrYarnResources when a container can never be granted.
func CheckYarnResources(s YarnAppSpec, minMB int64, maxRes yarn.Resource) ([]string, error) {
	var notes []string
	var errs []error
	check := func(key string, mb int64) {
		if maxRes.MemoryMB > 0 && mb > maxRes.MemoryMB {
			errs = append(errs, fmt.Errorf("%w: %s %d MB exceeds %s %d MB (lower it with -D %s=<size>, or raise the scheduler's maximum)",
				ErrYarnResources, key, mb, keyMaxAllocMB, maxRes.MemoryMB, key))
			return
		}
		if minMB > 0 && mb < minMB {
			notes = append(notes, fmt.Sprintf("%s %d MB is below %s %d MB: YARN grants %d MB", key, mb, keyMinAllocMB, minMB, minMB))
		} else if minMB > 0 && mb%minMB != 0 {
			norm := (mb + minMB - 1) / minMB * minMB
			notes = append(notes, fmt.Sprintf("%s %d MB is not a multiple of %s %d MB: YARN grants %d MB, %d MB of which flink-go does not use", key, mb, keyMinAllocMB, minMB, norm, norm-mb))
		}
	}
	check(configs.JobManagerMemory.Key(), s.AM.MemoryMB)
	check(configs.TaskManagerMemory.Key(), s.TaskManager.MemoryMB)
	if maxRes.VCores > 0 {
		if s.AM.VCores > maxRes.VCores {
			errs = append(errs, fmt.Errorf("%w: %s %d exceeds %s %d", ErrYarnResources, configs.YarnAppMasterVcores.Key(), s.AM.VCores, keyMaxAllocVCore, maxRes.VCores))
		}
		if s.TaskManager.VCores > maxRes.VCores {
			errs = append(errs, fmt.Errorf("%w: TaskManager vcores %d (%s, else %s) exceed %s %d", ErrYarnResources, s.TaskManager.VCores,
				configs.YarnContainerVcores.Key(), configs.NumberOfTaskSlots.Key(), keyMaxAllocVCore, maxRes.VCores))
		}
	}
	return notes, errors.Join(errs...)
}

// YarnDeployer talks to one YARN cluster (ResourceManager and default file system) to deploy
// flink-go clusters, find them and tear them down.
type YarnDeployer struct {
	Hadoop   yarn.HadoopConf
	YarnConf yarn.Config
	RM       *yarn.ClientRM
	// FS is the default file system (staging); nil until a deployment needs it.
	FS *hdfs.FileSystem
	// Out receives progress and status lines (stderr in the CLI).
	Out io.Writer
	Log zerolog.Logger
	// PollInterval of the application report while waiting (default 250 ms, as Flink).
	PollInterval time.Duration

	// ClientTimeout bounds each REST call to the JobManager (client.timeout; 0: its default).
	ClientTimeout time.Duration

	// AfterSubmit, when set, runs right after submitApplication returned (progress UIs, tests
	// that interrupt a deployment).
	AfterSubmit func(yarn.ApplicationID)

	// krb is the Kerberos login on a Kerberized cluster (yarn_kerberos.go), nil otherwise.
	krb *kerberosSession
}

// ConnectYarn loads the Hadoop configuration (HADOOP_CONF_DIR, YARN_CONF_DIR, HADOOP_HOME) and
// connects to the ResourceManager, checking that it answers. Errors wrap ErrYarnUnreachable.
//
// On a Kerberized cluster (hadoop.security.authentication=kerberos) it logs in from
// KRB5_CLIENT_KTNAME or the ticket cache; ConnectYarnConf also honours
// security.kerberos.login.keytab/principal (docs/kerberos.md).
func ConnectYarn(ctx context.Context, out io.Writer) (*YarnDeployer, error) {
	return connectYarn(ctx, out, nil)
}

func connectYarn(ctx context.Context, out io.Writer, conf *configs.Configuration) (*YarnDeployer, error) {
	hc, err := yarn.LoadHadoopConfFromEnv()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrYarnUnreachable, err)
	}
	yc, err := yarn.ConfigFromHadoop(hc)
	if err != nil {
		return nil, fmt.Errorf("YARN configuration from %v: %w", yarn.ConfDirsFromEnv(), err)
	}
	if out == nil {
		out = io.Discard
	}
	// One identity for the RM and HDFS (SIMPLE auth): the application's user must be able to
	// read the staging directory it owns. yarn.UserFromEnv ends at "nobody"; the HDFS client
	// (like Hadoop's) falls back to LOGNAME and the OS account.
	if u := hdfs.DefaultUser(); u != "" {
		yc.User = u
	}
	var krb *kerberosSession
	var rmOpts []yarn.Option
	if yc.Kerberos {
		// The principal is the user; a User here would ask the RM for impersonation.
		yc.User = ""
		if krb, err = loginKerberos(conf); err != nil {
			return nil, err
		}
		rmOpts = append(rmOpts, krb.rmDialer())
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rm, err := yarn.NewClientRM(cctx, yc, rmOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrYarnUnreachable, err)
	}
	m, err := rm.GetClusterMetrics(cctx)
	if err != nil {
		rm.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: ResourceManager at %v: %w", ErrYarnUnreachable, yc.RMAddresses, err)
	}
	d := &YarnDeployer{Hadoop: hc, YarnConf: yc, RM: rm, Out: out, Log: zerolog.Nop(), PollInterval: 250 * time.Millisecond, krb: krb}
	if m.Active == 0 {
		fmt.Fprintf(out, "Warning: the ResourceManager at %v reports no active NodeManagers; the application will wait in ACCEPTED\n", yc.RMAddresses)
	}
	return d, nil
}

// Close closes the connections.
func (d *YarnDeployer) Close() error {
	var errs []error
	if d.FS != nil {
		errs = append(errs, d.FS.Close())
	}
	if d.RM != nil {
		errs = append(errs, d.RM.Close())
	}
	return errors.Join(errs...)
}

// ensureFS connects to the default file system (HDFS) once.
func (d *YarnDeployer) ensureFS(ctx context.Context) (*hdfs.FileSystem, error) {
	if d.FS != nil {
		return d.FS, nil
	}
	opts, err := hdfs.OptionsFromConf(hadoopconf.HadoopConf(d.Hadoop))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHDFSUnavailable, err)
	}
	opts.User = d.YarnConf.User
	if opts.Kerberos != nil {
		if d.krb == nil {
			return nil, errors.New("core-site.xml says Kerberos (hadoop.security.authentication) but yarn-site.xml does not: the Hadoop configuration is inconsistent")
		}
		d.krb.hdfsOptions(opts.Kerberos)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	f, err := hdfs.New(cctx, opts)
	if err == nil {
		// colinmarc connects lazily to DataNodes but at once to the NameNode; probe it.
		if _, err = f.Stat(cctx, "/"); err != nil {
			f.Close()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrHDFSUnavailable, err)
	}
	d.FS = f
	return f, nil
}

// minAllocationMB is yarn.scheduler.minimum-allocation-mb from the client's yarn-site.xml
// (YARN's default 1024).
func (d *YarnDeployer) minAllocationMB() int64 {
	v, err := strconv.ParseInt(d.Hadoop.Get(keyMinAllocMB, "1024"), 10, 64)
	if err != nil || v < 0 {
		return 1024
	}
	return v
}

// CheckQueue fails with ErrYarnQueue when the scheduler does not know the queue.
func (d *YarnDeployer) CheckQueue(ctx context.Context, queue string) error {
	if queue == "" {
		return nil
	}
	q, err := d.RM.GetQueueInfo(ctx, queue, false, true, false)
	if err == nil && q.Name != "" && len(q.Children) == 0 {
		return nil
	}
	if err == nil && len(q.Children) > 0 {
		var leaves []string
		if root, rerr := d.RM.GetQueueInfo(ctx, queue, false, true, true); rerr == nil {
			leaves = queueNames(root)
		}
		return fmt.Errorf("%w: %s=%q is a parent queue; applications go to leaf queues (%s)", ErrYarnQueue, configs.YarnQueue.Key(), queue, strings.Join(leaves, ", "))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !isUnknownQueue(err) {
		return fmt.Errorf("checking YARN queue %q: %w", queue, err)
	}
	hint := ""
	if root, rerr := d.RM.GetQueueInfo(ctx, "root", false, true, true); rerr == nil {
		hint = " (queues: " + strings.Join(queueNames(root), ", ") + ")"
	}
	return fmt.Errorf("%w: %s=%q is not a queue of the scheduler%s", ErrYarnQueue, configs.YarnQueue.Key(), queue, hint)
}

func isUnknownQueue(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "unknown queue") || strings.Contains(m, "no such queue") ||
		strings.Contains(m, "queue") && (strings.Contains(m, "not found") || strings.Contains(m, "does not exist"))
}

func queueNames(q yarn.QueueInfo) []string {
	var out []string
	var walk func(yarn.QueueInfo)
	walk = func(q yarn.QueueInfo) {
		if len(q.Children) == 0 {
			out = append(out, q.Name)
		}
		for _, c := range q.Children {
			walk(c)
		}
	}
	walk(q)
	sort.Strings(out)
	return out
}

// StagingBase is the directory under which applications get <base>/.flink-go/<appId>:
// yarn.staging-directory (a path or an hdfs:// URI on the default file system), else the home
// directory of the submitting user on the default file system.
func StagingBase(conf *configs.Configuration, fsys *hdfs.FileSystem) (string, error) {
	dir := configs.Get(conf, configs.YarnStagingDirectory)
	if dir == "" {
		return fsys.HomeDir(), nil
	}
	u, err := url.Parse(dir)
	if err != nil {
		return "", fmt.Errorf("%s=%q is not a path or URI: %w", configs.YarnStagingDirectory.Key(), dir, err)
	}
	switch u.Scheme {
	case "":
	case "hdfs":
		if u.Host != "" && u.Host != fsys.Authority() {
			return "", fmt.Errorf("%s=%q is not on the default file system hdfs://%s (flink-go stages on fs.defaultFS only)", configs.YarnStagingDirectory.Key(), dir, fsys.Authority())
		}
	default:
		return "", fmt.Errorf("%s=%q: scheme %q is not supported for staging (use a path or an hdfs:// URI on fs.defaultFS)", configs.YarnStagingDirectory.Key(), dir, u.Scheme)
	}
	p := u.Path
	if !path.IsAbs(p) {
		p = path.Join(fsys.HomeDir(), p)
	}
	return path.Clean(p), nil
}

// StagingDir is the staging directory of one application.
func StagingDir(base string, id yarn.ApplicationID) string {
	return path.Join(base, stagingSubdir, id.String())
}

// YarnDeployRequest is what to deploy.
type YarnDeployRequest struct {
	Mode YarnMode
	// Binary is the job binary (application mode). Args are its arguments.
	Binary string
	Args   []string
	// FlinkGo is the flink-go CLI binary that runs a session's AM (session mode).
	FlinkGo string
	// Conf is the effective configuration; it is shipped as config.json and FLINK_GO_JOB_CONFIG.
	Conf *configs.Configuration
	// JobID is the id the job gets (application mode), so the client can follow it.
	JobID string
	// Start is when the user's command started, for the elapsed times in the progress output
	// (zero: when Deploy is called).
	Start time.Time
}

// YarnDeployment is a deployed application.
type YarnDeployment struct {
	AppID yarn.ApplicationID
	// StagingURI is the staging directory as an hdfs:// URI; StagingPath the path in it.
	StagingURI  string
	StagingPath string
	// REST is the JobManager's REST address (host:port) from the application report.
	REST        string
	TrackingURL string
	Report      yarn.ApplicationReport
}

// NewJobID returns a random job id in Flink's format (32 hex digits).
func NewJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stagedFile is a file to upload into the staging directory.
type stagedFile struct {
	link  string // link name in the container's work dir, and path under the staging dir
	local string // local file to upload, or
	data  []byte // content to write
	perm  os.FileMode
	// archive marks yarn.ship-archives entries: the NodeManager unpacks them.
	archive bool
	// private registers the resource with PRIVATE visibility (the keytab).
	private bool
}

// Deploy deploys a flink-go cluster on YARN and waits until its AM is RUNNING and has
// registered its REST endpoint. Nothing is left behind on failure or when ctx ends (Ctrl-C):
// a submitted application is killed and the staging directory removed.
func (d *YarnDeployer) Deploy(ctx context.Context, req YarnDeployRequest) (dep *YarnDeployment, err error) {
	start := req.Start
	if start.IsZero() {
		start = time.Now()
	}
	spec, err := YarnAppSpecFrom(req.Conf, req.Mode)
	if err != nil {
		return nil, err
	}
	var files []stagedFile
	var cmd []string
	env := map[string]string{}
	switch req.Mode {
	case YarnApplicationMode:
		bin, err := CheckBinary(req.Binary)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(bin)
		files = append(files, stagedFile{link: name, local: bin, perm: 0o700})
		cmd = append(cmd, "./"+shellQuote(name))
		for _, a := range req.Args {
			cmd = append(cmd, shellQuote(a))
		}
		env[cluster.EnvRole] = RoleYarnApplication
		env[EnvYarnJobBinary] = name
		if req.JobID != "" {
			env[cluster.EnvJobID] = req.JobID
		}
	case YarnSessionMode:
		bin, err := CheckBinary(req.FlinkGo)
		if err != nil {
			return nil, fmt.Errorf("the flink-go binary for the session AM: %w", err)
		}
		files = append(files, stagedFile{link: flinkGoLinkName, local: bin, perm: 0o700})
		cmd = append(cmd, "./"+flinkGoLinkName, YarnSessionAMCommand)
	}
	ship, err := shipFiles(req.Conf)
	if err != nil {
		return nil, err
	}
	files = append(files, ship...)
	archives, err := shipArchives(req.Conf)
	if err != nil {
		return nil, err
	}
	files = append(files, archives...)
	files = append(files, d.hadoopConfFiles()...)
	seen := map[string]bool{configJSONName: true}
	for _, f := range files {
		if seen[f.link] {
			return nil, fmt.Errorf("two staged files would both be %q in the container (job binary, %s, %s; %s is reserved): rename one",
				f.link, configs.YarnShipFiles.Key(), configs.YarnShipArchives.Key(), configJSONName)
		}
		seen[f.link] = true
	}

	if err := d.useKerberosConf(ctx, req.Conf); err != nil {
		return nil, err
	}
	if err := d.CheckQueue(ctx, spec.Queue); err != nil {
		return nil, err
	}
	var krbAM *kerberosAM
	if d.YarnConf.Kerberos {
		if krbAM, err = d.prepareKerberosAM(ctx, req.Conf); err != nil {
			return nil, err
		}
		for _, f := range krbAM.files {
			if seen[f.link] {
				return nil, fmt.Errorf("a staged file would be %q in the container, which the Kerberos files need (%s): rename it", f.link, configs.YarnKerberosLocalizedKeytabPath.Key())
			}
			seen[f.link] = true
		}
		files = append(files, krbAM.files...)
		maps.Copy(env, krbAM.env)
		fmt.Fprintf(d.Out, "Kerberos: logged in with %s; shipping %s\n", d.krb.login, krbAM.summary)
	}
	fsys, err := d.ensureFS(ctx)
	if err != nil {
		return nil, err
	}
	app, err := d.RM.GetNewApplication(ctx)
	if err != nil {
		return nil, fmt.Errorf("getNewApplication: %w", err)
	}
	notes, err := CheckYarnResources(spec, d.minAllocationMB(), app.MaxResource)
	if err != nil {
		return nil, err // nothing submitted, nothing staged: the new id is simply never used
	}
	for _, n := range notes {
		fmt.Fprintln(d.Out, "Note:", n)
	}
	base, err := StagingBase(req.Conf, fsys)
	if err != nil {
		return nil, err
	}
	provided, err := d.providedFiles(ctx, fsys, configs.Get(req.Conf, configs.YarnProvidedLibDirs))
	if err != nil {
		return nil, err
	}
	if res, ok := provided[flinkGoLinkName]; ok && req.Mode == YarnSessionMode {
		// The flink-go binary is pre-uploaded: no upload per session (Flink's "extra lightweight"
		// submission with yarn.provided.lib.dirs).
		kept := files[:0]
		for _, f := range files {
			if f.link != flinkGoLinkName {
				kept = append(kept, f)
			}
		}
		files = kept
		fmt.Fprintf(d.Out, "Using the provided %s (%s, %s)\n", res.URL, visibilityName(res.Visibility), mb(res.Size))
	}
	dep = &YarnDeployment{AppID: app.ID, StagingPath: StagingDir(base, app.ID)}
	dep.StagingURI = fsys.URI(dep.StagingPath)
	submitted := false
	defer func() {
		if err != nil {
			d.cleanupFailed(ctx, dep, submitted, err)
		}
	}()

	// The effective configuration as the cluster sees it.
	shipped := req.Conf.Clone()
	_ = shipped.Set(configs.YarnApplicationID.Key(), app.ID.String(), configs.CodeOrigin("yarn deployment"))
	_ = shipped.Set(configs.Target.Key(), string(req.Mode), configs.CodeOrigin("yarn deployment"))
	if haEnabled(shipped) && !configs.IsSet(shipped, configs.HAClusterID) {
		_ = shipped.Set(configs.HAClusterID.Key(), app.ID.String(), configs.CodeOrigin("yarn deployment"))
	}
	confMap := shipped.Map()
	confJSON, err := json.Marshal(confMap)
	if err != nil {
		return dep, err
	}
	pretty, _ := json.MarshalIndent(confMap, "", "  ")
	files = append(files, stagedFile{link: configJSONName, data: append(pretty, '\n'), perm: 0o600})

	// Parents as usual (0755), the application's directory private (0700).
	if err := fsys.MkdirAll(ctx, path.Dir(dep.StagingPath), 0o755); err != nil {
		return dep, fmt.Errorf("%w: creating the staging directory: %w", ErrHDFSUnavailable, err)
	}
	if err := fsys.MkdirAll(ctx, dep.StagingPath, 0o700); err != nil {
		return dep, fmt.Errorf("%w: creating the staging directory: %w", ErrHDFSUnavailable, err)
	}
	if err := fsys.Client().Chmod(dep.StagingPath, 0o700); err != nil {
		return dep, fmt.Errorf("staging directory %s: chmod 700: %w", dep.StagingURI, err)
	}
	fmt.Fprintf(d.Out, "Staging %d files to %s\n", len(files), dep.StagingURI)
	resources, err := d.uploadAll(ctx, fsys, dep.StagingPath, files, configs.Get(req.Conf, configs.YarnFileReplication))
	if err != nil {
		return dep, err
	}
	for name, res := range provided {
		if _, staged := resources[name]; !staged {
			resources[name] = res
		}
	}

	env[cluster.EnvJobConfig] = string(confJSON)
	env[EnvYarnStagingDir] = dep.StagingURI
	env[yarn.EnvHadoopUser] = fsys.User()
	env[EnvYarnScheduler] = strings.Join(d.YarnConf.SchedulerAddresses, ",")
	env["HADOOP_CONF_DIR"] = "{{PWD}}/" + hadoopConfLink
	if lvl := os.Getenv(cluster.EnvLogLevel); lvl != "" {
		env[cluster.EnvLogLevel] = lvl
	}
	cmd = append(cmd, "1><LOG_DIR>/jobmanager.out", "2><LOG_DIR>/jobmanager.log")
	sub := yarn.Submission{
		ID:                              app.ID,
		Name:                            spec.Name,
		Queue:                           spec.Queue,
		Type:                            spec.Type,
		Tags:                            spec.Tags,
		Priority:                        spec.Priority,
		NodeLabel:                       spec.NodeLabel,
		AMResource:                      spec.AM,
		MaxAttempts:                     spec.MaxAttempts,
		AttemptFailuresValidityInterval: spec.AttemptFailuresValidityInterval,
		KeepContainersAcrossAttempts:    spec.KeepContainers,
		AM: yarn.ContainerLaunchContext{
			LocalResources: resources,
			Environment:    escapeEnv(env),
			Commands:       []string{escapeDoubleQuoted(strings.Join(cmd, " "))},
		},
	}
	if krbAM != nil {
		sub.AM.Tokens = krbAM.tokens
	}
	if err := ctx.Err(); err != nil {
		return dep, err
	}
	submitted = true // from here on the RM may know the application: kill it on failure
	if err := d.RM.SubmitApplication(ctx, sub); err != nil {
		return dep, fmt.Errorf("submitApplication %s: %w", app.ID, err)
	}
	queue := spec.Queue
	if queue == "" {
		queue = "default"
	}
	fmt.Fprintf(d.Out, "Submitted application %s (%s, queue %s, AM %s) after %s\n", app.ID, spec.Name, queue, spec.AM, time.Since(start).Round(time.Millisecond))
	if d.AfterSubmit != nil {
		d.AfterSubmit(app.ID)
	}
	rep, err := d.WaitRunning(ctx, app.ID, req.Mode == YarnApplicationMode)
	if err != nil {
		return dep, err
	}
	dep.Report = rep
	dep.TrackingURL = rep.TrackingURL
	if rep.State == yarn.StateRunning {
		dep.REST = net.JoinHostPort(rep.Host, strconv.Itoa(int(rep.RPCPort)))
		fmt.Fprintf(d.Out, "YARN application %s is RUNNING after %s. JobManager REST API / web UI: http://%s (tracking URL %s)\n",
			app.ID, time.Since(start).Round(time.Millisecond), dep.REST, rep.TrackingURL)
	}
	return dep, nil
}

// cleanupFailed kills a (possibly) submitted application and removes its staging directory, on
// a context that survives the caller's cancellation (Ctrl-C).
func (d *YarnDeployer) cleanupFailed(ctx context.Context, dep *YarnDeployment, submitted bool, cause error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if submitted {
		if err := d.RM.KillApplication(cctx, dep.AppID, "flink-go client: deployment failed or interrupted: "+cause.Error()); err != nil && !errors.Is(err, yarn.ErrApplicationNotFound) {
			fmt.Fprintf(d.Out, "Could not kill application %s: %v (kill it with 'flink-go yarn kill %s')\n", dep.AppID, err, dep.AppID)
		} else {
			fmt.Fprintf(d.Out, "Killed application %s\n", dep.AppID)
		}
	}
	if err := d.removeStaging(cctx, dep.StagingPath); err != nil {
		fmt.Fprintf(d.Out, "Could not remove the staging directory %s: %v\n", dep.StagingURI, err)
	}
}

// removeStaging deletes a staging directory; a missing one is fine.
func (d *YarnDeployer) removeStaging(ctx context.Context, p string) error {
	if p == "" {
		return nil
	}
	fsys, err := d.ensureFS(ctx)
	if err != nil {
		return err
	}
	if err := fsys.Delete(ctx, p, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WaitRunning polls the application report until the AM is RUNNING with its REST endpoint
// registered. A FAILED or KILLED application is an error with the RM's diagnostics; a FINISHED
// one is an error too unless finishedOK (an application cluster whose job already ended).
func (d *YarnDeployer) WaitRunning(ctx context.Context, id yarn.ApplicationID, finishedOK bool) (yarn.ApplicationReport, error) {
	interval := d.PollInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	start := time.Now()
	lastState := yarn.ApplicationState(0)
	nextNotice := start.Add(10 * time.Second)
	for {
		rep, err := d.RM.GetApplicationReport(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			return rep, fmt.Errorf("application report of %s: %w", id, err)
		}
		if rep.State != lastState {
			fmt.Fprintf(d.Out, "Application %s is %s (%s after submission)\n", id, rep.State, time.Since(start).Round(time.Millisecond))
			lastState = rep.State
		}
		switch {
		case rep.State == yarn.StateRunning && rep.RPCPort > 0 && rep.Host != "" && rep.Host != "N/A":
			return rep, nil
		case rep.State == yarn.StateFinished && rep.Final == yarn.FinalSucceeded && finishedOK:
			return rep, nil
		case rep.State.Terminal():
			return rep, fmt.Errorf("%w: application %s ended %s/%s during deployment: %s (see the AM's jobmanager.log: yarn logs -applicationId %s)",
				ErrYarnDeployFailed, id, rep.State, rep.Final, strings.TrimSpace(rep.Diagnostics), id)
		}
		if time.Now().After(nextNotice) {
			fmt.Fprintf(d.Out, "Deployment takes more than %d s: %s is %s%s\n", int(time.Since(start).Seconds()), id, rep.State, diagSuffix(rep.Diagnostics))
			nextNotice = time.Now().Add(30 * time.Second)
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func diagSuffix(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return " (" + s + ")"
}

// hadoopConfFiles ships the client's Hadoop site files as hadoop-conf/<name>: for each file the
// highest-priority configuration directory that has it.
func (d *YarnDeployer) hadoopConfFiles() []stagedFile {
	var out []stagedFile
	dirs := yarn.ConfDirsFromEnv()
	for _, name := range []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"} {
		for i := len(dirs) - 1; i >= 0; i-- {
			p := filepath.Join(dirs[i], name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, stagedFile{link: hadoopConfLink + "/" + name, local: p, perm: 0o600})
				break
			}
		}
	}
	return out
}

// shipFiles expands yarn.ship-files: local files, and directories (recursively, keeping their
// relative layout under the directory's name).
func shipFiles(conf *configs.Configuration) ([]stagedFile, error) {
	var out []stagedFile
	for _, f := range configs.Get(conf, configs.YarnShipFiles) {
		if strings.Contains(f, "://") {
			return nil, fmt.Errorf("%s: %s: remote ship files are not supported yet; ship local files or put them into the job's own storage", configs.YarnShipFiles.Key(), f)
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", configs.YarnShipFiles.Key(), err)
		}
		if !st.IsDir() {
			out = append(out, stagedFile{link: filepath.Base(abs), local: abs, perm: 0o600 | st.Mode().Perm()&0o100})
			continue
		}
		root := filepath.Dir(abs)
		err = filepath.WalkDir(abs, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			out = append(out, stagedFile{link: filepath.ToSlash(rel), local: p, perm: 0o600 | info.Mode().Perm()&0o100})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", configs.YarnShipFiles.Key(), err)
		}
	}
	seen := map[string]bool{}
	for _, f := range out {
		if seen[f.link] || f.link == configJSONName || f.link == flinkGoLinkName || strings.HasPrefix(f.link, hadoopConfLink+"/") {
			return nil, fmt.Errorf("%s: two shipped files (or a reserved name) would both be %q in the container", configs.YarnShipFiles.Key(), f.link)
		}
		seen[f.link] = true
	}
	return out, nil
}

// archiveExts are the archive types the NodeManager unpacks.
var archiveExts = []string{".tar.gz", ".tgz", ".tar", ".zip", ".jar"}

// shipArchives checks yarn.ship-archives: local archive files, unpacked by the NodeManager into a
// directory named after the file.
func shipArchives(conf *configs.Configuration) ([]stagedFile, error) {
	var out []stagedFile
	for _, a := range configs.Get(conf, configs.YarnShipArchives) {
		if strings.Contains(a, "://") {
			return nil, fmt.Errorf("%s: %s: remote archives are not supported yet; ship a local file", configs.YarnShipArchives.Key(), a)
		}
		ok := false
		for _, ext := range archiveExts {
			ok = ok || strings.HasSuffix(strings.ToLower(a), ext)
		}
		if !ok {
			return nil, fmt.Errorf("%s: %s is not an archive the NodeManager can unpack (%s)", configs.YarnShipArchives.Key(), a, strings.Join(archiveExts, ", "))
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", configs.YarnShipArchives.Key(), err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %s is not a file", configs.YarnShipArchives.Key(), a)
		}
		out = append(out, stagedFile{link: filepath.Base(abs), local: abs, perm: 0o600, archive: true})
	}
	return out, nil
}

// providedFiles registers the files of yarn.provided.lib.dirs (pre-uploaded directories on the
// default file system) without uploading them: PUBLIC when they and their ancestors are world
// readable (the NodeManagers then cache them across applications), else APPLICATION.
func (d *YarnDeployer) providedFiles(ctx context.Context, fsys *hdfs.FileSystem, dirs []string) (map[string]yarn.LocalResource, error) {
	out := map[string]yarn.LocalResource{}
	for _, dir := range dirs {
		u, err := url.Parse(dir)
		if err != nil || (u.Scheme != "" && u.Scheme != "hdfs") || (u.Host != "" && u.Host != fsys.Authority()) || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("%s: %q must be an absolute path or hdfs:// URI on the default file system hdfs://%s", configs.YarnProvidedLibDirs.Key(), dir, fsys.Authority())
		}
		list, err := fsys.List(ctx, u.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", configs.YarnProvidedLibDirs.Key(), err)
		}
		public := d.worldReadable(ctx, fsys, u.Path)
		for _, f := range list {
			name := path.Base(f.Path)
			if f.IsDir || out[name].URL != "" {
				continue
			}
			vis := yarn.VisibilityApplication
			if public && f.Mode.Perm()&0o004 != 0 {
				vis = yarn.VisibilityPublic
			}
			out[name] = yarn.LocalResource{URL: fsys.URI(f.Path), Size: f.Size, Timestamp: f.ModTime.UnixMilli(), Type: yarn.ResourceFile, Visibility: vis}
		}
	}
	return out, nil
}

// worldReadable reports whether dir and its ancestors are world executable and dir world readable
// (the NodeManager's condition for PUBLIC resources).
func (d *YarnDeployer) worldReadable(ctx context.Context, fsys *hdfs.FileSystem, dir string) bool {
	for p := dir; ; p = path.Dir(p) {
		st, err := fsys.Stat(ctx, p)
		if err != nil || st.Mode.Perm()&0o001 == 0 || (p == dir && st.Mode.Perm()&0o004 == 0) {
			return false
		}
		if p == "/" {
			return true
		}
	}
}

func visibilityName(v yarn.Visibility) string {
	switch v {
	case yarn.VisibilityPublic:
		return "PUBLIC"
	case yarn.VisibilityPrivate:
		return "PRIVATE"
	}
	return "APPLICATION"
}

// uploadAll uploads files to dir and returns them as LocalResources (size and timestamp from the
// NameNode), printing progress.
func (d *YarnDeployer) uploadAll(ctx context.Context, fsys *hdfs.FileSystem, dir string, files []stagedFile, replication int) (map[string]yarn.LocalResource, error) {
	if replication < 0 {
		replication = 0 // the NameNode's dfs.replication
	}
	out := make(map[string]yarn.LocalResource, len(files))
	var total int64
	start := time.Now()
	// Up to 4 uploads at a time: the small files (configuration, Hadoop site files) cost a
	// NameNode round trip or three each, mostly waiting.
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, 4)
		w     = &lockedWriter{w: d.Out}
	)
	for _, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func(f stagedFile) {
			defer wg.Done()
			defer func() { <-sem }()
			res, n, err := d.upload(uctx, fsys, path.Join(dir, f.link), f, replication, w)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			total += n
			typ := yarn.ResourceFile
			if f.archive {
				typ = yarn.ResourceArchive
			}
			vis := yarn.VisibilityApplication
			if f.private {
				vis = yarn.VisibilityPrivate
			}
			out[f.link] = yarn.LocalResource{URL: res.URI, Size: res.Size, Timestamp: res.Timestamp, Type: typ, Visibility: vis}
		}(f)
	}
	wg.Wait()
	if first != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, first
	}
	el := time.Since(start)
	fmt.Fprintf(d.Out, "Uploaded %d files, %s in %s (%s)\n", len(files), mb(total), el.Round(time.Millisecond), rate(total, el))
	return out, nil
}

func (d *YarnDeployer) upload(ctx context.Context, fsys *hdfs.FileSystem, dst string, f stagedFile, replication int, out io.Writer) (hdfs.Resource, int64, error) {
	var src io.Reader
	var size int64
	if f.local != "" {
		fh, err := os.Open(f.local)
		if err != nil {
			return hdfs.Resource{}, 0, fmt.Errorf("staging %s: %w", f.local, err)
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil {
			return hdfs.Resource{}, 0, err
		}
		src, size = fh, st.Size()
	} else {
		src, size = strings.NewReader(string(f.data)), int64(len(f.data))
	}
	w, err := fsys.Create(ctx, dst, fs.CreateOptions{Overwrite: true, Replication: replication, Perm: f.perm})
	if err != nil {
		return hdfs.Resource{}, 0, fmt.Errorf("%w: staging %s: %w", ErrHDFSUnavailable, f.link, err)
	}
	p := &progress{w: out, name: f.link, total: size, start: time.Now()}
	n, err := io.Copy(w, io.TeeReader(ctxReader{ctx, src}, p))
	if err != nil {
		return hdfs.Resource{}, 0, errors.Join(fmt.Errorf("staging %s to %s: %w", f.link, fsys.URI(dst), err), w.Abort())
	}
	if err := w.Close(); err != nil {
		return hdfs.Resource{}, 0, fmt.Errorf("staging %s to %s: %w", f.link, fsys.URI(dst), err)
	}
	p.finish(n)
	res, err := fsys.StatResource(ctx, dst)
	if err != nil {
		return hdfs.Resource{}, 0, fmt.Errorf("staging %s: %w", f.link, err)
	}
	return res, n, nil
}

// ctxReader stops a copy when ctx ends (an upload interrupted by Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// progress prints upload progress of large files at most once a second.
type progress struct {
	w     io.Writer
	name  string
	total int64
	done  int64
	start time.Time
	last  time.Time
}

// lockedWriter serializes writes of concurrent uploads' progress lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.total >= 8<<20 && time.Since(p.last) >= time.Second && time.Since(p.start) >= time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.w, "  %s: %s of %s (%s)\n", p.name, mb(p.done), mb(p.total), rate(p.done, time.Since(p.start)))
	}
	return len(b), nil
}

func (p *progress) finish(n int64) {
	if n >= 1<<20 {
		el := time.Since(p.start)
		fmt.Fprintf(p.w, "  %s: %s in %s (%s)\n", p.name, mb(n), el.Round(time.Millisecond), rate(n, el))
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/(1<<20)/d.Seconds())
}

// shellQuote quotes s for bash (the NodeManager runs the command with bash -c).
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// escapeDoubleQuoted escapes s for a double-quoted bash string: the NodeManager's launch script
// runs the command as exec /bin/bash -c "<command>" and writes env values as export K="V".
func escapeDoubleQuoted(s string) string { return dqEscaper.Replace(s) }

var dqEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")

// escapeEnv escapes environment values for the NodeManager's launch script, which writes them
// as export KEY="VALUE" without escaping: a JSON value's quotes would end the string. {{VAR}}
// (expanded by the NodeManager) stays usable.
func escapeEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = escapeDoubleQuoted(v)
	}
	return out
}

// haEnabled tells whether a YARN application runs with JobManager high availability: with
// high-availability.type other than NONE, or with more than one AM attempt allowed
// (yarn.application-attempts > 1 implies FILESYSTEM HA, as the AM decides: am.DecideHA).
func haEnabled(conf *configs.Configuration) bool {
	return configs.Get(conf, configs.HighAvailability) != configs.HANone ||
		(configs.IsSet(conf, configs.YarnApplicationAttempts) && configs.Get(conf, configs.YarnApplicationAttempts) > 1)
}

// rest returns a REST client of the JobManager at addr with the deployer's client timeout.
func (d *YarnDeployer) rest(addr string) *REST {
	if d.ClientTimeout > 0 {
		return NewRESTTimeout(addr, d.ClientTimeout)
	}
	return NewREST(addr)
}
