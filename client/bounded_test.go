package client_test

import (
	"os/exec"
	"syscall"
	"time"

	"github.com/flink-go/flink-go/bench"
)

// bounded makes a test's CLI command diagnosable when it overruns its context: every process
// below the CLI (the job binary running the embedded cluster, TaskManager processes) gets
// SIGQUIT first, so their goroutine dumps land in the captured stderr, then the CLI is killed;
// WaitDelay keeps Wait from waiting forever on pipes a stray grandchild still holds.
func bounded(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		for _, pid := range bench.Descendants(cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
		time.Sleep(2 * time.Second)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 15 * time.Second
}
