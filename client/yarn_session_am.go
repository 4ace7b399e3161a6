package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/flink-go/flink-go/am"
	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
)

// stopMarkerName is the file a client creates in a session's staging directory to stop the
// session gracefully (the session AM watches for it; see docs/yarn-deployment.md).
const stopMarkerName = "stop-session"

// yarnSessionAMCommand is the hidden command a YARN session's AM container runs: a JobManager
// with the YARN driver (am.RunSession) until it is stopped by SIGTERM, the RM, or the stop
// marker the client writes into the staging directory.
func yarnSessionAMCommand() *cli.Command {
	return &cli.Command{
		Name:   YarnSessionAMCommand,
		Hidden: true,
		Usage:  "run a YARN session's ApplicationMaster (started by 'flink-go yarn-session' inside YARN)",
		Action: func(c *cli.Context) error {
			conf := configs.New().WithLogger(cluster.Logger())
			if err := conf.SetAll(cluster.LaunchConfig(), configs.CodeOrigin(cluster.EnvJobConfig)); err != nil {
				return fmt.Errorf("session configuration from %s: %w", cluster.EnvJobConfig, err)
			}
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if staging := os.Getenv(EnvYarnStagingDir); staging != "" {
				go watchStopMarker(ctx, cancel, staging, time.Second)
			}
			return am.RunSession(ctx, conf)
		},
	}
}

// watchStopMarker calls stop once <staging>/stop-session exists.
func watchStopMarker(ctx context.Context, stop context.CancelFunc, staging string, every time.Duration) {
	log := cluster.Logger().With().Str("component", "yarn-session-am").Logger()
	fsys, dir, err := fs.Get(ctx, staging)
	if err != nil {
		log.Warn().Err(err).Str("staging", staging).Msg("cannot watch the staging directory for a stop request; stop the session with 'yarn kill'")
		return
	}
	marker := path.Join(dir, stopMarkerName)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := fsys.Stat(ctx, marker); err == nil {
			log.Info().Str("marker", marker).Msg("stop requested by the client")
			stop()
			return
		} else if !errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil {
			log.Debug().Err(err).Msg("checking for a stop request")
		}
	}
}
