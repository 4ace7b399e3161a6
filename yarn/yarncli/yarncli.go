// Package yarncli holds the `flink-go yarn ...` commands: inspect and manage a YARN cluster
// through ApplicationClientProtocol (apps, nodes, kill, metrics), with table output shaped like
// `yarn application -list` and `yarn node -list`.
package yarncli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// Commands returns the `yarn` command with its subcommands; the caller mounts it under its app.
func Commands() []*cli.Command {
	return commands(nil)
}

// commands builds the command tree; opts are passed to the RM client (tests inject dialers).
func commands(opts []yarn.Option) []*cli.Command {
	// The common flags are accepted before and after the subcommand name.
	common := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{
			&cli.StringFlag{Name: "conf-dir", Usage: "Hadoop configuration directory with yarn-site.xml/core-site.xml (default: $YARN_CONF_DIR, $HADOOP_CONF_DIR, $HADOOP_HOME/etc/hadoop)", EnvVars: []string{"FLINK_GO_HADOOP_CONF_DIR"}},
			&cli.StringFlag{Name: "rm", Usage: "ResourceManager client address host:port (overrides yarn.resourcemanager.address)"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up after this long"},
		}, extra...)
	}
	return []*cli.Command{{
		Name:  "yarn",
		Usage: "inspect and manage the YARN cluster (applications, nodes, metrics)",
		Flags: common(),
		Subcommands: []*cli.Command{
			{
				Name:  "apps",
				Usage: "list applications (default: SUBMITTED, ACCEPTED and RUNNING ones)",
				Flags: common(
					&cli.StringSliceFlag{Name: "state", Usage: "application state to list (repeatable): NEW, NEW_SAVING, SUBMITTED, ACCEPTED, RUNNING, FINISHED, FAILED, KILLED or ALL"},
					&cli.StringSliceFlag{Name: "type", Usage: "application type to list (repeatable)"},
					&cli.StringSliceFlag{Name: "tag", Usage: "application tag to list (repeatable)"},
					&cli.StringFlag{Name: "queue", Usage: "only applications in this queue"},
				),
				Action: func(c *cli.Context) error { return withRM(c, opts, appsAction) },
			},
			{
				Name:  "nodes",
				Usage: "list NodeManagers (default: RUNNING ones)",
				Flags: common(&cli.BoolFlag{Name: "all", Usage: "list nodes in every state"}),
				Action: func(c *cli.Context) error {
					return withRM(c, opts, nodesAction)
				},
			},
			{
				Name:      "kill",
				Usage:     "kill an application",
				ArgsUsage: "<applicationId>",
				Flags:     common(),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("usage: flink-go yarn kill <applicationId>")
					}
					if _, err := yarn.ParseApplicationID(c.Args().First()); err != nil {
						return err
					}
					return withRM(c, opts, killAction)
				},
			},
			{
				Name:   "metrics",
				Usage:  "show cluster metrics (NodeManager counts)",
				Flags:  common(),
				Action: func(c *cli.Context) error { return withRM(c, opts, metricsAction) },
			},
		},
	}}
}

// lookupFlag finds a flag value set on this command or any parent (the common flags live on `yarn`).
func lookupString(c *cli.Context, name string) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return ctx.String(name)
		}
	}
	for _, ctx := range c.Lineage() {
		if v := ctx.String(name); v != "" {
			return v
		}
	}
	return ""
}

func lookupDuration(c *cli.Context, name string) time.Duration {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return ctx.Duration(name)
		}
	}
	for _, ctx := range c.Lineage() {
		if v := ctx.Duration(name); v > 0 {
			return v
		}
	}
	return 30 * time.Second
}

// resolveConfig builds the client configuration from --conf-dir/--rm or the environment.
func resolveConfig(c *cli.Context) (yarn.Config, error) {
	dir, rm := lookupString(c, "conf-dir"), lookupString(c, "rm")
	var cfg yarn.Config
	switch {
	case dir != "":
		hc, err := yarn.LoadHadoopConf(dir)
		if err != nil {
			return cfg, fmt.Errorf("--conf-dir %s: %w", dir, err)
		}
		if cfg, err = yarn.ConfigFromHadoop(hc); err != nil {
			return cfg, err
		}
	default:
		var err error
		cfg, err = yarn.LoadConfig()
		if err != nil && (rm == "" || !errors.Is(err, yarn.ErrNoConfig)) {
			return cfg, err
		}
		if err != nil {
			cfg = yarn.Config{User: yarn.UserFromEnv()}
		}
	}
	if rm != "" {
		cfg.RMAddresses = []string{rm}
	}
	return cfg, nil
}

