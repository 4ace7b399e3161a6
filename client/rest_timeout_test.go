package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flink-go/flink-go/configs"
)

// Every REST call of the CLI is bounded by client.timeout: a JobManager that does not answer
// makes the call fail after that time, not hang.
func TestRESTClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := configs.New()
	if err := cfg.Set("client.timeout", "300ms", configs.CodeOrigin("test")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := NewRESTConf(srv.URL, cfg).Jobs(context.Background())
	took := time.Since(start)
	if err == nil {
		t.Fatal("a JobManager that never answers: no error")
	}
	if took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("the call ended after %s, want about client.timeout (300ms): %v", took, err)
	}
	if d := NewREST(srv.URL).HTTP.Timeout; d != time.Minute {
		t.Fatalf("default per-call timeout %s, want client.timeout's default 1m", d)
	}
}
