package am

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/amkit"
)

// JobView is what the driver needs from the JobManager: the registered TaskManagers and a way to
// report lost ones. *jobmanager.JobManager implements it through jmAdapter.
type JobView interface {
	TaskManagerViews() map[string]TMView
	TaskManagerLost(id, reason string)
}

type jmAdapter struct{ jm *jobmanager.JobManager }

func (a jmAdapter) TaskManagerViews() map[string]TMView {
	out := map[string]TMView{}
	for _, tm := range a.jm.TaskManagers() {
		out[tm.ID] = TMView{Slots: tm.Slots, FreeSlots: tm.FreeSlots}
	}
	return out
}

func (a jmAdapter) TaskManagerLost(id, reason string) { a.jm.TaskManagerLost(id, reason) }

// ContainerStarter starts and stops containers on NodeManagers; *yarn.NMClient implements it.
type ContainerStarter interface {
	StartContainer(ctx context.Context, c yarn.Container, launch yarn.ContainerLaunchContext) error
	StopContainers(ctx context.Context, node yarn.NodeID, ids ...yarn.ContainerID) (map[yarn.ContainerID]error, error)
}

// SpecFunc builds the TaskManager spec of a job (binary resource, configuration, ...).
type SpecFunc func(ctx context.Context, job *jobmanager.JobInfo, slots int) (TaskManagerSpec, error)

// Driver is the YARN implementation of jobmanager.Driver: it turns slot requests into container
// requests on the RM heartbeat loop, launches the containers as TaskManagers of the job's
// binary, reports completed containers to the JobManager, replaces them under a failure-rate
// limit and stops a job's containers when it ends. The decisions are the Book's; Driver does the
// I/O around it.
type Driver struct {
	log      zerolog.Logger
	loop     *amkit.Loop
	nm       ContainerStarter
	settings map[string]string
	spec     SpecFunc
	maxRes   yarn.Resource
	now      func() time.Time

	mu    sync.Mutex
	book  *Book
	jm    JobView
	specs map[string]*TaskManagerSpec // by job id
	jobs  map[string]*jobmanager.JobInfo
}

