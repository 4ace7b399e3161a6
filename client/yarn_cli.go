package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/yarn"
)

// sessionAMBinary is the flink-go binary a session's AM container runs (the running CLI).
var sessionAMBinary = os.Executable

// yarnCommands are the YARN deployment commands: run-application and yarn-session.
func yarnCommands() []*cli.Command {
	return []*cli.Command{runApplicationCommand(), yarnSessionCommand(), yarnSessionAMCommand()}
}

// addYarnTargetFlag gives list, cancel, stop and savepoint Flink's -t flag, so that
// `flink-go list -t yarn-application -Dyarn.application.id=<id>` works as in Flink.
func addYarnTargetFlag(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		switch c.Name {
		case "list", "cancel", "stop", "savepoint":
			c.Flags = append(c.Flags, &cli.StringFlag{Name: "target", Aliases: []string{"t"},
				Usage: "deployment target of the cluster: remote (default), yarn-session, yarn-application, yarn-per-job (find the JobManager through -Dyarn.application.id or the recorded YARN session)"})
		}
	}
	return cmds
}

func isYarnTarget(t string) bool { return strings.HasPrefix(t, "yarn-") }

// defaultYarnTarget is the target of `flink-go run` without -t when no local session runs and
// no -m is given: execution.target, else yarn-session when -Dyarn.application.id is set or a
// YARN session is recorded, else "" (local).
func defaultYarnTarget(cfg *configs.Configuration) string {
	if t := configs.Get(cfg, configs.Target); t != "" {
		return string(t)
	}
	if configs.Get(cfg, configs.YarnApplicationID) != "" {
		return string(configs.TargetYarnSession)
	}
	if _, ok, _ := ReadYarnSession(); ok {
		return string(configs.TargetYarnSession)
	}
	return ""
}

