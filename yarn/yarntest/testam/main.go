// Command testam is a small YARN ApplicationMaster used by the yarn/yarntest end-to-end tests. It
// exercises the AM side of flink-go's YARN clients: it reads its AMRMToken from the container's
// token file, registers with the RM scheduler, asks for containers through amkit.Loop, starts them
// on the NodeManagers with their NMTokens, collects their exit statuses from allocate's completed
// statuses, and unregisters with a report in the final diagnostics.
//
// Environment (set by the submitting test):
//
//	TESTAM_SCHEDULER  RM scheduler address(es), comma-separated (required)
//	TESTAM_MODE       "exits": run one container per entry of TESTAM_EXITS, each `sh -c 'exit N'`;
//	                  "stop":  start one `sleep 600` container, stop it through the NM
//	                           (stopContainers) and report its completion status
//	TESTAM_EXITS      comma-separated exit codes for mode "exits" (default "0,3,7")
//	TESTAM_MEMORY_MB  container memory (default 128)
//
// The final diagnostics are one line of key=value pairs, e.g.
// "mode=exits exits=0,3,7 containers=3 allocated=3 released=0".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/amkit"
	"github.com/rs/zerolog"
)

func main() {
	log := zerolog.New(os.Stderr).With().Timestamp().Str("app", "testam").Logger()
	if err := run(log); err != nil {
		log.Error().Err(err).Msg("test AM failed")
		os.Exit(1)
	}
}

func run(log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	amctx, err := yarn.AMContextFromEnv()
	if err != nil {
		return err
	}
	sched, err := yarn.SchedulerAddressesFromEnv("TESTAM_SCHEDULER")
	if err != nil {
		return err
	}
	// Child containers get the AM's credentials minus the AMRMToken.
	childTokens, err := amctx.ContainerTokens()
	if err != nil {
		return err
	}
	log.Info().Str("attempt", amctx.Attempt.String()).Str("user", amctx.User).Strs("scheduler", sched).Msg("starting")

	client, err := yarn.NewAMRMClient(sched, amctx.AMRMToken, yarn.WithLogger(log))
	if err != nil {
		return err
	}
	defer client.Close()
	nm := yarn.NewNMClient(client, yarn.WithLogger(log))
	defer nm.Close()

	host := amctx.NMHost
	if host == "" {
		host, _ = os.Hostname()
	}
	if _, err := client.Register(ctx, host, 0, ""); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	mem := int64(128)
	if v, err := strconv.ParseInt(os.Getenv("TESTAM_MEMORY_MB"), 10, 64); err == nil && v > 0 {
		mem = v
	}
	key := amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: mem, VCores: 1}}

	var report string
	switch mode := os.Getenv("TESTAM_MODE"); mode {
	case "", "exits":
		report, err = runExits(ctx, log, client, nm, key, childTokens)
	case "stop":
		report, err = runStop(ctx, log, client, nm, key, childTokens)
	default:
		err = fmt.Errorf("unknown TESTAM_MODE %q", mode)
	}
	status := yarn.FinalSucceeded
	if err != nil {
		status = yarn.FinalFailed
		report = "error=" + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	if ferr := client.Finish(fctx, status, report, ""); ferr != nil {
		return errors.Join(err, fmt.Errorf("unregister: %w", ferr))
	}
	log.Info().Str("status", status.String()).Str("report", report).Msg("done")
	return err
}

