// Package am is flink-go's YARN ApplicationMaster: a JobManager whose resource manager driver
// (Driver) requests TaskManager containers from YARN, plus the AM life cycle around it —
// register with the ResourceManager, heartbeat, unregister with the job's final status, delete
// the staging directory. See docs/am.md for the state machine and the container bookkeeping, and
// docs/yarn-deployment.md for the contract with the client and the containers.
//
// Importing the package registers the "yarn-application" role (cluster.RegisterRole): a job
// binary started by YARN with FLINK_GO_ROLE=yarn-application runs RunApplication. Session AMs
// run RunSession (the hidden `flink-go yarn-session-am` command). The package imports hdfs, so
// every job binary can read and write hdfs:// paths.
package am

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/task"
	"github.com/flink-go/flink-go/yarn"
)

// RoleApplication is the FLINK_GO_ROLE of a job binary running as the AM of an application
// cluster.
const RoleApplication = "yarn-application"

func init() {
	cluster.RegisterRole(RoleApplication, func(g *jobgraph.JobGraph, reg task.Registry) error { return RunApplication(g, reg) })
}

// FinalStatus maps a job's end to the AM's final application status and diagnostics:
// FINISHED → SUCCEEDED, CANCELED → KILLED, FAILED (or anything else) → FAILED with the failure.
func FinalStatus(s jobmanager.JobSnapshot) (yarn.FinalStatus, string) {
	switch s.Status {
	case jobmanager.JobFinished:
		return yarn.FinalSucceeded, fmt.Sprintf("job %s (%s) finished", s.ID, s.Name)
	case jobmanager.JobCanceled:
		return yarn.FinalKilled, fmt.Sprintf("job %s (%s) was cancelled", s.ID, s.Name)
	default:
		cause := s.Failure
		if cause == "" {
			cause = "ended in state " + string(s.Status)
		}
		return yarn.FinalFailed, fmt.Sprintf("job %s (%s) failed: %s", s.ID, s.Name, cause)
	}
}

// runtime is a started AM: JobManager, driver, RM registration.
type amRuntime struct {
	log      zerolog.Logger
	actx     yarn.AMContext
	conf     *configs.Configuration
	amrm     *yarn.AMRMClient
	nm       *yarn.NMClient
	jm       *jobmanager.JobManager
	drv      *Driver
	host     string
	staging  string
	loopErr  chan error
	stopLoop context.CancelFunc
	ha       *haState // nil without high availability
}

