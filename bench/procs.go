package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procRoot is /proc (replaceable in tests).
var procRoot = "/proc"

// ParseStatusKB returns the value in bytes of a "Name:   N kB" line of /proc/<pid>/status.
func ParseStatusKB(status []byte, name string) (int64, bool) {
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte(name+":"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			v <<= 10
		}
		return v, true
	}
	return 0, false
}

// ReadRSS returns the current (VmRSS) and peak (VmHWM) resident set size of pid in bytes.
func ReadRSS(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the status of process %d (exited?): %w", pid, err)
	}
	rss, _ = ParseStatusKB(b, "VmRSS")
	hwm, _ = ParseStatusKB(b, "VmHWM")
	return rss, hwm, nil
}

// parentOf parses the parent pid from /proc/<pid>/stat ("pid (comm) state ppid ...", where comm
// may hold spaces and parentheses).
func parentOf(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	p, err := strconv.Atoi(f[1])
	return p, err == nil
}

// Descendants returns the pids of all live descendants of root.
func Descendants(root int) []int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if pp, ok := parentOf(stat); ok {
			children[pp] = append(children[pp], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// IsTaskManager reports whether pid is a flink-go TaskManager process (started with
// FLINK_GO_ROLE=taskmanager).
func IsTaskManager(pid int) bool {
	env, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "environ"))
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if string(kv) == "FLINK_GO_ROLE=taskmanager" {
			return true
		}
	}
	return false
}

// RSSSampler samples the TaskManager processes under a root process.
type RSSSampler struct {
	Root    int
	Peak    map[int]int64
	Samples int
}

// Sample reads the memory of every TaskManager descendant of Root once.
func (s *RSSSampler) Sample() {
	if s.Peak == nil {
		s.Peak = map[int]int64{}
	}
	seen := false
	for _, pid := range Descendants(s.Root) {
		if !IsTaskManager(pid) {
			continue
		}
		rss, hwm, err := ReadRSS(pid)
		if err != nil {
			continue
		}
		s.Peak[pid] = max(s.Peak[pid], rss, hwm)
		seen = true
	}
	if seen {
		s.Samples++
	}
}

// CurrentMachine describes this machine: CPU count and model, load, Go version; commit and
// date are filled in by the caller.
func CurrentMachine() Machine {
	m := Machine{Date: time.Now(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Model: "unknown"}
	if b, err := os.ReadFile(filepath.Join(procRoot, "cpuinfo")); err == nil {
		m.Model = cpuModel(b)
	}
	if b, err := os.ReadFile(filepath.Join(procRoot, "loadavg")); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

func cpuModel(cpuinfo []byte) string {
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// LockedBuffer collects a child process's output while another goroutine reads it (progress
// polls, failure messages while the process still runs).
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