// yarnRESTAddress resolves the JobManager of a YARN application for list, cancel, stop and
// savepoint: the application is -Dyarn.application.id, else (with -t yarn-*, or when no local
// session runs) the recorded YARN session. ok is false when no YARN application is meant.
func yarnRESTAddress(c *cli.Context, cfg *configs.Configuration) (string, bool, error) {
	var err error
	target := c.String("target")
	var id yarn.ApplicationID
	fromRecord := false
	if s := configs.Get(cfg, configs.YarnApplicationID); s != "" {
		if id, err = yarn.ParseApplicationID(s); err != nil {
			return "", true, &exitError{code: 2, err: fmt.Errorf("%s: %w", configs.YarnApplicationID.Key(), err)}
		}
	} else {
		if !isYarnTarget(target) {
			if _, local := cluster.ReadSession(); local || target != "" {
				return "", false, nil
			}
		}
		rec, ok, err := ReadYarnSession()
		if err != nil {
			return "", true, err
		}
		if !ok {
			if isYarnTarget(target) {
				return "", true, &exitError{code: 2, err: fmt.Errorf("target %s needs -D %s=<applicationId> (no YARN session is recorded in %s)", target, configs.YarnApplicationID.Key(), YarnSessionFile())}
			}
			return "", false, nil
		}
		id = rec.AppID
		fromRecord = true
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	d, err := ConnectYarnConf(ctx, os.Stderr, cfg)
	if err != nil {
		return "", true, err
	}
	defer d.Close()
	addr, rep, err := d.Retrieve(ctx, id)
	return addr, true, staleRecord(err, id, rep, fromRecord)
}

// staleRecord turns "the recorded session is not running" into a clear error and forgets the
// record when the RM says the application ended.
func staleRecord(err error, id yarn.ApplicationID, rep yarn.ApplicationReport, fromRecord bool) error {
	if err == nil || !fromRecord || !errors.Is(err, ErrYarnAppNotRunning) {
		return err
	}
	if rep.State.Terminal() || errors.Is(err, yarn.ErrApplicationNotFound) {
		RemoveYarnSession(id)
		return fmt.Errorf("the recorded YARN session %s has ended (%s/%s); its record %s was removed: start a new session with 'flink-go yarn-session -d', or run without it: %w",
			id, rep.State, rep.Final, YarnSessionFile(), err)
	}
	return err
}

// runYarn is `flink-go run -t yarn-application|yarn-per-job|yarn-session`.
func runYarn(c *cli.Context, target, binary string, args []string, cfg *configs.Configuration) error {
	start := time.Now()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := ConnectYarnConf(ctx, os.Stderr, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	detached := c.Bool("detached")
	switch target {
	case string(configs.TargetYarnSession):
		return runOnYarnSession(ctx, d, binary, args, cfg, detached)
	case string(configs.TargetYarnPerJob):
		fmt.Fprintln(os.Stderr, "Note: yarn-per-job runs as an application cluster in flink-go (the job binary is the ApplicationMaster), as yarn-application")
	case string(configs.TargetYarnApplication):
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown YARN target %q: use yarn-application, yarn-per-job or yarn-session", target)}
	}
	// Plan first: a binary that is not a flink-go job (or bad job arguments) fails here, before
	// anything happens on the cluster.
	if _, err := Plan(ctx, binary, args, cfg.Map()); err != nil {
		return &exitError{code: 2, err: err}
	}
	jobID := NewJobID()
	dep, err := d.Deploy(ctx, YarnDeployRequest{Mode: YarnApplicationMode, Binary: binary, Args: args, Conf: cfg, JobID: jobID, Start: start})
	if err != nil {
		return deployExit(ctx, err)
	}
	fmt.Printf("Job has been submitted with JobID %s\n", jobID)
	if dep.REST != "" {
		fmt.Printf("YARN application %s; JobManager REST API / web UI: http://%s\n", dep.AppID, dep.REST)
	} else {
		fmt.Printf("YARN application %s ended %s/%s before the client saw it running\n", dep.AppID, dep.Report.State, dep.Report.Final)
	}
	if detached {
		fmt.Fprintf(os.Stderr, "Detached. Follow it with 'flink-go list -D %s=%s', stop it with 'flink-go cancel -D %s=%s %s' or 'flink-go yarn kill %s'\n",
			configs.YarnApplicationID.Key(), dep.AppID, configs.YarnApplicationID.Key(), dep.AppID, jobID, dep.AppID)
		return nil
	}
	d.ClientTimeout = configs.Get(cfg, configs.ClientTimeout)
	return d.FollowApplication(ctx, dep, jobID, start, configs.Get(cfg, configs.ShutdownOnAttachedExit))
}

// deployExit maps a deployment error to the CLI's exit code: 130 when interrupted, 2 for bad
// input, 1 otherwise.
func deployExit(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return &exitError{code: 130, err: fmt.Errorf("deployment interrupted; nothing was left on the cluster: %w", err)}
	case errors.Is(err, ErrYarnQueue), errors.Is(err, ErrYarnResources), errors.Is(err, ErrNotAJob):
		return &exitError{code: 2, err: err}
	}
	return err
}

// FollowApplication follows an application cluster's job until the application ends and
// returns the job's result: nil when it SUCCEEDED, an error with the diagnostics otherwise.
// When ctx ends (Ctrl-C) the application is killed if shutdownOnExit, else left running.
func (d *YarnDeployer) FollowApplication(ctx context.Context, dep *YarnDeployment, jobID string, start time.Time, shutdownOnExit bool) error {
	var r *REST
	if dep.REST != "" {
		r = d.rest(dep.REST)
	}
	lastState, cause := "", ""
	failures := 0
	rep := dep.Report
	for !rep.State.Terminal() {
		select {
		case <-ctx.Done():
			if shutdownOnExit {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				d.cleanupFailed(cctx, dep, true, errors.New("client interrupted (execution.shutdown-on-attached-exit)"))
				return &exitError{code: 130, err: fmt.Errorf("interrupted: application %s killed", dep.AppID)}
			}
			return &exitError{code: 130, err: fmt.Errorf("interrupted: application %s keeps running (stop it with 'flink-go cancel -D %s=%s %s')",
				dep.AppID, configs.YarnApplicationID.Key(), dep.AppID, jobID)}
		case <-time.After(500 * time.Millisecond):
		}
		var err error
		rep, err = d.RM.GetApplicationReport(ctx, dep.AppID)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			if failures++; failures >= 20 {
				return fmt.Errorf("following application %s: %w", dep.AppID, err)
			}
			continue
		}
		failures = 0
		if rep.State.Terminal() {
			continue
		}
		// A new AM attempt (high availability) registers another REST endpoint: follow it.
		if addr, ok := reportREST(rep); ok && addr != dep.REST {
			if dep.REST != "" {
				fmt.Fprintf(d.Out, "JobManager of %s moved to %s (attempt %s)\n", dep.AppID, addr, rep.CurrentAttempt)
			}
			dep.REST, r = addr, d.rest(addr)
		}
		if r == nil {
			continue
		}
		j, err := r.Job(ctx, jobID)
		if err != nil {
			continue // not submitted yet, or the AM is ending
		}
		state, _ := j["state"].(string)
		if state != lastState {
			fmt.Fprintf(d.Out, "Job %s is %s (%s)\n", jobID, state, time.Since(start).Round(time.Millisecond))
			lastState = state
		}
		if state == "FAILED" && cause == "" {
			if root, err := r.Exceptions(ctx, jobID); err == nil {
				cause = root
			}
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	_ = d.removeStaging(cctx, dep.StagingPath) // the AM removes it; make sure nothing is left
	fmt.Fprintf(d.Out, "Application %s ended %s/%s after %s\n", dep.AppID, rep.State, rep.Final, time.Since(start).Round(time.Millisecond))
	switch rep.Final {
	case yarn.FinalSucceeded:
		fmt.Printf("Job %s finished\n", jobID)
		return nil
	case yarn.FinalKilled:
		return fmt.Errorf("job %s was cancelled or application %s killed%s", jobID, dep.AppID, diagSuffix(rep.Diagnostics))
	}
	if cause == "" {
		cause = strings.TrimSpace(rep.Diagnostics)
	}
	return fmt.Errorf("job %s failed (application %s %s/%s): %s (logs: yarn logs -applicationId %s)", jobID, dep.AppID, rep.State, rep.Final, cause, dep.AppID)
}

// runOnYarnSession submits a job binary to a running YARN session.
func runOnYarnSession(ctx context.Context, d *YarnDeployer, binary string, args []string, cfg *configs.Configuration, detached bool) error {
	var id yarn.ApplicationID
	fromRecord := false
	if s := configs.Get(cfg, configs.YarnApplicationID); s != "" {
		var err error
		if id, err = yarn.ParseApplicationID(s); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("%s: %w", configs.YarnApplicationID.Key(), err)}
		}
	} else {
		rec, ok, err := ReadYarnSession()
		if err != nil {
			return err
		}
		if !ok {
			return &exitError{code: 2, err: fmt.Errorf("no YARN session: start one with 'flink-go yarn-session -d', or pass -D %s=<applicationId>", configs.YarnApplicationID.Key())}
		}
		id = rec.AppID
		fromRecord = true
	}
	rest, rep, err := d.Retrieve(ctx, id)
	if err != nil {
		return staleRecord(err, id, rep, fromRecord)
	}
	jobID, err := d.SubmitToSession(ctx, id, rest, binary, args, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("Job has been submitted with JobID %s\n", jobID)
	if detached {
		return nil
	}
	return followJob(ctx, NewRESTConf(rest, cfg), jobID)
}

// followJob polls a job through REST until it ends.
func followJob(ctx context.Context, r *REST, id string) error {
	last := ""
	for {
		select {
		case <-ctx.Done():
			return &exitError{code: 130, err: fmt.Errorf("interrupted: job %s keeps running (cancel it with 'flink-go cancel %s')", id, id)}
		case <-time.After(300 * time.Millisecond):
		}
		j, err := r.Job(ctx, id)
		if err != nil {
			return err
		}
		state, _ := j["state"].(string)
		if state != last {
			fmt.Fprintf(os.Stderr, "Job %s is %s\n", id, state)
			last = state
		}
		switch state {
		case "FINISHED":
			fmt.Printf("Job %s finished\n", id)
			return nil
		case "FAILED", "CANCELED":
			cause, _ := j["failure-cause"].(string)
			if root, err := r.Exceptions(ctx, id); err == nil && root != "" {
				cause = root
			}
			return fmt.Errorf("job %s %s: %s", id, strings.ToLower(state), cause)
		}
	}
}

func runApplicationCommand() *cli.Command {
	return &cli.Command{
		Name:      "run-application",
		Usage:     "run a job binary as a YARN application cluster (as Flink's run-application)",
		ArgsUsage: "<job-binary> [job arguments...]",
		Description: `Deploys an application cluster on YARN whose ApplicationMaster is the job binary itself
   (JobManager + YARN resource driver); TaskManager containers run the same binary. The cluster
   lives as long as the job. Attached (default): follows the job and exits with its result.
   Detached (-d): prints the application id and the REST URL and returns.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Value: "yarn-application", Usage: "deployment target: yarn-application"},
			&cli.IntFlag{Name: "parallelism", Aliases: []string{"p"}, Usage: "default parallelism of the job (parallelism.default)"},
			&cli.BoolFlag{Name: "detached", Aliases: []string{"d"}, Usage: "return once the application runs"},
			&cli.StringFlag{Name: "fromSavepoint", Aliases: []string{"s"}, Usage: "restore from this savepoint or retained checkpoint (execution.state-recovery.path)"},
			&cli.BoolFlag{Name: "allowNonRestoredState", Aliases: []string{"n"}, Usage: "skip savepoint state of operators that are not in the job"},
			dynFlag, confDirFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return &exitError{code: 2, err: errors.New("run-application needs a job binary: flink-go run-application -t yarn-application [options] <job-binary> [args...]")}
			}
			if t := c.String("target"); t != string(configs.TargetYarnApplication) {
				return &exitError{code: 2, err: fmt.Errorf("run-application supports target yarn-application only, got %q", t)}
			}
			flags := map[string]string{}
			if c.IsSet("parallelism") {
				if c.Int("parallelism") <= 0 {
					return &exitError{code: 2, err: fmt.Errorf("-p must be positive, got %d", c.Int("parallelism"))}
				}
				flags["parallelism.default"] = strconv.Itoa(c.Int("parallelism"))
			}
			if s := c.String("fromSavepoint"); s != "" {
				flags["execution.state-recovery.path"] = s
			}
			if c.Bool("allowNonRestoredState") {
				flags["execution.state-recovery.ignore-unclaimed-state"] = "true"
			}
			cfg, err := loadConfig(c, flags)
			if err != nil {
				return err
			}
			binary, err := CheckBinary(c.Args().First())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return runYarn(c, string(configs.TargetYarnApplication), binary, c.Args().Slice()[1:], cfg)
		},
	}
}

// memoryFlag turns a -jm/-tm value into a memory size: a plain number is MB, as in Flink.
func memoryFlag(v string) string {
	v = strings.TrimSpace(v)
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v + "m"
	}
	return v
}

func yarnSessionCommand() *cli.Command {
	return &cli.Command{
		Name:  "yarn-session",
		Usage: "start a flink-go session cluster on YARN, or attach to one (as Flink's yarn-session.sh)",
		Description: `Starts a session cluster on YARN: the ApplicationMaster runs 'flink-go yarn-session-am' (a
   JobManager with a YARN resource driver); jobs submitted with 'flink-go run -t yarn-session' get
   TaskManager containers that run their own binary. The session is recorded in
   $FLINK_GO_HOME/yarn-session.properties, so later 'flink-go run', 'list', 'cancel', ... find it.
   Attached (default): prints status changes; 'stop' on stdin or Ctrl-C stops the session.
   Detached (-d): returns once the session runs. -id <applicationId> attaches to a running session
   (echo stop | flink-go yarn-session -id <applicationId> stops it).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "detached", Aliases: []string{"d"}, Usage: "return once the session runs"},
			&cli.StringFlag{Name: "name", Aliases: []string{"nm"}, Usage: "YARN application name (yarn.application.name)"},
			&cli.StringFlag{Name: "queue", Aliases: []string{"qu"}, Usage: "YARN queue (yarn.application.queue)"},
			&cli.StringFlag{Name: "jobManagerMemory", Aliases: []string{"jm"}, Usage: "JobManager (AM) container memory, e.g. 1024m (jobmanager.memory.process.size; a plain number is MB)"},
			&cli.StringFlag{Name: "taskManagerMemory", Aliases: []string{"tm"}, Usage: "TaskManager container memory, e.g. 2048m (taskmanager.memory.process.size; a plain number is MB)"},
			&cli.IntFlag{Name: "slots", Aliases: []string{"s"}, Usage: "slots per TaskManager (taskmanager.numberOfTaskSlots)"},
			&cli.StringFlag{Name: "applicationId", Aliases: []string{"id"}, Usage: "attach to this running session instead of starting one"},
			dynFlag, confDirFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &exitError{code: 2, err: fmt.Errorf("yarn-session takes no arguments, got %q", c.Args().Slice())}
			}
			flags := map[string]string{}
			if v := c.String("name"); v != "" {
				flags[configs.YarnApplicationName.Key()] = v
			}
			if v := c.String("queue"); v != "" {
				flags[configs.YarnQueue.Key()] = v
			}
			if v := c.String("jobManagerMemory"); v != "" {
				flags[configs.JobManagerMemory.Key()] = memoryFlag(v)
			}
			if v := c.String("taskManagerMemory"); v != "" {
				flags[configs.TaskManagerMemory.Key()] = memoryFlag(v)
			}
			if c.IsSet("slots") {
				if c.Int("slots") <= 0 {
					return &exitError{code: 2, err: fmt.Errorf("-s must be positive, got %d", c.Int("slots"))}
				}
				flags[configs.NumberOfTaskSlots.Key()] = strconv.Itoa(c.Int("slots"))
			}
			cfg, err := loadConfig(c, flags)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := ConnectYarnConf(ctx, os.Stderr, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			if s := c.String("applicationId"); s != "" {
				id, err := yarn.ParseApplicationID(s)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("-id: %w", err)}
				}
				rest, _, err := d.Retrieve(ctx, id)
				if err != nil {
					return err
				}
				if c.Bool("detached") {
					fmt.Printf("YARN session %s runs; JobManager REST API / web UI: http://%s\n", id, rest)
					return nil
				}
				return d.AttachSession(ctx, id, rest, cfg, os.Stdin)
			}
			exe, err := sessionAMBinary()
			if err != nil {
				return fmt.Errorf("finding the flink-go binary for the session AM: %w", err)
			}
			dep, err := d.Deploy(ctx, YarnDeployRequest{Mode: YarnSessionMode, FlinkGo: exe, Conf: cfg})
			if err != nil {
				return deployExit(ctx, err)
			}
			if err := WriteYarnSession(dep.AppID, nil); err != nil {
				fmt.Fprintf(os.Stderr, "Warning: %v\n", err)
			}
			fmt.Printf("YARN session %s started; JobManager REST API / web UI: http://%s (recorded in %s)\n", dep.AppID, dep.REST, YarnSessionFile())
			if c.Bool("detached") {
				fmt.Fprintf(os.Stderr, "Detached. Submit jobs with 'flink-go run <job-binary>'; stop the session with 'echo stop | flink-go yarn-session -id %s' or 'flink-go yarn kill %s'\n", dep.AppID, dep.AppID)
				return nil
			}
			return d.AttachSession(ctx, dep.AppID, dep.REST, cfg, os.Stdin)
		},
	}
}

