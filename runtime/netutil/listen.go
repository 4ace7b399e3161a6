// Package netutil binds server sockets the way Flink's port options describe them: a port, a
// range ("50100-50200") or a list of both ("50100,50102-50104"), the first free one used.
package netutil

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// maxPorts bounds how many ports a specification may name (a typo such as "1-65535" is fine,
// "0-99999999" is not).
const maxPorts = 65536

// ParsePorts parses a port specification: comma-separated ports and inclusive ranges
// ("50100-50200"). "0" means any free port. An empty specification is an error.
func ParsePorts(spec string) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty port specification")
	}
	var ports []int
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parsePort(lo, spec)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = parsePort(hi, spec); err != nil {
				return nil, err
			}
			if last < first {
				return nil, fmt.Errorf("port range %q in %q: the end is below the start", part, spec)
			}
			if first == 0 {
				return nil, fmt.Errorf("port range %q in %q: 0 (any free port) cannot start a range", part, spec)
			}
		}
		if len(ports)+last-first+1 > maxPorts {
			return nil, fmt.Errorf("port specification %q names more than %d ports", spec, maxPorts)
		}
		for p := first; p <= last; p++ {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func parsePort(s, spec string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("port %q in %q: want a number from 0 to 65535 (or a range such as 50100-50200)", s, spec)
	}
	return p, nil
}

// Listen listens on TCP at host and the first free port of spec (see ParsePorts). Ports in use
// are skipped; when all are, the error names the specification.
func Listen(host, spec string) (net.Listener, error) {
	ports, err := ParsePorts(spec)
	if err != nil {
		return nil, err
	}
	var last error
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("no free port in %q on %s (all in use; widen the range or use 0 for any free port): %w", spec, host, last)
}

// ListenAddr is Listen for "host:spec", e.g. "0.0.0.0:50100-50200" or "127.0.0.1:0".
func ListenAddr(addr string) (net.Listener, error) {
	host, spec, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	return Listen(host, spec)
}
