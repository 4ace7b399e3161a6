package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The helper runs in a child process (the test binary re-executed) so that the tests below can
// kill a real producer or consumer process with SIGKILL.
const helperEnv = "FLINKGO_NETWORK_HELPER"

func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("helper process for TestProcessKilled")
	}
	e, err := NewEnvironment(Config{SegmentSize: 1024, TotalBuffers: 64, BufferTimeout: time.Millisecond})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	switch {
	case role == "producer":
		rp, err := e.CreatePartition(pid("proc", 0), 1)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ADDR", e.Addr())
		w := NewRecordWriter(rp)
		for i := 0; ; i++ {
			if err := w.EmitBytes(0, record(0, i, 100)); err != nil {
				os.Exit(0)
			}
		}
	case strings.HasPrefix(role, "consumer="):
		addr := strings.TrimPrefix(role, "consumer=")
		g, err := e.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("proc", 0), Addr: addr}})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		r := NewRecordReader(g)
		if _, _, _, err := r.Next(context.Background()); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("READING")
		select {} // stop reading: the producer is backpressured until this process dies
	}
}

func startHelper(t *testing.T, role string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

func TestProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Run("producer", func(t *testing.T) {
		cmd, sc := startHelper(t, "producer")
		var addr string
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr = a
				break
			}
		}
		if addr == "" {
			t.Fatal("helper did not report its address")
		}
		cons := newTestEnv(t, testConfig())
		g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("proc", 0), Addr: addr}})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		r := NewRecordReader(g)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; i < 100; i++ {
			if _, _, _, err := r.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cmd.Process.Kill()
		start := time.Now()
		for {
			_, _, _, err := r.Next(ctx)
			if err == nil {
				continue // data already received before the kill
			}
			if errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("consumer got %v, want a connection error", err)
			}
			t.Logf("after %v: %v", time.Since(start), err)
			break
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("failure seen after %v", d)
		}
	})
	t.Run("consumer", func(t *testing.T) {
		prod := newTestEnv(t, Config{SegmentSize: 1024, TotalBuffers: 64, BufferTimeout: time.Millisecond})
		rp, err := prod.CreatePartition(pid("proc", 0), 1)
		if err != nil {
			t.Fatal(err)
		}
		w := NewRecordWriter(rp)
		done := make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				if err := w.EmitBytes(0, record(0, i, 100)); err != nil {
					done <- err
					return
				}
			}
		}()
		cmd, sc := startHelper(t, "consumer="+prod.Addr())
		for sc.Scan() && sc.Text() != "READING" {
		}
		time.Sleep(100 * time.Millisecond) // the producer is now blocked on backpressure
		select {
		case err := <-done:
			t.Fatalf("producer stopped early: %v", err)
		default:
		}
		cmd.Process.Kill()
		select {
		case err := <-done:
			t.Logf("producer error: %v", err)
		case <-time.After(3 * time.Second):
			t.Fatal("producer still blocked after its consumer process was killed")
		}
	})
}