// boolFlags are the CLI's flags that take no value (for NormalizeArgs).
var boolFlags = map[string]bool{"d": true, "detached": true, "n": true, "allowNonRestoredState": true, "a": true, "all": true,
	"r": true, "running": true, "show-secrets": true, "h": true, "help": true, "version": true, "v": true}

// NormalizeArgs rewrites Flink's "-Dkey=value" into "-D" "key=value", which the CLI's flag parser
// understands, for the flags before the first positional argument after the command (the job
// binary): a job's own arguments are never touched. Use it as App().Run(NormalizeArgs(os.Args)).
func NormalizeArgs(args []string) []string {
	out := make([]string, 0, len(args)+4)
	seenCommand := false
	takesValue := false
	for i, a := range args {
		if i == 0 {
			out = append(out, a)
			continue
		}
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case takesValue:
			takesValue = false
		case strings.HasPrefix(a, "-D") && len(a) > 2 && strings.Contains(a, "="):
			out = append(out, "-D", a[2:])
			continue
		case strings.HasPrefix(a, "-"):
			name := strings.TrimLeft(a, "-")
			takesValue = !strings.Contains(name, "=") && !boolFlags[name]
		case !seenCommand:
			seenCommand = true
		default:
			return append(out, args[i:]...) // the first positional argument: the job binary
		}
		out = append(out, a)
	}
	return out
}
