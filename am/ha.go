package am

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/jobmanager"
	"github.com/flink-go/flink-go/yarn"
)

// HASettings is the AM's high-availability decision (docs/ha.md).
type HASettings struct {
	// Enabled: jobs are stored and recovered across AM attempts, containers kept.
	Enabled bool
	// Root is the HA directory <storage>/<cluster-id> (a URI).
	Root string
	// Reason says why HA is on or off (logged).
	Reason string
}

// DecideHA decides on high availability for the AM of application app: on when
// high-availability.type is FILESYSTEM (ZOOKEEPER is served by the same file-system store: YARN
// runs one AM at a time, so no leader election is needed), or when yarn.application-attempts > 1.
// The store is high-availability.storageDir, else <staging>/ha (deleted with the staging
// directory when the application ends); the cluster id is high-availability.cluster-id when set
// to something other than its default, else the application id.
func DecideHA(conf *configs.Configuration, app yarn.ApplicationID, staging string) (HASettings, error) {
	typ := configs.Get(conf, configs.HighAvailability)
	attempts := configs.Get(conf, configs.YarnApplicationAttempts)
	var s HASettings
	switch {
	case typ == configs.HAFileSystem || typ == configs.HAZooKeeper:
		s.Enabled, s.Reason = true, fmt.Sprintf("%s=%s", configs.HighAvailability.Key(), typ)
	case attempts > 1:
		s.Enabled, s.Reason = true, fmt.Sprintf("%s=%d", configs.YarnApplicationAttempts.Key(), attempts)
	default:
		return HASettings{Reason: fmt.Sprintf("%s=%s and %s=%d", configs.HighAvailability.Key(), typ, configs.YarnApplicationAttempts.Key(), max(attempts, 1))}, nil
	}
	storage := configs.Get(conf, configs.HAStorageDir)
	if storage == "" {
		if staging == "" {
			return HASettings{}, fmt.Errorf("am: high availability (%s) needs %s or a staging directory (%s)", s.Reason, configs.HAStorageDir.Key(), EnvStagingDir)
		}
		storage = strings.TrimSuffix(staging, "/") + "/ha"
	}
	id := app.String()
	if configs.IsSet(conf, configs.HAClusterID) {
		if v := strings.Trim(configs.Get(conf, configs.HAClusterID), "/"); v != "" && v != "default" {
			id = v
		}
	}
	root, err := jobmanager.HARoot(storage, id)
	if err != nil {
		return HASettings{}, fmt.Errorf("am: %w", err)
	}
	s.Root = root
	return s, nil
}

// AttemptOf returns the application attempt of a container id as YARN writes it into
// CONTAINER_ID: container_<clusterTimestamp>_<app>_<attempt>_<seq>, or with an epoch,
// container_e<epoch>_<clusterTimestamp>_<app>_<attempt>_<seq>. Attempt numbers start at 1.
func AttemptOf(containerID string) (yarn.AttemptID, error) {
	c, err := yarn.ParseContainerID(strings.TrimSpace(containerID))
	if err != nil {
		return yarn.AttemptID{}, fmt.Errorf("am: CONTAINER_ID: %w", err)
	}
	if c.Attempt.Attempt < 1 {
		return yarn.AttemptID{}, fmt.Errorf("am: CONTAINER_ID %q: attempt number %d (YARN numbers attempts from 1)", containerID, c.Attempt.Attempt)
	}
	return c.Attempt, nil
}

// RecoveryPlan is what a new AM attempt does with the HA store's content (pure decision).
type RecoveryPlan struct {
	// Recover are the stored jobs to resubmit, oldest first.
	Recover []jobmanager.StoredJob
	// Ended is set in application mode when the application's job already ended in an earlier
	// attempt (the AM died before unregistering): finish with its result, run nothing.
	Ended *jobmanager.JobResult
	// Fail is set in application mode when stored jobs exist but none can be read: the attempt
	// must not rerun the job from scratch (its output may be partly committed).
	Fail string
	// AdoptFor names the job the containers of previous attempts are adopted for ("" = release
	// them and let the jobs request new ones).
	AdoptFor string
}

// PlanRecovery decides how to recover. application: an application cluster, whose only job is
// the stored one if there is one (not the one built from the command line again). Recorded
// results end the application only in later attempts (firstAttempt false): a first attempt never
// inherits the end of another application that shared its cluster id.
func PlanRecovery(application, firstAttempt bool, jobs []jobmanager.StoredJob, results []jobmanager.JobResult, readErrs []error) RecoveryPlan {
	var p RecoveryPlan
	p.Recover = jobs
	if application {
		if len(jobs) > 1 {
			p.Recover = jobs[:1]
		}
		if len(jobs) == 0 {
			if len(readErrs) > 0 {
				p.Fail = fmt.Sprintf("the stored job cannot be read, so it cannot be recovered (the files are kept): %v", errors.Join(readErrs...))
			} else if len(results) > 0 && !firstAttempt {
				r := results[len(results)-1]
				p.Ended = &r
			}
		}
	}
	// Kept TaskManager containers register again with their job id; with exactly one job to
	// recover they are certainly its containers, so they count as its starting containers.
	if len(p.Recover) == 1 {
		p.AdoptFor = p.Recover[0].Graph.JobId
	}
	return p
}