// DriverConfig configures a Driver.
type DriverConfig struct {
	// Allocator heartbeats to the RM (the registered *yarn.AMRMClient).
	Allocator amkit.Allocator
	// NM starts and stops containers.
	NM ContainerStarter
	// Settings is the cluster configuration; a job's own configuration overrides it for its
	// TaskManagers (memory, vcores, slots).
	Settings map[string]string
	// Spec builds a job's TaskManager spec (required).
	Spec SpecFunc
	// MaxResource is the RM's maximum container capability (from the registration); zero
	// disables the check.
	MaxResource yarn.Resource
	// Session enables the idle TaskManager timeout (resourcemanager.taskmanager-timeout).
	Session bool
	// Interval and FastInterval override the heartbeat intervals (yarn.heartbeat.interval,
	// yarn.heartbeat.container-request-interval).
	Interval, FastInterval time.Duration
	Logger                 zerolog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// NewDriver builds a Driver; call SetJobManager before the first job is submitted and Run to
// heartbeat.
func NewDriver(cfg DriverConfig) (*Driver, error) {
	if cfg.Spec == nil || cfg.NM == nil || cfg.Allocator == nil {
		return nil, errors.New("am: DriverConfig needs Allocator, NM and Spec")
	}
	c := configs.New()
	if err := c.SetAll(cfg.Settings, configs.CodeOrigin("am")); err != nil {
		return nil, fmt.Errorf("am: cluster configuration: %w", err)
	}
	bc := BookConfig{
		MaxFailuresPerMinute: int(configs.Get(c, configs.StartWorkerMaxFailureRate)),
		RetryInterval:        configs.Get(c, configs.StartWorkerRetryInterval),
		RegistrationTimeout:  configs.Get(c, configs.WorkerRegistrationTimeout),
	}
	if cfg.Session {
		bc.IdleTimeout = configs.Get(c, configs.TaskManagerIdleTimeout)
	}
	book, err := NewBook(bc)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = configs.Get(c, configs.YarnHeartbeatInterval)
	}
	if cfg.FastInterval <= 0 {
		cfg.FastInterval = configs.Get(c, configs.YarnContainerRequestHeartbeat)
	}
	if cfg.FastInterval > cfg.Interval {
		cfg.FastInterval = cfg.Interval
	}
	d := &Driver{log: cfg.Logger.With().Str("component", "yarn-driver").Logger(), nm: cfg.NM, settings: cfg.Settings, spec: cfg.Spec,
		maxRes: cfg.MaxResource, now: cfg.Now, book: book, specs: map[string]*TaskManagerSpec{}, jobs: map[string]*jobmanager.JobInfo{}}
	d.loop, err = amkit.NewLoop(amkit.LoopConfig{
		Client:         cfg.Allocator,
		Launch:         d.launch,
		OnLaunchFailed: d.launchFailed,
		OnCompleted:    d.completed,
		Progress:       d.progress,
		Interval:       cfg.Interval,
		FastInterval:   cfg.FastInterval,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("am: heartbeat loop: %w", err)
	}
	return d, nil
}

// SetJobManager connects the driver to the JobManager it serves.
func (d *Driver) SetJobManager(jm *jobmanager.JobManager) { d.setJobView(jmAdapter{jm}) }

func (d *Driver) setJobView(v JobView) {
	d.mu.Lock()
	d.jm = v
	d.mu.Unlock()
}

func (d *Driver) view() map[string]TMView {
	d.mu.Lock()
	jm := d.jm
	d.mu.Unlock()
	if jm == nil {
		return map[string]TMView{}
	}
	return jm.TaskManagerViews()
}

func (d *Driver) setMaxResource(r yarn.Resource) {
	d.mu.Lock()
	d.maxRes = r
	d.mu.Unlock()
}

// Loop returns the heartbeat loop (e.g. to adopt or release containers of previous attempts).
func (d *Driver) Loop() *amkit.Loop { return d.loop }

// Run heartbeats to the RM and ticks the book until ctx ends or the loop gives up (RM shutdown
// order, unknown attempt, too many failed heartbeats).
func (d *Driver) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.ticker(ctx)
	return d.loop.Run(ctx)
}

func (d *Driver) ticker(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tms := d.view()
		d.mu.Lock()
		acts := d.book.Tick(tms, d.now())
		d.mu.Unlock()
		d.apply(ctx, acts)
	}
}

// jobSettings merges the cluster configuration with the job's own.
func (d *Driver) jobSettings(job *jobmanager.JobInfo) (*configs.Configuration, error) {
	c := configs.New()
	if err := c.SetAll(d.settings, configs.CodeOrigin("cluster")); err != nil {
		return nil, err
	}
	if job.Graph != nil {
		if err := c.SetAll(job.Graph.Config, configs.CodeOrigin("job "+job.ID)); err != nil {
			return nil, fmt.Errorf("job %s configuration: %w", job.ID, err)
		}
	}
	return c, nil
}

