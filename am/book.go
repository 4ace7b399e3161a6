package am

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/amkit"
)

// Book is the YARN driver's decision logic: which TaskManager containers belong to which job,
// how many to request, when a lost one is replaced, and when one is stopped. It does no I/O and
// is not safe for concurrent use; every method takes the current time and returns the Actions
// the caller must carry out (heartbeat requests, NodeManager stops, JobManager notifications).
//
// Container phases (per container, owned by exactly one job):
//
//	Accepted ─▶ starting ──(its TaskManager registered)──▶ registered
//	               │                                          │
//	               ├─ launch failed / completed ──────────────┼─▶ gone: Lost + replacement (job running)
//	               ├─ registration timeout ─▶ stopping        ├─ TaskManager lost by the JobManager ─▶ stopping + replacement
//	               └─ job ended ─▶ stopping                   ├─ idle (all slots free) for IdleTimeout ─▶ stopping
//	                                                          └─ job ended ─▶ stopping
//	stopping ──(completed)──▶ gone, nothing to do
//
// Replacements of failed containers are rate limited: at most MaxFailuresPerMinute failures are
// replaced at once in any minute; beyond that each replacement waits RetryInterval (Flink's
// resourcemanager.start-worker.max-failure-rate and .retry-interval).
type Book struct {
	cfg        BookConfig
	budget     *amkit.RestartBudget
	jobs       map[string]*jobBook
	seq        int
	containers map[yarn.ContainerID]*tmContainer
}

// BookConfig configures a Book.
type BookConfig struct {
	// MaxFailuresPerMinute of containers replaced without delay; negative means unlimited.
	MaxFailuresPerMinute int
	// RetryInterval delays a replacement once the failure rate is exceeded (default 3 s).
	RetryInterval time.Duration
	// RegistrationTimeout stops (and replaces) a started container whose TaskManager has not
	// registered within it; 0 disables the check.
	RegistrationTimeout time.Duration
	// IdleTimeout stops a registered TaskManager all of whose slots stayed free this long
	// (sessions: resourcemanager.taskmanager-timeout); 0 keeps idle TaskManagers.
	IdleTimeout time.Duration
}

type phase int

const (
	phaseStarting   phase = iota // allocated and launched; its TaskManager has not registered yet
	phaseRegistered              // its TaskManager is registered with the JobManager
	phaseStopping                // the AM stops it; its completion is expected and ignored
)

func (p phase) String() string {
	switch p {
	case phaseStarting:
		return "starting"
	case phaseRegistered:
		return "registered"
	default:
		return "stopping"
	}
}

type tmContainer struct {
	id        yarn.ContainerID
	job       string
	node      yarn.NodeID
	phase     phase
	since     time.Time // when the current phase began
	idleSince time.Time // zero while a slot is in use
	stopWhy   string    // why the AM stops it
}

type jobBook struct {
	id       string
	seq      int
	key      amkit.Key
	perTM    int
	pending  int       // containers requested from the RM and not yet allocated
	deferred int       // replacements waiting for the failure-rate limit
	due      time.Time // when the deferred replacements are requested
	ended    bool
}

// Ask is a container request (or its withdrawal) for a job.
type Ask struct {
	Job string
	Key amkit.Key
	N   int
}

// Stop orders a container stopped through its NodeManager.
type Stop struct {
	Container yarn.ContainerID
	Node      yarn.NodeID
	Reason    string
}

// Lost tells the JobManager that a TaskManager is gone (its resource id is the container id).
type Lost struct {
	ResourceID string
	Reason     string
	// Stopped is true when the AM stopped the container itself (no failure).
	Stopped bool
}

// Actions is what the caller must do after a Book decision.
type Actions struct {
	Request []Ask
	Cancel  []Ask
	Stop    []Stop
	Release []yarn.ContainerID
	Lost    []Lost
}

// Empty reports whether there is nothing to do.
func (a Actions) Empty() bool {
	return len(a.Request)+len(a.Cancel)+len(a.Stop)+len(a.Release)+len(a.Lost) == 0
}

func (a *Actions) add(b Actions) {
	a.Request = append(a.Request, b.Request...)
	a.Cancel = append(a.Cancel, b.Cancel...)
	a.Stop = append(a.Stop, b.Stop...)
	a.Release = append(a.Release, b.Release...)
	a.Lost = append(a.Lost, b.Lost...)
}

// TMView is what the JobManager reports about a registered TaskManager.
type TMView struct {
	Slots     int
	FreeSlots int
}

