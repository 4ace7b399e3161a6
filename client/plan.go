package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/runtime/jobgraph"
)

// ErrNotAJob is returned when a binary does not build a flink-go job graph.
var ErrNotAJob = errors.New("not a flink-go job")

// CheckBinary verifies that path names an executable file.
func CheckBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("job binary %s does not exist (build the examples with 'make build')", path)
		}
		return "", fmt.Errorf("job binary %s: %w", path, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("job binary %s is a directory, not an executable", path)
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("job binary %s is not executable (chmod +x?)", path)
	}
	return abs, nil
}

// Plan runs the job binary in the plan role and returns its job graph. The binary's own output
// (e.g. argument errors) is passed through to stderr.
func Plan(ctx context.Context, binary string, args []string, conf map[string]string) (*jobgraph.JobGraph, error) {
	dir, err := os.MkdirTemp("", "flink-go-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	planFile := filepath.Join(dir, "jobgraph.pb")
	cfgJSON, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), cluster.EnvRole+"="+cluster.RolePlan, cluster.EnvPlanFile+"="+planFile, cluster.EnvJobConfig+"="+string(cfgJSON))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stdout = os.Stderr
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	data, readErr := os.ReadFile(planFile)
	if readErr != nil {
		os.Stderr.Write(stderr.Bytes())
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s did not build a job graph within 60 s", ErrNotAJob, binary)
		}
		if runErr != nil {
			return nil, fmt.Errorf("%s exited (%v) without building a job graph: bad job arguments, or %w (a flink-go job calls stream.Environment.Execute)", binary, runErr, ErrNotAJob)
		}
		return nil, fmt.Errorf("%w: %s exited without building a job graph (a flink-go job calls stream.Environment.Execute)", ErrNotAJob, binary)
	}
	g := &jobgraph.JobGraph{}
	if err := proto.Unmarshal(data, g); err != nil {
		return nil, fmt.Errorf("%w: %s wrote a malformed job graph: %v", ErrNotAJob, binary, err)
	}
	return g, nil
}

// RunLocal runs the job binary on its embedded local cluster (role local), passing the
// configuration, and returns its exit error.
func RunLocal(ctx context.Context, binary string, args []string, conf map[string]string) error {
	cfgJSON, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), cluster.EnvRole+"="+cluster.RoleLocal, cluster.EnvJobConfig+"="+string(cfgJSON))
	// The job's embedded cluster must not outlive the CLI (killed client, timed-out test).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
