package testbed

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// leakedGoroutines returns the stacks of goroutines that run flink-go code (other than this
// check and the test runner) — after a package's tests every client must have been closed.
func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/flink-go/flink-go/") {
			continue
		}
		if strings.Contains(g, "testbed.leakedGoroutines") || strings.Contains(g, "testing.(*M)") || strings.Contains(g, "testbed.Main") {
			continue
		}
		out = append(out, g)
	}
	return out
}

// checkLeaks waits up to 5 s for the package's goroutines to end and reports those that do not.
func checkLeaks() bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "testbed: %d goroutine(s) of flink-go code still running after the tests (a client not closed?):\n\n%s\n",
				len(leaked), strings.Join(leaked, "\n\n"))
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