// NewBook returns an empty Book.
func NewBook(cfg BookConfig) (*Book, error) {
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 3 * time.Second
	}
	if cfg.RegistrationTimeout < 0 || cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("am: registration timeout %v and idle timeout %v must not be negative", cfg.RegistrationTimeout, cfg.IdleTimeout)
	}
	b, err := amkit.NewRestartBudget(cfg.MaxFailuresPerMinute, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("am: container restart budget: %w", err)
	}
	return &Book{cfg: cfg, budget: b, jobs: map[string]*jobBook{}, containers: map[yarn.ContainerID]*tmContainer{}}, nil
}

// RequestSlots decides how many containers to request so that job gets `slots` more slots than
// the JobManager sees free: containers already requested, deferred or starting for the job count
// as slots on their way. tms is the JobManager's current view (resource id → slots); it first
// updates the phases (see Tick), whose actions are included.
func (b *Book) RequestSlots(job string, key amkit.Key, perTM, slots int, tms map[string]TMView, now time.Time) (Actions, error) {
	if job == "" {
		return Actions{}, fmt.Errorf("am: request slots: empty job id")
	}
	if perTM <= 0 {
		return Actions{}, fmt.Errorf("am: job %s: taskmanager.numberOfTaskSlots must be positive, got %d", job, perTM)
	}
	if slots <= 0 {
		return Actions{}, nil
	}
	jb, ok := b.jobs[job]
	if !ok {
		b.seq++
		jb = &jobBook{id: job, seq: b.seq, key: key, perTM: perTM}
		b.jobs[job] = jb
	}
	if jb.ended {
		return Actions{}, fmt.Errorf("am: job %s already ended; not requesting TaskManagers for it", job)
	}
	if jb.key != key || jb.perTM != perTM {
		return Actions{}, fmt.Errorf("am: job %s: TaskManager spec changed from %s x%d slots to %s x%d slots", job, jb.key, jb.perTM, key, perTM)
	}
	acts := b.Tick(tms, now)
	inflight := jb.pending + jb.deferred
	for _, c := range b.containers {
		if c.job == job && c.phase == phaseStarting {
			inflight++
		}
	}
	need := (slots+perTM-1)/perTM - inflight
	if need > 0 {
		jb.pending += need
		acts.Request = append(acts.Request, Ask{Job: job, Key: key, N: need})
	}
	return acts, nil
}

// Adopt takes over containers that YARN kept from a previous AM attempt (high availability) as
// starting containers of job: their TaskManagers register again with the new JobManager, and
// until then they count as slots on their way, so the job's slot request does not ask for new
// ones. One that does not register within RegistrationTimeout is stopped and replaced, one
// that completes is replaced, as for any starting container.
func (b *Book) Adopt(job string, key amkit.Key, perTM int, cs []yarn.Container, now time.Time) error {
	if job == "" {
		return fmt.Errorf("am: adopt containers: empty job id")
	}
	if perTM <= 0 {
		return fmt.Errorf("am: job %s: taskmanager.numberOfTaskSlots must be positive, got %d", job, perTM)
	}
	jb, ok := b.jobs[job]
	if !ok {
		b.seq++
		jb = &jobBook{id: job, seq: b.seq, key: key, perTM: perTM}
		b.jobs[job] = jb
	}
	if jb.ended {
		return fmt.Errorf("am: job %s already ended; not adopting containers for it", job)
	}
	if jb.key != key || jb.perTM != perTM {
		return fmt.Errorf("am: job %s: TaskManager spec %s x%d slots differs from %s x%d slots", job, jb.key, jb.perTM, key, perTM)
	}
	for _, c := range cs {
		if prev, dup := b.containers[c.ID]; dup {
			return fmt.Errorf("am: container %s is already held for job %s", c.ID, prev.job)
		}
	}
	for _, c := range cs {
		b.containers[c.ID] = &tmContainer{id: c.ID, job: job, node: c.Node, phase: phaseStarting, since: now}
	}
	return nil
}

// Accepted assigns an allocated container to the oldest running job waiting for one of its key.
// ok=false means no job wants it: the caller releases it.
func (b *Book) Accepted(c yarn.Container, key amkit.Key, now time.Time) (job string, ok bool) {
	var best *jobBook
	for _, jb := range b.jobs {
		if jb.ended || jb.pending == 0 || jb.key != key {
			continue
		}
		if best == nil || jb.seq < best.seq {
			best = jb
		}
	}
	if best == nil {
		return "", false
	}
	best.pending--
	b.containers[c.ID] = &tmContainer{id: c.ID, job: best.id, node: c.Node, phase: phaseStarting, since: now}
	return best.id, true
}