// attemptsPerAM bounds the execution attempts (restarts) of a job within one AM attempt that
// recoveredFirstAttempt leaves room for.
const attemptsPerAM = 1_000_000

// recoveredFirstAttempt is the first execution attempt number of a job recovered by AM attempt
// amAttempt: above every number an earlier AM attempt used (unless a job restarted a million
// times in one AM attempt), so execution and result partition ids of the recovered job never
// collide with those of the cancelled tasks on the kept TaskManagers.
func recoveredFirstAttempt(amAttempt int32) int {
	if amAttempt < 1 {
		amAttempt = 1
	}
	return int(amAttempt) * attemptsPerAM
}

// haState is the AM's high-availability part.
type haState struct {
	settings HASettings
	store    *jobmanager.HAStore
	attempt  yarn.AttemptID
	// previous are the containers YARN kept from earlier attempts (from the registration).
	previous []yarn.Container
	// keep is set when stored jobs could not be read: the HA (and staging) directory is then not
	// deleted at the end, so nothing unreadable is lost.
	keep bool
}

// openHA opens the store when HA is enabled (nil, nil otherwise).
func openHA(ctx context.Context, s HASettings) (*jobmanager.HAStore, error) {
	if !s.Enabled {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := jobmanager.OpenHAStore(ctx, s.Root)
	if err != nil {
		return nil, fmt.Errorf("am: high availability (%s): %w", s.Reason, err)
	}
	return st, nil
}

// recoverJobs reads the HA store and carries out the recovery plan: adopts or releases the
// containers of previous attempts and resubmits the stored jobs from their newest restorable
// checkpoints. It returns the plan and the resubmitted jobs.
func (r *amRuntime) recoverJobs(application bool) (RecoveryPlan, []*jobmanager.JobMaster, error) {
	h := r.ha
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jobs, errs := h.store.Jobs(ctx)
	for _, e := range errs {
		r.log.Error().Err(e).Msg("stored job cannot be recovered")
	}
	h.keep = len(errs) > 0
	results, rerrs := h.store.Results(ctx)
	for _, e := range rerrs {
		r.log.Warn().Err(e).Msg("stored job result cannot be read")
	}
	plan := PlanRecovery(application, h.attempt.Attempt <= 1, jobs, results, errs)
	if len(h.previous) > 0 {
		adopted := false
		if plan.AdoptFor != "" {
			sj := plan.Recover[0]
			info := &jobmanager.JobInfo{ID: sj.Graph.JobId, Name: sj.Graph.Name, Graph: sj.Graph, Artifact: sj.Artifact}
			if err := r.drv.Adopt(ctx, info, h.previous); err != nil {
				r.log.Error().Err(err).Msg("cannot adopt the TaskManager containers of the previous attempt; releasing them")
			} else {
				adopted = true
				r.log.Info().Str("job", info.ID).Int("containers", len(h.previous)).Msg("adopted the TaskManager containers of the previous attempt; waiting for their TaskManagers to register again")
			}
		}
		if !adopted {
			r.drv.Loop().Adopt(h.previous)
			for _, c := range h.previous {
				_ = r.drv.Loop().Release(c.ID)
			}
			r.log.Warn().Int("containers", len(h.previous)).Int("jobs", len(plan.Recover)).Msg("releasing the containers of the previous attempt (not exactly one job to recover)")
		}
	}
	var out []*jobmanager.JobMaster
	for _, sj := range plan.Recover {
		rec, err := jobmanager.PrepareRecovery(ctx, sj.Graph)
		if err != nil {
			r.log.Error().Err(err).Str("job", sj.Graph.JobId).Msg("cannot prepare the recovery of a stored job")
			continue
		}
		for _, e := range rec.Skipped {
			r.log.Warn().Err(e).Str("job", sj.Graph.JobId).Msg("skipping a checkpoint that cannot be restored (kept)")
		}
		if rec.Checkpoint != nil {
			r.log.Info().Str("job", sj.Graph.JobId).Int64("checkpoint", rec.Checkpoint.ID).Str("path", rec.Checkpoint.ExternalPath).
				Msgf("recovering job %s (%s) from checkpoint chk-%d", sj.Graph.JobId, sj.Graph.Name, rec.Checkpoint.ID)
		} else {
			r.log.Info().Str("job", sj.Graph.JobId).Msgf("recovering job %s (%s) without a completed checkpoint: restarting it as submitted", sj.Graph.JobId, sj.Graph.Name)
		}
		j, err := r.jm.SubmitRecovered(rec.Graph, sj.Artifact, recoveredFirstAttempt(h.attempt.Attempt))
		if err != nil {
			r.log.Error().Err(err).Str("job", sj.Graph.JobId).Msg("resubmitting a recovered job failed")
			continue
		}
		out = append(out, j)
	}
	if len(out) < len(plan.Recover) && application {
		return plan, out, fmt.Errorf("am: the stored job %s could not be resubmitted (see the log)", plan.Recover[0].Graph.JobId)
	}
	return plan, out, nil
}
