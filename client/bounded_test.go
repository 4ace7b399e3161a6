package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bounded makes a test's CLI command diagnosable when it overruns its context: the CLI's child
// processes (the job binary running the embedded cluster) get SIGQUIT first, so their goroutine
// dumps land in the captured stderr, then the CLI is killed; WaitDelay keeps Run from waiting
// forever on pipes a stray grandchild still holds.
func bounded(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		for _, pid := range childPIDs(cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
		time.Sleep(2 * time.Second)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 15 * time.Second
}

// childPIDs lists the direct children of pid, read from /proc/*/stat.
func childPIDs(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces, so parse after the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
