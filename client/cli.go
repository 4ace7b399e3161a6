package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/emr"
	"github.com/flink-go/flink-go/yarn/yarncli"
)

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode maps an error to the CLI's exit code.
func ExitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

var confDirFlag = &cli.StringFlag{Name: "conf-dir", Usage: "configuration directory with config.yaml or flink-conf.yaml (default: $FLINK_CONF_DIR, else ./conf, else <binary dir>/../conf)"}
var dynFlag = &cli.StringSliceFlag{Name: "D", Usage: "set a configuration option: -D key=value (repeatable)"}

// App returns the CLI application.
func App() *cli.App {
	return &cli.App{
		Name:                      "flink-go",
		Usage:                     "Apache Flink's stream processing model in Go, on a local cluster, YARN and EMR",
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Flags: []cli.Flag{&cli.StringFlag{Name: "log-level", Value: "info", Usage: "root log level (trace, debug, info, warn, error) of this command and the processes it starts; overrides env.log.level and the log classifications", EnvVars: []string{"FLINK_GO_LOG_LEVEL"}},
			&cli.StringFlag{Name: "classifications", Usage: "EMR configuration classifications (file, https:// or s3:// URL), applied after the config file and before -D", EnvVars: []string{"FLINK_GO_CLASSIFICATIONS"}}},
		Before: func(c *cli.Context) error {
			// Only an explicit --log-level (or FLINK_GO_LOG_LEVEL) overrides the root level of
			// env.log.level / the log classifications, here and in the processes started.
			if c.IsSet("log-level") {
				os.Setenv(cluster.EnvLogLevel, c.String("log-level"))
			}
			return nil
		},
		Commands: append(append(addYarnTargetFlag([]*cli.Command{runCommand(), listCommand(), cancelCommand(), savepointCommand(), stopCommand(), infoCommand(), configCommand(), clusterCommand()}), yarncli.Commands()...), append(yarnCommands(), emr.Commands()...)...),
	}
}