func runExits(ctx context.Context, log zerolog.Logger, client *yarn.AMRMClient, nm *yarn.NMClient, key amkit.Key, tokens []byte) (string, error) {
	spec := os.Getenv("TESTAM_EXITS")
	if spec == "" {
		spec = "0,3,7"
	}
	var codes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 255 {
			return "", fmt.Errorf("TESTAM_EXITS entry %q is not an exit code 0-255", f)
		}
		codes = append(codes, n)
	}
	var mu sync.Mutex
	next := 0
	var exits []int
	launched := map[yarn.ContainerID]int{}
	released := 0
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loop, err := amkit.NewLoop(amkit.LoopConfig{
		Client: client,
		Launch: func(ctx context.Context, a amkit.Accepted) error {
			mu.Lock()
			code := codes[next%len(codes)]
			next++
			launched[a.Container.ID] = code
			mu.Unlock()
			log.Info().Str("container", a.Container.ID.String()).Str("node", a.Container.Node.String()).Int("exit", code).Msg("starting container")
			return nm.StartContainer(ctx, a.Container, yarn.ContainerLaunchContext{
				Commands: []string{fmt.Sprintf("sh -c 'exit %d' 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr", code)},
				Tokens:   tokens,
			})
		},
		OnCompleted: func(c amkit.Completion) {
			mu.Lock()
			defer mu.Unlock()
			if c.Released {
				released++
				return
			}
			exits = append(exits, int(c.ExitStatus))
			log.Info().Str("container", c.ID.String()).Int32("exit", c.ExitStatus).Str("diagnostics", c.Diagnostics).Msg("container completed")
			if len(exits) == len(codes) {
				close(done)
			}
		},
		Interval:     time.Second,
		FastInterval: 200 * time.Millisecond,
		Logger:       log,
	})
	if err != nil {
		return "", err
	}
	if err := loop.Request(key, len(codes)); err != nil {
		return "", err
	}
	errc := make(chan error, 1)
	go func() { errc <- loop.Run(ctx) }()
	select {
	case <-done:
	case err := <-errc:
		return "", fmt.Errorf("heartbeat loop ended early: %w", err)
	case <-ctx.Done():
		return "", fmt.Errorf("containers did not finish: %w", ctx.Err())
	}
	cancel()
	<-errc
	mu.Lock()
	defer mu.Unlock()
	sort.Ints(exits)
	parts := make([]string, len(exits))
	for i, e := range exits {
		parts[i] = strconv.Itoa(e)
	}
	return fmt.Sprintf("mode=exits exits=%s containers=%d released=%d", strings.Join(parts, ","), len(launched), released), nil
}

func runStop(ctx context.Context, log zerolog.Logger, client *yarn.AMRMClient, nm *yarn.NMClient, key amkit.Key, tokens []byte) (string, error) {
	started := make(chan yarn.Container, 1)
	completed := make(chan amkit.Completion, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loop, err := amkit.NewLoop(amkit.LoopConfig{
		Client: client,
		Launch: func(ctx context.Context, a amkit.Accepted) error {
			err := nm.StartContainer(ctx, a.Container, yarn.ContainerLaunchContext{Commands: []string{"sleep 600"}, Tokens: tokens})
			if err == nil {
				started <- a.Container
			}
			return err
		},
		OnCompleted: func(c amkit.Completion) {
			if c.Released {
				select {
				case completed <- c:
				default:
				}
			}
		},
		Interval:     time.Second,
		FastInterval: 200 * time.Millisecond,
		Logger:       log,
	})
	if err != nil {
		return "", err
	}
	if err := loop.Request(key, 1); err != nil {
		return "", err
	}
	errc := make(chan error, 1)
	go func() { errc <- loop.Run(ctx) }()
	var ct yarn.Container
	select {
	case ct = <-started:
	case err := <-errc:
		return "", fmt.Errorf("heartbeat loop ended early: %w", err)
	case <-ctx.Done():
		return "", fmt.Errorf("container did not start: %w", ctx.Err())
	}
	// Wait until the NM reports it running, then stop it.
	var before yarn.ContainerState
	for i := 0; i < 100; i++ {
		sts, failed, err := nm.GetContainerStatuses(ctx, ct.Node, ct.ID)
		if err != nil {
			return "", fmt.Errorf("getContainerStatuses: %w", err)
		}
		if e := failed[ct.ID]; e != nil {
			return "", fmt.Errorf("getContainerStatuses: %w", e)
		}
		if len(sts) == 1 {
			before = sts[0].State
			if before == yarn.ContainerRunning {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	loop.Stopped(ct.ID)
	failed, err := nm.StopContainers(ctx, ct.Node, ct.ID)
	if err != nil {
		return "", fmt.Errorf("stopContainers: %w", err)
	}
	if e := failed[ct.ID]; e != nil {
		return "", fmt.Errorf("stopContainers: %w", e)
	}
	log.Info().Str("container", ct.ID.String()).Msg("stopped container through the NM")
	var c amkit.Completion
	select {
	case c = <-completed:
	case err := <-errc:
		return "", fmt.Errorf("heartbeat loop ended early: %w", err)
	case <-ctx.Done():
		return "", fmt.Errorf("no completion for the stopped container: %w", ctx.Err())
	}
	cancel()
	<-errc
	return fmt.Sprintf("mode=stop container=%s before=%s exit=%d", ct.ID, before, c.ExitStatus), nil
}
