package socket

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/runtime/op"
)

// serve accepts one connection per payload and writes it, then closes the connection; the
// listener is closed after the last payload.
func serve(t *testing.T, payloads ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer ln.Close()
		for _, p := range payloads {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(p))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func drain(t *testing.T, r op.SourceReader[string]) ([]string, error) {
	t.Helper()
	out := &connectortest.Output[string]{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		st, err := r.Poll(ctx, out)
		if err != nil {
			return out.Values(), err
		}
		if st == op.End {
			return out.Values(), nil
		}
	}
	t.Fatal("reader did not end")
	return nil, nil
}

func TestSocketLinesThenEnd(t *testing.T) {
	big := strings.Repeat("x", 200_000) // longer than the read buffer
	addr := serve(t, "a\nb\r\n\n"+big+"\ntail")
	src, err := NewSource(addr)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	defer r.Close()
	got, err := drain(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "", big, "tail"}; !slices.Equal(got, want) {
		t.Fatalf("got %d records %q...", len(got), got[:min(3, len(got))])
	}
}

func TestSocketReconnects(t *testing.T) {
	addr := serve(t, "1\n2\n", "3\n")
	src, _ := NewSource(addr, Reconnect(2, 10*time.Millisecond, 20*time.Millisecond))
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	defer r.Close()
	got, err := drain(t, r)
	if !errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("error %v, want retries exhausted", err)
	}
	if !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("got %q", got)
	}
}

func TestSocketConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	src, _ := NewSource(addr)
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	defer r.Close()
	if _, err := drain(t, r); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("error %v", err)
	}
}

func TestSocketOtherSubtasksEnd(t *testing.T) {
	src, _ := NewSource("127.0.0.1:1")
	r, _ := src.CreateReader(connectortest.NewContext(1, 2))
	out := &connectortest.Output[string]{}
	st, err := r.Poll(context.Background(), out)
	if err != nil || st != op.End || out.Idle != 1 {
		t.Fatalf("status %v err %v idle %d", st, err, out.Idle)
	}
}

func TestSocketCloseStopsPromptly(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second) // silent server
		}
	}()
	src, _ := NewSource(ln.Addr().String())
	r, _ := src.CreateReader(connectortest.NewContext(0, 1))
	out := &connectortest.Output[string]{}
	start := time.Now()
	if st, _ := r.Poll(context.Background(), out); st != op.NothingAvailable {
		t.Fatalf("status %v", st)
	}
	if time.Since(start) > 200*time.Millisecond {
		t.Fatal("poll blocked too long")
	}
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Close did not return")
	}
}

func TestSocketBadConfig(t *testing.T) {
	if _, err := NewSource("nohostport"); err == nil {
		t.Fatal("bad address accepted")
	}
	if _, err := NewSource("h:1", Reconnect(3, 0, 0)); err == nil {
		t.Fatal("zero backoff accepted")
	}
}