// start brings the AM up: container context, JobManager with the YARN driver, registration, and
// the heartbeat loop.
func start(ctx context.Context, conf *configs.Configuration, session bool, log zerolog.Logger) (*amRuntime, error) {
	actx, err := yarn.AMContextFromEnv()
	if err != nil {
		return nil, fmt.Errorf("am: %w", err)
	}
	host := actx.NMHost
	if host == "" {
		return nil, fmt.Errorf("am: %s is not set: the NodeManager names the AM's host there", yarn.EnvNMHost)
	}
	scheds, err := yarn.SchedulerAddressesFromEnv(EnvScheduler)
	if err != nil {
		return nil, fmt.Errorf("am: %w", err)
	}
	amrm, err := yarn.NewAMRMClient(scheds, actx.AMRMToken, yarn.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("am: %w", err)
	}
	nm := yarn.NewNMClient(amrm, yarn.WithLogger(log))
	tokens, err := actx.ContainerTokens()
	if err != nil {
		return nil, fmt.Errorf("am: container tokens: %w", err)
	}
	r := &amRuntime{log: log, actx: actx, conf: conf, amrm: amrm, nm: nm, host: host, staging: os.Getenv(EnvStagingDir), loopErr: make(chan error, 1)}
	if r.staging == "" {
		return nil, fmt.Errorf("am: %s is not set: the client names the application's staging directory there", EnvStagingDir)
	}
	has, err := DecideHA(conf, actx.Attempt.App, r.staging)
	if err != nil {
		return nil, err
	}
	store, err := openHA(ctx, has)
	if err != nil {
		return nil, err
	}
	sp := &specSource{log: log, staging: r.staging, binary: os.Getenv(EnvJobBinary), session: session, user: actx.User, tokens: tokens,
		logLevel: os.Getenv(cluster.EnvLogLevel), described: os.Getenv(EnvTMResources)}
	if store != nil {
		r.ha = &haState{settings: has, store: store, attempt: actx.Attempt}
		sp.haLeader = store.LeaderURI()
		log.Info().Str("reason", has.Reason).Str("dir", has.Root).Str("attempt", actx.Attempt.String()).Msg("high availability: jobs are stored and recovered across ApplicationMaster attempts")
	}
	drv, err := NewDriver(DriverConfig{Allocator: amrm, NM: nm, Settings: conf.Map(), Spec: sp.spec, Session: session, Logger: log})
	if err != nil {
		return nil, err
	}
	jcfg := jobmanager.Config{
		RPCAddress:        net.JoinHostPort(host, configs.Get(conf, configs.YarnAppMasterPort)),
		RESTAddress:       cluster.RESTBindAddress(conf, host, "0"),
		Logger:            log,
		Driver:            drv,
		Settings:          conf.Map(),
		HeartbeatTimeout:  configs.Get(conf, configs.HeartbeatTimeout),
		HeartbeatInterval: configs.Get(conf, configs.HeartbeatInterval),
		SlotWaitTimeout:   configs.Get(conf, configs.SlotRequestTimeout),
	}
	if store != nil {
		jcfg.JobStore = store
	}
	jm, err := jobmanager.Start(jcfg)
	if err != nil {
		return nil, fmt.Errorf("am: starting the JobManager on %s: %w", host, err)
	}
	r.jm, r.drv = jm, drv
	drv.SetJobManager(jm)
	_, rpcPort, _ := net.SplitHostPort(jm.RPCAddr())
	sp.jobManager = net.JoinHostPort(host, rpcPort)
	_, restPortS, _ := net.SplitHostPort(jm.RESTAddr())
	restPort, _ := strconv.Atoi(restPortS)
	tracking := "http://" + net.JoinHostPort(host, restPortS)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	reg, err := amrm.Register(rctx, host, int32(restPort), tracking)
	cancel()
	if err != nil {
		jm.Close()
		return nil, fmt.Errorf("am: registering with the ResourceManager at %v: %w", scheds, err)
	}
	drv.setMaxResource(reg.MaxResource)
	if r.ha != nil {
		// The new leader: TaskManagers kept from the previous attempt find this JobManager here.
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		err := r.ha.store.WriteLeader(wctx, jobmanager.Leader{RPC: sp.jobManager, REST: net.JoinHostPort(host, restPortS), Attempt: actx.Attempt.String()})
		wcancel()
		if err != nil {
			jm.Close()
			return nil, fmt.Errorf("am: %w", err)
		}
		r.ha.previous = reg.ContainersFromPreviousAttempts // adopted or released by recoverJobs
	} else if prev := reg.ContainersFromPreviousAttempts; len(prev) > 0 {
		// Without HA the jobs of a previous attempt are not recovered: give their containers back.
		drv.Loop().Adopt(prev)
		for _, c := range prev {
			_ = drv.Loop().Release(c.ID)
		}
		log.Warn().Int("containers", len(prev)).Msg("releasing containers of a previous attempt")
	}
	lctx, stop := context.WithCancel(context.Background())
	r.stopLoop = stop
	go func() { r.loopErr <- drv.Run(lctx) }()
	log.Info().Str("attempt", actx.Attempt.String()).Str("rest", tracking).Str("rpc", sp.jobManager).Str("max_container", reg.MaxResource.String()).
		Str("staging", r.staging).Msg("ApplicationMaster registered")
	return r, nil
}