// RequestSlots implements jobmanager.Driver.
func (d *Driver) RequestSlots(ctx context.Context, job *jobmanager.JobInfo, slots int) error {
	c, err := d.jobSettings(job)
	if err != nil {
		return fmt.Errorf("am: %w", err)
	}
	perTM := configs.Get(c, configs.NumberOfTaskSlots)
	key, err := containerKey(configs.Get(c, configs.TaskManagerMemory).Bytes(), configs.Get(c, configs.YarnContainerVcores), perTM)
	if err != nil {
		return err
	}
	d.mu.Lock()
	maxRes := d.maxRes
	_, known := d.specs[job.ID]
	d.mu.Unlock()
	if maxRes.MemoryMB > 0 && (key.Resource.MemoryMB > maxRes.MemoryMB || key.Resource.VCores > maxRes.VCores) {
		return fmt.Errorf("am: TaskManager container %s is larger than YARN's max container resource %s (taskmanager.memory.process.size, yarn.containers.vcores; yarn.scheduler.maximum-allocation-mb/-vcores)", key.Resource, maxRes)
	}
	if !known {
		spec, err := d.spec(ctx, job, perTM)
		if err != nil {
			return fmt.Errorf("am: TaskManager launch context for job %s: %w", job.ID, err)
		}
		d.mu.Lock()
		d.specs[job.ID] = &spec
		d.jobs[job.ID] = job
		d.mu.Unlock()
	}
	tms := d.view()
	d.mu.Lock()
	acts, err := d.book.RequestSlots(job.ID, key, perTM, slots, tms, d.now())
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.log.Info().Str("job", job.ID).Int("slots", slots).Int("per_taskmanager", perTM).Str("container", key.Resource.String()).
		Int("new_requests", sumAsks(acts.Request)).Msg("slots requested")
	d.apply(ctx, acts)
	return nil
}

// Adopt takes over the TaskManager containers YARN kept from a previous AM attempt for job
// (high availability): the heartbeat loop tracks them, the book counts them as the job's
// starting containers until their TaskManagers register again (Book.Adopt).
func (d *Driver) Adopt(ctx context.Context, job *jobmanager.JobInfo, cs []yarn.Container) error {
	if len(cs) == 0 {
		return nil
	}
	c, err := d.jobSettings(job)
	if err != nil {
		return fmt.Errorf("am: %w", err)
	}
	perTM := configs.Get(c, configs.NumberOfTaskSlots)
	key, err := containerKey(configs.Get(c, configs.TaskManagerMemory).Bytes(), configs.Get(c, configs.YarnContainerVcores), perTM)
	if err != nil {
		return err
	}
	spec, err := d.spec(ctx, job, perTM)
	if err != nil {
		return fmt.Errorf("am: TaskManager launch context for job %s: %w", job.ID, err)
	}
	d.mu.Lock()
	err = d.book.Adopt(job.ID, key, perTM, cs, d.now())
	if err == nil {
		d.specs[job.ID] = &spec
		d.jobs[job.ID] = job
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.loop.Adopt(cs)
	return nil
}

// JobEnded implements jobmanager.Driver.
func (d *Driver) JobEnded(jobID string) {
	d.mu.Lock()
	acts := d.book.JobEnded(jobID, d.now())
	d.book.Forget(jobID)
	delete(d.specs, jobID)
	delete(d.jobs, jobID)
	d.mu.Unlock()
	d.log.Info().Str("job", jobID).Int("stopping", len(acts.Stop)).Msg("job ended; stopping its TaskManager containers")
	d.apply(context.Background(), acts)
}

func sumAsks(asks []Ask) int {
	n := 0
	for _, a := range asks {
		n += a.N
	}
	return n
}

// apply carries out the book's decisions. It must be called without d.mu held.
func (d *Driver) apply(ctx context.Context, a Actions) {
	for _, r := range a.Request {
		if err := d.loop.Request(r.Key, r.N); err != nil {
			d.log.Error().Err(err).Str("job", r.Job).Msg("container request rejected")
		}
	}
	for _, c := range a.Cancel {
		n := d.loop.Cancel(c.Key, c.N)
		d.log.Debug().Str("job", c.Job).Int("withdrawn", n).Int("asked", c.N).Msg("container requests withdrawn")
	}
	for _, id := range a.Release {
		if err := d.loop.Release(id); err != nil {
			d.log.Warn().Err(err).Str("container", id.String()).Msg("release")
		}
	}
	d.mu.Lock()
	jm := d.jm
	d.mu.Unlock()
	for _, l := range a.Lost {
		if l.Stopped {
			d.log.Info().Str("taskmanager", l.ResourceID).Str("reason", l.Reason).Msg("TaskManager container stopped")
		} else {
			d.log.Warn().Str("taskmanager", l.ResourceID).Str("reason", l.Reason).Msg("TaskManager container lost")
		}
		if jm != nil {
			jm.TaskManagerLost(l.ResourceID, l.Reason)
		}
	}
	for _, s := range a.Stop {
		d.loop.Stopped(s.Container)
		d.log.Info().Str("container", s.Container.String()).Str("reason", s.Reason).Msg("stopping TaskManager container")
		go d.stopContainer(s)
	}
}

func (d *Driver) stopContainer(s Stop) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fails, err := d.nm.StopContainers(ctx, s.Node, s.Container)
	if err == nil {
		err = fails[s.Container]
	}
	if err != nil {
		// The NodeManager could not stop it: give it back through the RM instead.
		d.log.Warn().Err(err).Str("container", s.Container.String()).Msg("stopping through the NodeManager failed; releasing through the RM")
		if rerr := d.loop.Release(s.Container); rerr != nil {
			d.log.Debug().Err(rerr).Msg("release after failed stop")
		}
	}
}