func defaultConfDir() string {
	if st, err := os.Stat("conf"); err == nil && st.IsDir() {
		return "conf"
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Join(filepath.Dir(exe), "..", "conf")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

// loadConfig builds the effective configuration: defaults < config file < -D < flags.
func loadConfig(c *cli.Context, flagValues map[string]string) (*configs.Configuration, error) {
	dir := c.String("conf-dir")
	explicit := dir != ""
	if !explicit {
		dir = defaultConfDir()
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel)
	var overlays []configs.Overlay
	if loc := c.String("classifications"); loc != "" {
		ov, err := emr.Overlays(c.Context, loc, &log)
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("--classifications: %w", err)}
		}
		overlays = ov
	}
	cfg, err := configs.Load(configs.LoadOptions{ConfDir: dir, ConfDirOverridesEnv: explicit, Dynamic: c.StringSlice("D"), Overlays: overlays, Logger: &log})
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("configuration: %w", err)}
	}
	for k, v := range flagValues {
		if err := cfg.Set(k, v, configs.CodeOrigin("flag")); err != nil {
			return nil, &exitError{code: 2, err: err}
		}
	}
	if err := cluster.ConfigureFileSystems(cfg.Map()); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	// The configuration's logging (env.log.*): the cluster scope's keys are checked here so that
	// a bad value fails before any process starts; the CLI's own scope (session scope for
	// yarn-session) becomes the logger of this command (in c.Context). Messages of the
	// configuration loading above went to the bootstrap logger (stderr, warn).
	if _, err := cluster.LoggingFromConfig(cfg.Map(), cluster.ScopeCluster); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("logging configuration: %w", err)}
	}
	scope, file := cluster.ScopeCLI, "client.log"
	if c.Command != nil && c.Command.Name == "yarn-session" {
		scope, file = cluster.ScopeSession, "yarn-session.log"
	}
	cliLog, _, err := cluster.NewLogger(cfg.Map(), scope, file)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if c.Context == nil {
		c.Context = context.Background()
	}
	c.Context = cliLog.WithContext(c.Context)
	return cfg, nil
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a job binary (local embedded cluster, or a running session)",
		ArgsUsage: "<job-binary> [job arguments...]",
		Description: `Runs a flink-go job: a Go program built against the flink-go library (see examples/).
   Targets (-t): local (an embedded cluster in the job's own process, TaskManagers as goroutines or,
   with -D local.taskmanagers.processes=true, as processes), remote (the local session started by
   'flink-go cluster start', or -m host:port). Without -t a recorded session is used if one runs,
   else a YARN session given by -Dyarn.application.id or recorded by 'flink-go yarn-session', else
   local. YARN: yarn-application (and yarn-per-job, the same in flink-go) deploys an application
   cluster whose AM is the job binary; yarn-session submits to a running YARN session (see
   docs/yarn-client.md).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Usage: "deployment target: local, remote, yarn-application, yarn-per-job (= yarn-application), yarn-session"},
			&cli.IntFlag{Name: "parallelism", Aliases: []string{"p"}, Usage: "default parallelism of the job (parallelism.default)"},
			&cli.BoolFlag{Name: "detached", Aliases: []string{"d"}, Usage: "return after submission (remote target)"},
			&cli.StringFlag{Name: "jobmanager", Aliases: []string{"m"}, Usage: "REST address host:port of the JobManager to submit to (remote target)"},
			&cli.StringFlag{Name: "fromSavepoint", Aliases: []string{"s"}, Usage: "restore from this savepoint or retained checkpoint (execution.state-recovery.path)"},
			&cli.BoolFlag{Name: "allowNonRestoredState", Aliases: []string{"n"}, Usage: "skip savepoint state of operators that are not in the job"},
			dynFlag, confDirFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return &exitError{code: 2, err: errors.New("run needs a job binary: flink-go run [options] <job-binary> [args...]")}
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
			fetched, cleanup, err := FetchBinary(c.Context, c.Args().First())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer cleanup()
			binary, err := CheckBinary(fetched)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			args := c.Args().Slice()[1:]
			target := c.String("target")
			session, haveSession := cluster.ReadSession()
			if target == "" {
				target = "local"
				if haveSession || c.IsSet("jobmanager") {
					target = "remote"
				} else if t := defaultYarnTarget(cfg); t != "" {
					target = t
				}
			}
			switch target {
			case "local":
				// Plan first: a binary that is not a flink-go job fails here with a clear error.
				if _, err := Plan(c.Context, binary, args, cfg.Map()); err != nil {
					return err
				}
				if err := RunLocal(c.Context, binary, args, cfg.Map()); err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						return &exitError{code: ee.ExitCode(), err: fmt.Errorf("the job failed (exit status %d)", ee.ExitCode())}
					}
					return err
				}
				return nil
			case "remote":
				addr := c.String("jobmanager")
				if addr == "" {
					if !haveSession {
						return &exitError{code: 2, err: errors.New("no running session: start one with 'flink-go cluster start' or pass -m host:port")}
					}
					addr = session.REST
				}
				return submitRemote(c.Context, addr, binary, args, cfg, c.Bool("detached"))
			case "yarn-session", "yarn-per-job", "yarn-application":
				return runYarn(c, target, binary, args, cfg)
			default:
				return &exitError{code: 2, err: fmt.Errorf("unknown target %q: use local, remote, yarn-application, yarn-per-job or yarn-session", target)}
			}
		},
	}
}

func submitRemote(ctx context.Context, addr, binary string, args []string, cfg *configs.Configuration, detached bool) error {
	g, err := Plan(ctx, binary, args, cfg.Map())
	if err != nil {
		return err
	}
	data, err := proto.Marshal(g)
	if err != nil {
		return err
	}
	r := NewRESTConf(addr, cfg)
	id, err := r.Submit(ctx, data, binary)
	if err != nil {
		return err
	}
	fmt.Printf("Job has been submitted with JobID %s\n", id)
	if detached {
		return nil
	}
	return followJob(ctx, r, id)
}

// restClient returns a REST client of the JobManager restAddress finds, with the client
// settings of the command's configuration (client.timeout). The configuration is loaded once.
func restClient(c *cli.Context) (*REST, error) {
	cfg, err := loadConfig(c, nil)
	if err != nil {
		return nil, err
	}
	addr, err := restAddress(c, cfg)
	if err != nil {
		return nil, err
	}
	return NewRESTConf(addr, cfg), nil
}

// restAddress is the JobManager's REST address: -m, else the YARN session or application the
// command names, else the local session, else rest.address:rest.port.
func restAddress(c *cli.Context, cfg *configs.Configuration) (string, error) {
	if a := c.String("jobmanager"); a != "" {
		return a, nil
	}
	if a, ok, err := yarnRESTAddress(c, cfg); ok || err != nil {
		return a, err
	}
	if s, ok := cluster.ReadSession(); ok {
		return s.REST, nil
	}
	host := configs.Get(cfg, configs.RestAddress)
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s:%d", host, configs.Get(cfg, configs.RestPort)), nil
}

var jmFlag = &cli.StringFlag{Name: "jobmanager", Aliases: []string{"m"}, Usage: "REST address host:port of the JobManager (default: the local session, else rest.address:rest.port)"}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list jobs (running and scheduled by default)",
		Flags: []cli.Flag{jmFlag, confDirFlag, dynFlag,
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all jobs, finished ones included"},
			&cli.BoolFlag{Name: "running", Aliases: []string{"r"}, Usage: "show only running jobs"}},
		Action: func(c *cli.Context) error {
			rest, err := restClient(c)
			if err != nil {
				return err
			}
			jobs, err := rest.Jobs(c.Context)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB ID\tNAME\tSTATE\tSTART\tDURATION\tLAST CHECKPOINT")
			n := 0
			for _, j := range jobs {
				terminal := j.State == "FINISHED" || j.State == "FAILED" || j.State == "CANCELED"
				if (!c.Bool("all") && terminal) || (c.Bool("running") && j.State != "RUNNING") {
					continue
				}
				n++
				ckpt := "-"
				if cs, err := rest.Checkpoints(c.Context, j.ID); err == nil && cs.Latest.Completed != nil {
					l := cs.Latest.Completed
					ckpt = fmt.Sprintf("#%d %dms %s align %dms (%d ok, %d failed)", l.ID, l.EndToEndDuration, byteSize(l.StateSize),
						l.AlignmentDuration, cs.Counts.Completed, cs.Counts.Failed)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Name, j.State, time.UnixMilli(j.StartTime).Format("2006-01-02 15:04:05"),
					(time.Duration(j.Duration) * time.Millisecond).Round(time.Millisecond), ckpt)
			}
			tw.Flush()
			if n == 0 {
				fmt.Println("No jobs.")
			}
			return nil
		},
	}
}

func cancelCommand() *cli.Command {
	return &cli.Command{
		Name:      "cancel",
		Usage:     "cancel a running job",
		ArgsUsage: "<job-id>",
		Flags:     []cli.Flag{jmFlag, confDirFlag, dynFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &exitError{code: 2, err: errors.New("cancel needs exactly one job id")}
			}
			rest, err := restClient(c)
			if err != nil {
				return err
			}
			if err := rest.Cancel(c.Context, c.Args().First()); err != nil {
				return err
			}
			fmt.Printf("Cancelled job %s.\n", c.Args().First())
			return nil
		},
	}
}

func savepointCommand() *cli.Command {
	return &cli.Command{
		Name:      "savepoint",
		Usage:     "trigger a savepoint of a running job",
		ArgsUsage: "<job-id> [target-directory]",
		Flags:     []cli.Flag{jmFlag, confDirFlag, dynFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return &exitError{code: 2, err: errors.New("savepoint needs a job id and optionally a target directory")}
			}
			return savepointAction(c, c.Args().Get(0), c.Args().Get(1), false)
		},
	}
}

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop a job with a savepoint",
		ArgsUsage: "<job-id>",
		Flags: []cli.Flag{jmFlag, confDirFlag, dynFlag,
			&cli.StringFlag{Name: "savepointPath", Aliases: []string{"p", "savepoint-path"}, Usage: "target directory of the savepoint (default: execution.checkpointing.savepoint-dir)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &exitError{code: 2, err: errors.New("stop needs exactly one job id")}
			}
			return savepointAction(c, c.Args().First(), c.String("savepointPath"), true)
		},
	}
}

func savepointAction(c *cli.Context, jobID, dir string, stop bool) error {
	r, err := restClient(c)
	if err != nil {
		return err
	}
	what := "Triggering savepoint"
	if stop {
		what = "Suspending job"
	}
	fmt.Fprintf(os.Stderr, "%s %s ...\n", what, jobID)
	id, err := r.TriggerSavepoint(c.Context, jobID, dir, stop)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 15*time.Minute)
	defer cancel()
	loc, err := r.WaitSavepoint(ctx, jobID, id)
	if err != nil {
		return err
	}
	fmt.Printf("Savepoint completed. Path: %s\n", loc)
	return nil
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "print the job graph (JSON) a job binary builds, without running it",
		ArgsUsage: "<job-binary> [job arguments...]",
		Flags:     []cli.Flag{&cli.IntFlag{Name: "parallelism", Aliases: []string{"p"}}, dynFlag, confDirFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return &exitError{code: 2, err: errors.New("info needs a job binary")}
			}
			flags := map[string]string{}
			if c.IsSet("parallelism") {
				flags["parallelism.default"] = strconv.Itoa(c.Int("parallelism"))
			}
			cfg, err := loadConfig(c, flags)
			if err != nil {
				return err
			}
			binary, err := CheckBinary(c.Args().First())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			g, err := Plan(c.Context, binary, c.Args().Slice()[1:], cfg.Map())
			if err != nil {
				return err
			}
			fmt.Println(protojson.MarshalOptions{Multiline: true, Indent: "  "}.Format(g))
			return nil
		},
	}
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "print the effective configuration with the origin of every value",
		Flags: []cli.Flag{confDirFlag, dynFlag,
			&cli.BoolFlag{Name: "all", Usage: "list every known option, defaults included"},
			&cli.BoolFlag{Name: "show-secrets", Usage: "print sensitive values instead of masking them"}},
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c, nil)
			if err != nil {
				return err
			}
			return configs.Render(os.Stdout, cfg, configs.RenderOptions{All: c.Bool("all"), ShowSecrets: c.Bool("show-secrets")})
		},
	}
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "start or stop a local session cluster on this machine",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start a local session cluster in the background",
				Flags: []cli.Flag{confDirFlag, dynFlag},
				Action: func(c *cli.Context) error {
					if s, ok := cluster.ReadSession(); ok {
						return fmt.Errorf("a local session is already running (pid %d, REST http://%s): stop it with 'flink-go cluster stop'", s.PID, s.REST)
					}
					if _, err := loadConfig(c, nil); err != nil {
						return err
					}
					exe, err := os.Executable()
					if err != nil {
						return err
					}
					args := []string{"cluster", "run"}
					if d := c.String("conf-dir"); d != "" {
						args = append(args, "--conf-dir", d)
					}
					for _, d := range c.StringSlice("D") {
						args = append(args, "-D", d)
					}
					logPath := filepath.Join(filepath.Dir(cluster.SessionFile()), "local-session.log")
					if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
						return err
					}
					logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
					if err != nil {
						return err
					}
					defer logf.Close()
					cmd := exec.Command(exe, args...)
					cmd.Stdout, cmd.Stderr = logf, logf
					cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
					if err := cmd.Start(); err != nil {
						return fmt.Errorf("starting the session process: %w", err)
					}
					fmt.Fprint(os.Stderr, "Starting the local session cluster")
					deadline := time.Now().Add(20 * time.Second)
					for time.Now().Before(deadline) {
						if s, ok := cluster.ReadSession(); ok && s.PID == cmd.Process.Pid {
							fmt.Fprintln(os.Stderr)
							fmt.Printf("Local session cluster started (pid %d). REST API / web endpoints: http://%s (log: %s)\n", s.PID, s.REST, logPath)
							return nil
						}
						fmt.Fprint(os.Stderr, ".")
						time.Sleep(200 * time.Millisecond)
					}
					_ = cmd.Process.Kill()
					return fmt.Errorf("the session did not come up within 20 s; see %s", logPath)
				},
			},
			{
				Name:  "stop",
				Usage: "stop the local session cluster (cancels its jobs)",
				Action: func(c *cli.Context) error {
					s, ok := cluster.ReadSession()
					if !ok {
						return errors.New("no local session is running")
					}
					if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
						return fmt.Errorf("stopping pid %d: %w", s.PID, err)
					}
					for i := 0; i < 100; i++ {
						if syscall.Kill(s.PID, 0) != nil {
							fmt.Println("Local session cluster stopped.")
							return nil
						}
						time.Sleep(100 * time.Millisecond)
					}
					return fmt.Errorf("session process %d did not stop within 10 s", s.PID)
				},
			},
			{
				Name:   "run",
				Hidden: true,
				Usage:  "run the local session cluster in the foreground",
				Flags:  []cli.Flag{confDirFlag, dynFlag},
				Action: func(c *cli.Context) error {
					cfg, err := loadConfig(c, nil)
					if err != nil {
						return err
					}
					log, closer, err := cluster.NewLogger(cfg.Map(), cluster.ScopeCluster, "jobmanager.log")
					if err != nil {
						return &exitError{code: 2, err: err}
					}
					defer closer.Close()
					return cluster.RunSession(c.Context, cfg, log)
				},
			},
		},
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
