package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/bench"
)

// backendD returns the -D settings of one side of the comparison.
func backendD(o *options, backend string, checkpoints bool, dir string) []string {
	d := []string{"state.backend.type=" + backend}
	if checkpoints {
		d = append(d, "execution.checkpointing.interval="+o.ckInterval.String(), "execution.checkpointing.dir=file://"+dir)
	}
	return d
}

// checkpointRun runs query on backend through the CLI (local target, parallelism 2) with or
// without checkpoints and, while it runs, polls the JobManager's REST /jobs/:id/checkpoints
// every second; the last answer gives the checkpoint figures. extraJob are more job arguments
// (a CPU profile).
func checkpointRun(o *options, query, backend string, events int64, checkpoints bool, runIdx int, log zerolog.Logger, extraJob ...string) bench.CheckpointRun {
	r := bench.CheckpointRun{ThroughputResult: bench.ThroughputResult{Query: query, Events: events}}
	dir, err := filepath.Abs(filepath.Join(o.ckDir, fmt.Sprintf("%s-%s-%d", query, backend, runIdx)))
	if err != nil {
		r.Err = err
		return r
	}
	if checkpoints {
		if err := os.RemoveAll(dir); err != nil {
			r.Err = fmt.Errorf("emptying the checkpoint directory %s: %w", dir, err)
			return r
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.Err = fmt.Errorf("creating the checkpoint directory %s: %w", dir, err)
			return r
		}
		defer os.RemoveAll(dir)
	}
	args := []string{"run", "-t", "local", "-p", "2", "-D", "execution.buffer-timeout.interval=100ms"}
	for _, d := range backendD(o, backend, checkpoints, dir) {
		args = append(args, "-D", d)
	}
	args = append(args, o.job, "--query", query, "--events", fmt.Sprint(events), "--sink", "discard")
	args = append(args, extraJob...)
	// A run far beyond its planned length is stuck: 10x the planned runtime plus 5 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*o.ckSeconds+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.flinkGo, args...)
	cmd.Env = append(os.Environ(), "FLINK_GO_LOG_LEVEL=warn")
	out := &bench.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.Err = fmt.Errorf("starting %s: %w", o.flinkGo, err)
		return r
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var last []byte
	err = waitTicking(cmd, time.Second, func() {
		if !checkpoints {
			return
		}
		base, id := bench.ParseLocalRun(out.String())
		if base == "" || id == "" {
			return
		}
		if b, err := getBody(client, base+"/jobs/"+id+"/checkpoints"); err == nil {
			last = b
		} else {
			log.Debug().Err(err).Msg("checkpoint statistics poll")
		}
	})
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("%s %s did not finish within %s (stuck?): %s", o.flinkGo, strings.Join(args, " "), 10*o.ckSeconds+5*time.Minute, lastLines(out.String(), 5))
		return r
	}
	if err != nil {
		r.Err = fmt.Errorf("%s %s: %w: %s", o.flinkGo, strings.Join(args, " "), err, lastLines(out.String(), 5))
		return r
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if r.Runtime, r.Err = bench.ParseJobRuntime(out.String()); r.Err != nil {
		return r
	}
	if checkpoints {
		if last == nil {
			r.Err = fmt.Errorf("no checkpoint statistics were read from the JobManager's REST API during the run (REST address or job id not printed?): %s", lastLines(out.String(), 3))
			return r
		}
		if err := r.ApplyCheckpointStats(last); err != nil {
			r.Err = err
		}
	}
	return r
}

func getBody(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// checkpointCompare sizes the runs of query on backend with a calibration run without
// checkpoints, then runs without and with checkpoints alternately, --checkpoint-repeat times each.
func checkpointCompare(o *options, query, backend string, log zerolog.Logger) bench.CheckpointComparison {
	c := bench.CheckpointComparison{Query: query, Backend: backend, Interval: o.ckInterval}
	cal := checkpointRun(o, query, backend, o.calibrate, false, 0, log)
	if cal.Err != nil {
		c.Err = fmt.Errorf("calibration run: %w", cal.Err)
		return c
	}
	n := bench.SizeRun(o.calibrate, cal.Runtime, o.ckSeconds, o.calibrate, o.maxEvents)
	log.Info().Str("query", query).Str("backend", backend).Dur("calibration_runtime", cal.Runtime).Int64("events", n).Msg("checkpoint comparison")
	for i := 0; i < o.ckRepeat; i++ {
		for _, with := range []bool{false, true} {
			r := checkpointRun(o, query, backend, n, with, i+1, log)
			log.Info().Str("query", query).Str("backend", backend).Bool("checkpoints", with).Int("run", i+1).Dur("runtime", r.Runtime).
				Float64("events_per_s", r.Rate()).Int64("completed", r.Completed).Int64("failed", r.Failed).Dur("p50", r.DurationP50).
				Dur("max", r.DurationMax).Int64("state_size", r.StateSize).AnErr("error", r.Err).Msg("checkpoint run")
			if with {
				c.With = append(c.With, r)
			} else {
				c.Without = append(c.Without, r)
			}
		}
	}
	return c
}

// profileCheckpoint reruns a comparison's query with checkpoints and a CPU profile of the job
// process; it returns the top of `go tool pprof -top`.
func profileCheckpoint(o *options, c bench.CheckpointComparison, w bench.CheckpointRun, log zerolog.Logger) (string, error) {
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", o.profileDir, err)
	}
	path, err := filepath.Abs(filepath.Join(o.profileDir, c.Query+"-"+c.Backend+"-checkpoints.cpu.prof"))
	if err != nil {
		return "", err
	}
	log.Info().Str("query", c.Query).Str("backend", c.Backend).Str("profile", path).Msg("profiling with checkpoints")
	if r := checkpointRun(o, c.Query, c.Backend, w.Events, true, 99, log, "--cpuprofile", path); r.Err != nil {
		return "", r.Err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, lastLines(string(out), 3))
	}
	return trimPprof(string(out)), nil
}