func withRM(c *cli.Context, opts []yarn.Option, action func(*cli.Context, context.Context, *yarn.ClientRM) error) error {
	cfg, err := resolveConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, lookupDuration(c, "timeout"))
	defer cancel()
	o := append([]yarn.Option{yarn.WithLogger(zerolog.Ctx(c.Context).With().Logger())}, opts...)
	rm, err := yarn.NewClientRM(ctx, cfg, o...)
	if err != nil {
		return err
	}
	defer rm.Close()
	return action(c, ctx, rm)
}

var defaultListStates = []yarn.ApplicationState{yarn.StateSubmitted, yarn.StateAccepted, yarn.StateRunning}

func appsAction(c *cli.Context, ctx context.Context, rm *yarn.ClientRM) error {
	f := yarn.AppFilter{Types: c.StringSlice("type"), Tags: c.StringSlice("tag")}
	if q := c.String("queue"); q != "" {
		f.Queues = []string{q}
	}
	all := false
	for _, s := range c.StringSlice("state") {
		for _, part := range strings.Split(s, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "ALL") {
				all = true
				continue
			}
			st, err := yarn.ParseApplicationState(part)
			if err != nil {
				return err
			}
			f.States = append(f.States, st)
		}
	}
	if all {
		f.States = nil
	} else if len(f.States) == 0 {
		f.States = defaultListStates
	}
	apps, err := rm.GetApplications(ctx, f)
	if err != nil {
		return err
	}
	return writeApps(c.App.Writer, f, apps)
}

func writeApps(w io.Writer, f yarn.AppFilter, apps []yarn.ApplicationReport) error {
	states := make([]string, 0, len(f.States))
	for _, s := range f.States {
		states = append(states, s.String())
	}
	fmt.Fprintf(w, "Total number of applications (application-types: [%s], states: [%s] and tags: [%s]):%d\n",
		strings.Join(f.Types, ", "), strings.Join(states, ", "), strings.Join(f.Tags, ", "), len(apps))
	tw := tabwriter.NewWriter(w, 4, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Application-Id\tApplication-Name\tApplication-Type\tUser\tQueue\tState\tFinal-State\tProgress\tTracking-URL")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\n",
			a.ID, orNA(a.Name), orNA(a.Type), orNA(a.User), orNA(a.Queue), a.State, a.Final, a.Progress*100, orNA(a.TrackingURL))
	}
	return tw.Flush()
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}

func nodesAction(c *cli.Context, ctx context.Context, rm *yarn.ClientRM) error {
	var states []yarn.NodeState
	if c.Bool("all") {
		states = []yarn.NodeState{yarn.NodeNew, yarn.NodeRunning, yarn.NodeUnhealthy, yarn.NodeDecommissioned,
			yarn.NodeLost, yarn.NodeRebooted, yarn.NodeDecommissioning, yarn.NodeShutdown}
	}
	nodes, err := rm.GetClusterNodes(ctx, states...)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Total Nodes:%d\n", len(nodes))
	tw := tabwriter.NewWriter(w, 4, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Node-Id\tNode-State\tNode-Http-Address\tNumber-of-Running-Containers\tUsed\tCapability")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, n.State, orNA(n.HTTPAddress), n.NumContainers, n.Used, n.Capability)
	}
	return tw.Flush()
}

func killAction(c *cli.Context, ctx context.Context, rm *yarn.ClientRM) error {
	id, _ := yarn.ParseApplicationID(c.Args().First())
	w := c.App.Writer
	r, err := rm.GetApplicationReport(ctx, id)
	if err != nil {
		return err
	}
	if r.State.Terminal() {
		fmt.Fprintf(w, "Application %s has already finished (state %s)\n", id, r.State)
		return nil
	}
	fmt.Fprintf(w, "Killing application %s\n", id)
	if err := rm.KillApplication(ctx, id, "killed by flink-go yarn kill"); err != nil {
		return err
	}
	fmt.Fprintf(w, "Killed application %s\n", id)
	return nil
}

func metricsAction(c *cli.Context, ctx context.Context, rm *yarn.ClientRM) error {
	m, err := rm.GetClusterMetrics(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 4, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NodeManagers\tActive\tLost\tUnhealthy\tDecommissioned\tRebooted")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\n", m.NodeManagers, m.Active, m.Lost, m.Unhealthy, m.Decommissioned, m.Rebooted)
	return tw.Flush()
}