// LaunchFailed records that starting a container failed (it was released): the job gets a
// replacement under the failure-rate limit.
func (b *Book) LaunchFailed(id yarn.ContainerID, reason string, now time.Time) Actions {
	c, ok := b.containers[id]
	if !ok {
		return Actions{}
	}
	delete(b.containers, id)
	if c.phase == phaseStopping {
		return Actions{}
	}
	return b.replace(c.job, now)
}

// Completed handles a completed container. One the AM stopped is reported Lost to the JobManager
// (so it does not wait for a heartbeat timeout to drop the TaskManager) and not replaced; one the
// AM released before it ran is forgotten; any other is reported Lost and replaced while its job
// runs.
func (b *Book) Completed(c amkit.Completion, now time.Time) Actions {
	tc, ok := b.containers[c.ID]
	if !ok {
		return Actions{}
	}
	delete(b.containers, c.ID)
	if tc.phase == phaseStopping {
		return Actions{Lost: []Lost{{ResourceID: c.ID.String(), Stopped: true,
			Reason: fmt.Sprintf("TaskManager container %s was stopped by the ApplicationMaster: %s", c.ID, tc.stopWhy)}}}
	}
	if c.Released {
		return Actions{}
	}
	acts := Actions{Lost: []Lost{{ResourceID: c.ID.String(), Reason: completionText(c)}}}
	acts.add(b.replace(tc.job, now))
	return acts
}

// completionText describes a completed container the way Flink's YARN driver does.
func completionText(c amkit.Completion) string {
	var what string
	switch c.ExitStatus {
	case yarn.ExitSuccess:
		what = "exited with status 0"
	case yarn.ExitPreempted:
		what = "was preempted by YARN"
	case yarn.ExitKilledExceededPmem:
		what = "was killed by YARN for exceeding its physical memory limit (raise taskmanager.memory.process.size)"
	case yarn.ExitKilledExceededVmem:
		what = "was killed by YARN for exceeding its virtual memory limit"
	case yarn.ExitDisksFailed:
		what = "failed because its NodeManager's disks failed"
	case yarn.ExitAborted:
		what = "was aborted by YARN (node lost or container released)"
	case yarn.ExitKilledByResourceManager:
		what = "was killed by the ResourceManager"
	case yarn.ExitInvalid:
		what = "completed with an invalid exit status"
	default:
		what = fmt.Sprintf("exited with status %d", c.ExitStatus)
	}
	s := fmt.Sprintf("TaskManager container %s %s", c.ID, what)
	if c.Diagnostics != "" {
		s += ": " + c.Diagnostics
	}
	return s
}

// replace requests one container for job in place of a failed one: at once while the failure
// rate allows it, else after RetryInterval.
func (b *Book) replace(job string, now time.Time) Actions {
	jb, ok := b.jobs[job]
	if !ok || jb.ended {
		return Actions{}
	}
	if b.budget.Failure(now) && jb.deferred == 0 {
		jb.pending++
		return Actions{Request: []Ask{{Job: job, Key: jb.key, N: 1}}}
	}
	if jb.deferred == 0 {
		jb.due = now.Add(b.cfg.RetryInterval)
	}
	jb.deferred++
	return Actions{}
}

// Tick updates the phases from the JobManager's view of registered TaskManagers and applies the
// timers: registrations, TaskManagers the JobManager lost, registration timeouts, idle
// TaskManagers, and deferred replacements that are due.
func (b *Book) Tick(tms map[string]TMView, now time.Time) Actions {
	var acts Actions
	for _, c := range b.sortedContainers() {
		v, registered := tms[c.id.String()]
		switch c.phase {
		case phaseStarting:
			if registered {
				c.phase, c.since = phaseRegistered, now
				c.idleSince = time.Time{}
				if v.FreeSlots >= v.Slots {
					c.idleSince = now
				}
				continue
			}
			if b.cfg.RegistrationTimeout > 0 && now.Sub(c.since) >= b.cfg.RegistrationTimeout {
				acts.add(b.stop(c, fmt.Sprintf("its TaskManager did not register within %s (resourcemanager.taskmanager-registration.timeout)", b.cfg.RegistrationTimeout), now))
				acts.add(b.replace(c.job, now))
			}
		case phaseRegistered:
			if !registered {
				// The JobManager dropped it (heartbeat timeout): the process may hang on; stop
				// the container and replace it.
				acts.add(b.stop(c, "the JobManager lost its TaskManager", now))
				acts.add(b.replace(c.job, now))
				continue
			}
			if v.FreeSlots < v.Slots {
				c.idleSince = time.Time{}
				continue
			}
			if c.idleSince.IsZero() {
				c.idleSince = now
			}
			if b.cfg.IdleTimeout > 0 && now.Sub(c.idleSince) >= b.cfg.IdleTimeout {
				acts.add(b.stop(c, fmt.Sprintf("its TaskManager was idle for %s (resourcemanager.taskmanager-timeout)", b.cfg.IdleTimeout), now))
			}
		}
	}
	for _, jb := range b.sortedJobs() {
		if jb.deferred > 0 && !jb.ended && !now.Before(jb.due) {
			jb.pending += jb.deferred
			acts.Request = append(acts.Request, Ask{Job: jb.id, Key: jb.key, N: jb.deferred})
			jb.deferred = 0
		}
	}
	return acts
}