// launch is the loop's Launch callback: assign the container to a job and start it.
func (d *Driver) launch(ctx context.Context, a amkit.Accepted) error {
	d.mu.Lock()
	job, ok := d.book.Accepted(a.Container, a.Key, d.now())
	var spec *TaskManagerSpec
	if ok {
		spec = d.specs[job]
	}
	d.mu.Unlock()
	if !ok {
		d.log.Info().Str("container", a.Container.ID.String()).Msg("returning excess container")
		if err := d.loop.Release(a.Container.ID); err != nil {
			d.log.Warn().Err(err).Msg("release excess container")
		}
		return nil
	}
	if spec == nil {
		return fmt.Errorf("am: no TaskManager spec for job %s", job)
	}
	clc, err := spec.LaunchContext(a.Container)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.nm.StartContainer(lctx, a.Container, clc); err != nil {
		return fmt.Errorf("am: starting TaskManager container %s on %s: %w", a.Container.ID, a.Container.Node, err)
	}
	d.log.Info().Str("job", job).Str("container", a.Container.ID.String()).Str("node", a.Container.Node.String()).
		Strs("resources", sortedNames(clc.LocalResources)).Msg("TaskManager container started")
	return nil
}

func (d *Driver) launchFailed(a amkit.Accepted, err error) {
	d.mu.Lock()
	acts := d.book.LaunchFailed(a.Container.ID, err.Error(), d.now())
	d.mu.Unlock()
	d.apply(context.Background(), acts)
}

func (d *Driver) completed(c amkit.Completion) {
	d.mu.Lock()
	job, _ := d.book.JobOf(c.ID)
	acts := d.book.Completed(c, d.now())
	if job != "" {
		d.book.Forget(job)
	}
	d.mu.Unlock()
	if len(acts.Lost) > 0 && !acts.Lost[0].Stopped {
		d.log.Warn().Str("job", job).Str("container", c.ID.String()).Int32("exit_status", c.ExitStatus).Int("replacements", sumAsks(acts.Request)).
			Msg("TaskManager container completed")
	}
	// Completions arrive on the heartbeat goroutine; TaskManagerLost may block on the JobMaster.
	go d.apply(context.Background(), acts)
}

// progress reports 0 while nothing runs and 0.5 once TaskManagers run (YARN shows it).
func (d *Driver) progress() float32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	for job := range d.jobs {
		if d.book.Counts(job).Registered > 0 {
			return 0.5
		}
	}
	return 0
}

// Counts returns the book's container counts of a job (for status and tests).
func (d *Driver) Counts(job string) Counts {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.book.Counts(job)
}

// configJSON serializes a job configuration for FLINK_GO_JOB_CONFIG.
func configJSON(m map[string]string) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("am: job configuration: %w", err)
	}
	return string(b), nil
}