// shutdown unregisters with status and diagnostics, deletes the staging directory and closes
// everything. The unregistration is repeated until the RM confirms it (or 2 minutes pass).
// After a SIGTERM (yarn application -kill) the NodeManager sends SIGKILL shortly after
// (yarn.nodemanager.sleep-delay-before-sigkill.ms, 250 ms by default), so then the staging
// directory is deleted first and the unregistration, which the RM may refuse for a killed
// application anyway, gets only a few seconds.
func (r *amRuntime) shutdown(status yarn.FinalStatus, diagnostics string, signalled bool) error {
	var errs []error
	del := func() {
		if r.ha != nil && r.ha.keep {
			r.log.Warn().Str("staging", r.staging).Str("ha", r.ha.settings.Root).Msg("keeping the staging and high-availability directories: stored jobs could not be read (inspect or remove them by hand)")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteStaging(ctx, r.staging, r.actx.Attempt.App); err != nil {
			errs = append(errs, err)
			r.log.Error().Err(err).Msg("could not delete the staging directory")
		} else {
			r.log.Info().Str("staging", r.staging).Msg("staging directory deleted")
		}
	}
	finishTimeout := 2 * time.Minute
	if signalled {
		del()
		finishTimeout = 5 * time.Second
	} else {
		r.jm.WaitSavepointResultsFetched(5 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if err := r.amrm.Finish(ctx, status, diagnostics, ""); err != nil {
		errs = append(errs, fmt.Errorf("am: unregistering with %s: %w", status, err))
	} else {
		r.log.Info().Str("status", status.String()).Str("diagnostics", diagnostics).Msg("unregistered from the ResourceManager")
	}
	r.stopLoop()
	<-r.loopErr
	if !signalled {
		del()
	}
	r.deleteHA()
	r.jm.Close()
	_ = r.nm.Close()
	_ = r.amrm.Close()
	return errors.Join(errs...)
}

// deleteStaging removes the application's staging directory (recursively). As a guard against a
// misconfigured FLINK_GO_STAGING_DIR (a home directory, say), it only deletes a directory named
// after the application (<...>/.flink-go/<application id>, docs/yarn-deployment.md).
func deleteStaging(ctx context.Context, uri string, app yarn.ApplicationID) error {
	fsys, p, err := fs.Get(ctx, uri)
	if err != nil {
		return fmt.Errorf("am: staging directory %s: %w", uri, err)
	}
	if base := p[strings.LastIndex(p, "/")+1:]; p == "/" || p == "" || base != app.String() {
		return fmt.Errorf("am: refusing to delete staging directory %q: it is not named after the application %s (%s must be <dir>/.flink-go/<application id>)", uri, app, EnvStagingDir)
	}
	if err := fsys.Delete(ctx, p, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("am: deleting staging directory %s: %w", uri, err)
	}
	return nil
}

// RunApplication runs the AM of an application cluster in the job binary: a JobManager with the
// YARN driver, the job graph g (built in-process from the same binary and arguments) submitted
// to it, and when the job ends the unregistration with its final status and the deletion of the
// staging directory. It returns nil when the AM unregistered (whatever the job's outcome: YARN
// carries it), and an error when it could not start or unregister.
func RunApplication(g *jobgraph.JobGraph, _ task.Registry) error {
	log := cluster.Logger().With().Str("role", RoleApplication).Logger()
	conf := configs.New()
	if err := conf.SetAll(cluster.LaunchConfig(), configs.CodeOrigin(cluster.EnvJobConfig)); err != nil {
		return fmt.Errorf("am: %s: %w", cluster.EnvJobConfig, err)
	}
	if err := conf.SetAll(g.Config, configs.CodeOrigin("job")); err != nil {
		return fmt.Errorf("am: job configuration: %w", err)
	}
	r, err := start(context.Background(), conf, false, log)
	if err != nil {
		log.Error().Err(err).Msg("ApplicationMaster failed to start")
		return err
	}
	var j *jobmanager.JobMaster
	if r.ha != nil {
		plan, recovered, err := r.recoverJobs(true)
		switch {
		case err != nil:
			ferr := r.shutdown(yarn.FinalFailed, "recovering the job failed: "+err.Error(), false)
			return errors.Join(err, ferr)
		case plan.Fail != "":
			ferr := r.shutdown(yarn.FinalFailed, plan.Fail, false)
			return errors.Join(fmt.Errorf("am: %s", plan.Fail), ferr)
		case plan.Ended != nil:
			log.Info().Str("job", plan.Ended.JobID).Str("status", string(plan.Ended.Status)).Msg("the job already ended in an earlier attempt; finishing with its result")
			status, diag := FinalStatus(jobmanager.JobSnapshot{ID: plan.Ended.JobID, Name: plan.Ended.Name, Status: plan.Ended.Status, Failure: plan.Ended.Failure})
			return r.shutdown(status, diag, false)
		case len(recovered) > 0:
			j = recovered[0]
		}
	}
	if j == nil {
		var err error
		j, err = r.jm.Submit(g, "")
		if err != nil {
			ferr := r.shutdown(yarn.FinalFailed, "submitting the job failed: "+err.Error(), false)
			return errors.Join(fmt.Errorf("am: submitting job %q: %w", g.Name, err), ferr)
		}
		log.Info().Str("job", j.ID()).Str("name", j.Name()).Msg("job submitted")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case <-j.Done():
	case err := <-r.loopErr:
		// The RM ordered a shutdown or forgot the attempt: the app is over as far as YARN is
		// concerned; cancel the job and leave.
		r.loopErr <- err
		if r.ha != nil {
			// Leave the job stored: if YARN starts another attempt, it recovers the job.
			log.Error().Err(err).Msg("lost the ResourceManager; exiting without ending the job (high availability: a next attempt recovers it)")
			return fmt.Errorf("am: heartbeat loop ended: %w", err)
		}
		log.Error().Err(err).Msg("lost the ResourceManager; cancelling the job")
		j.Cancel()
		waitDone(j, 10*time.Second)
		r.jm.Close()
		return fmt.Errorf("am: heartbeat loop ended: %w", err)
	case s := <-sig:
		log.Warn().Str("signal", s.String()).Msg("ApplicationMaster stopping; cancelling the job")
		j.Cancel()
		waitDone(j, 200*time.Millisecond)
		return r.shutdown(yarn.FinalKilled, "ApplicationMaster stopped by "+s.String(), true)
	}
	status, diag := FinalStatus(j.Snapshot())
	return r.shutdown(status, diag, false)
}

func waitDone(j *jobmanager.JobMaster, d time.Duration) {
	select {
	case <-j.Done():
	case <-time.After(d):
	}
}

// RunSession runs a session AM until ctx ends, a SIGTERM arrives or the RM orders a shutdown:
// a JobManager with the YARN driver and no initial job; jobs arrive through REST (POST /jobs
// with artifact = the staging URI of their binary) and get TaskManager containers of their own
// binary. conf is the session's configuration (FLINK_GO_JOB_CONFIG of the AM container).
// Idle TaskManagers are released after resourcemanager.taskmanager-timeout.
func RunSession(ctx context.Context, conf *configs.Configuration) error {
	log := cluster.Logger().With().Str("role", "yarn-session").Logger()
	if conf == nil {
		conf = configs.New()
	}
	r, err := start(ctx, conf, true, log)
	if err != nil {
		log.Error().Err(err).Msg("session ApplicationMaster failed to start")
		return err
	}
	if r.ha != nil {
		if _, jobs, err := r.recoverJobs(false); err != nil {
			log.Error().Err(err).Msg("recovering the session's jobs")
		} else if len(jobs) > 0 {
			log.Info().Int("jobs", len(jobs)).Msg("session jobs recovered")
		}
	}
	log.Info().Str("rest", r.jm.RESTAddr()).Msg("YARN session running")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case <-ctx.Done():
	case <-r.jm.ShutdownRequested():
		log.Info().Msg("stopping the session: requested through REST (DELETE /cluster)")
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("stopping the session")
		for _, j := range r.jm.Jobs() {
			j.Cancel()
		}
		return r.shutdown(yarn.FinalKilled, "session stopped by "+s.String(), true)
	case err := <-r.loopErr:
		r.loopErr <- err
		log.Error().Err(err).Msg("lost the ResourceManager; stopping the session")
		cancelAll(r.jm)
		r.jm.Close()
		return fmt.Errorf("am: heartbeat loop ended: %w", err)
	}
	cancelAll(r.jm)
	return r.shutdown(yarn.FinalSucceeded, "session stopped", false)
}

func cancelAll(jm *jobmanager.JobManager) {
	jobs := jm.Jobs()
	for _, j := range jobs {
		j.Cancel()
	}
	deadline := time.After(10 * time.Second)
	for _, j := range jobs {
		select {
		case <-j.Done():
		case <-deadline:
			return
		}
	}
}

// specSource builds TaskManager specs from the staging directory.
type specSource struct {
	log        zerolog.Logger
	staging    string
	binary     string // application mode: the job binary's name in the staging dir
	session    bool
	user       string
	tokens     []byte
	logLevel   string
	jobManager string
	described  string // FLINK_GO_TM_RESOURCES
	haLeader   string // the HA leader file's URI, when HA is on
}

// statter is implemented by *hdfs.FileSystem: size and timestamp exactly as the NameNode has them.
type statter interface {
	StatResource(ctx context.Context, p string) (hdfs.Resource, error)
}

// resource describes a staged file as a YARN LocalResource.
func resource(ctx context.Context, uri string) (yarn.LocalResource, error) {
	fsys, p, err := fs.Get(ctx, uri)
	if err != nil {
		return yarn.LocalResource{}, err
	}
	if st, ok := fsys.(statter); ok {
		r, err := st.StatResource(ctx, p)
		if err != nil {
			return yarn.LocalResource{}, err
		}
		return yarn.LocalResource{URL: r.URI, Size: r.Size, Timestamp: r.Timestamp, Type: yarn.ResourceFile, Visibility: yarn.VisibilityApplication}, nil
	}
	fi, err := fsys.Stat(ctx, p)
	if err != nil {
		return yarn.LocalResource{}, err
	}
	if fi.IsDir {
		return yarn.LocalResource{}, fmt.Errorf("am: %s is a directory, not a file", uri)
	}
	u := uri
	if !strings.Contains(u, "://") {
		u = "file://" + p
	}
	return yarn.LocalResource{URL: u, Size: fi.Size, Timestamp: fi.ModTime.UnixMilli(), Type: yarn.ResourceFile, Visibility: yarn.VisibilityApplication}, nil
}

func joinURI(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

// files returns the resources every TaskManager container gets besides the job binary: those
// the client described in FLINK_GO_TM_RESOURCES, else the staged files (stagedResources).
func (s *specSource) files(ctx context.Context, binary string) (map[string]yarn.LocalResource, error) {
	if s.described != "" {
		m, err := DecodeResources(s.described)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTMResources, err)
		}
		delete(m, binary)
		return m, nil
	}
	m, err := stagedResources(ctx, s.staging, binary)
	if err != nil {
		return nil, fmt.Errorf("listing the staging directory %s for the TaskManagers' files: %w", s.staging, err)
	}
	return m, nil
}

func (s *specSource) spec(ctx context.Context, job *jobmanager.JobInfo, slots int) (TaskManagerSpec, error) {
	binURI := job.Artifact
	if !s.session || binURI == "" {
		if s.session {
			return TaskManagerSpec{}, fmt.Errorf("job %s has no artifact: submit it with POST /jobs?artifact=<staging URI of the job binary>", job.ID)
		}
		if s.binary == "" {
			return TaskManagerSpec{}, fmt.Errorf("%s is not set: the client names the job binary in the staging directory there", EnvJobBinary)
		}
		binURI = joinURI(s.staging, s.binary)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bin, err := resource(sctx, binURI)
	if err != nil {
		return TaskManagerSpec{}, fmt.Errorf("job binary %s: %w", binURI, err)
	}
	name := binURI[strings.LastIndex(binURI, "/")+1:]
	files, err := s.files(sctx, name)
	if err != nil {
		return TaskManagerSpec{}, err
	}
	cfgJSON, err := configJSON(tmConfig(job.Graph.Config))
	if err != nil {
		return TaskManagerSpec{}, err
	}
	return TaskManagerSpec{BinaryName: name, Binary: bin, Files: files, JobManager: s.jobManager, JobID: job.ID, ConfigJSON: cfgJSON,
		Args: job.Graph.Args, Slots: slots, User: s.user, Tokens: s.tokens, LogLevel: s.logLevel, HALeader: s.haLeader,
		Env: KerberosEnv(os.Getenv)}, nil
}

// stagedResources lists the files of the staging directory a TaskManager container gets when
// the client did not describe them in FLINK_GO_TM_RESOURCES: every regular file (recursively,
// linked under its relative path, type FILE), except the session CLI binary (flink-go), session
// job binaries (jobs/), the HA directory (ha/, it changes while the application runs), the stop
// marker and the job binary itself (added separately).
func stagedResources(ctx context.Context, staging, binary string) (map[string]yarn.LocalResource, error) {
	fsys, root, err := fs.Get(ctx, staging)
	if err != nil {
		return nil, err
	}
	out := map[string]yarn.LocalResource{}
	var walk func(dir, rel string, depth int) error
	walk = func(dir, rel string, depth int) error {
		list, err := fsys.List(ctx, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("am: listing %s: %w", dir, err)
		}
		for _, fi := range list {
			base := fi.Path[strings.LastIndex(fi.Path, "/")+1:]
			link := base
			if rel != "" {
				link = rel + "/" + base
			}
			if fi.IsDir {
				if (rel == "" && (base == "jobs" || base == "ha")) || depth >= 8 {
					continue
				}
				if err := walk(fi.Path, link, depth+1); err != nil {
					return err
				}
				continue
			}
			if rel == "" && (base == "flink-go" || base == "stop-session" || base == binary) {
				continue
			}
			r, err := resource(ctx, joinURI(staging, link))
			if err != nil {
				return err
			}
			out[link] = r
		}
		return nil
	}
	if err := walk(root, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// deleteHA removes the HA directory once the application unregistered: its jobs ended and no
// further attempt will read it (Flink cleans up its HA data the same way). Under the staging
// directory it is already gone.
func (r *amRuntime) deleteHA() {
	if r.ha == nil || r.ha.keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fsys, p, err := fs.Get(ctx, r.ha.settings.Root)
	if err == nil {
		err = fsys.Delete(ctx, p, true)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn().Err(err).Str("dir", r.ha.settings.Root).Msg("could not delete the high-availability directory")
		return
	}
	r.log.Info().Str("dir", r.ha.settings.Root).Msg("high-availability directory deleted")
}