func (b *Book) stop(c *tmContainer, reason string, now time.Time) Actions {
	c.phase, c.since, c.stopWhy = phaseStopping, now, reason
	return Actions{Stop: []Stop{{Container: c.id, Node: c.node, Reason: reason}}}
}

// JobEnded stops the job's containers and withdraws its outstanding requests. Containers
// allocated for it later are released (Accepted returns false).
func (b *Book) JobEnded(job string, now time.Time) Actions {
	var acts Actions
	jb, ok := b.jobs[job]
	if !ok {
		return acts
	}
	if jb.pending > 0 {
		acts.Cancel = append(acts.Cancel, Ask{Job: job, Key: jb.key, N: jb.pending})
	}
	jb.ended, jb.pending, jb.deferred = true, 0, 0
	for _, c := range b.sortedContainers() {
		if c.job == job && c.phase != phaseStopping {
			acts.add(b.stop(c, "job "+job+" ended", now))
		}
	}
	return acts
}

// Forget drops an ended job whose containers are all gone (sessions run many jobs).
func (b *Book) Forget(job string) {
	jb, ok := b.jobs[job]
	if !ok || !jb.ended {
		return
	}
	for _, c := range b.containers {
		if c.job == job {
			return
		}
	}
	delete(b.jobs, job)
}

// JobOf returns the job a container belongs to.
func (b *Book) JobOf(id yarn.ContainerID) (string, bool) {
	c, ok := b.containers[id]
	if !ok {
		return "", false
	}
	return c.job, true
}

// Counts summarizes a job's containers: requested (pending + deferred), starting, registered
// and stopping.
type Counts struct {
	Requested, Starting, Registered, Stopping int
}

// Counts returns the job's container counts.
func (b *Book) Counts(job string) Counts {
	var n Counts
	if jb, ok := b.jobs[job]; ok {
		n.Requested = jb.pending + jb.deferred
	}
	for _, c := range b.containers {
		if c.job != job {
			continue
		}
		switch c.phase {
		case phaseStarting:
			n.Starting++
		case phaseRegistered:
			n.Registered++
		default:
			n.Stopping++
		}
	}
	return n
}

// NextDue returns when the next deferred replacement is due (zero if none), so the caller can
// tick in time.
func (b *Book) NextDue() time.Time {
	var t time.Time
	for _, jb := range b.jobs {
		if jb.deferred > 0 && !jb.ended && (t.IsZero() || jb.due.Before(t)) {
			t = jb.due
		}
	}
	return t
}

func (b *Book) sortedContainers() []*tmContainer {
	out := make([]*tmContainer, 0, len(b.containers))
	for _, c := range b.containers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.String() < out[j].id.String() })
	return out
}

func (b *Book) sortedJobs() []*jobBook {
	out := make([]*jobBook, 0, len(b.jobs))
	for _, jb := range b.jobs {
		out = append(out, jb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// containerKey derives the container capability of a TaskManager: memory in MiB (at least 1) and
// vcores (yarn.containers.vcores, -1 meaning the slot count), at priority 1.
func containerKey(memoryBytes int64, vcores, slots int) (amkit.Key, error) {
	mb := memoryBytes >> 20
	if mb <= 0 || mb > math.MaxInt32 {
		return amkit.Key{}, fmt.Errorf("am: taskmanager.memory.process.size of %d bytes is not a usable container size", memoryBytes)
	}
	if vcores == -1 || vcores == 0 {
		vcores = slots
	}
	if vcores <= 0 {
		return amkit.Key{}, fmt.Errorf("am: yarn.containers.vcores must be positive or -1 (= slots), got %d", vcores)
	}
	return amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: mb, VCores: int32(vcores)}}, nil
}
