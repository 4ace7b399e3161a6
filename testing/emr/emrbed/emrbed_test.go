package emrbed

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestStartResetStop(t *testing.T) {
	if !Available() {
		Require(t) // skips or fails with the install hint
	}
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %s is not on loopback", s.Endpoint())
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	env := s.Env()
	if env["AWS_ENDPOINT_URL_EMR"] != s.Endpoint() || env["AWS_EC2_METADATA_DISABLED"] != "true" {
		t.Fatalf("env %v", env)
	}
	s.Stop()
	s.Stop() // idempotent
	if resp, err := http.Get(s.Endpoint() + "/moto-api/data.json"); err == nil {
		resp.Body.Close()
		t.Fatal("the server still answers after Stop")
	}
}

func TestRequireShares(t *testing.T) {
	a := Require(t)
	b := Require(t)
	if a != b {
		t.Fatal("Require started a second server")
	}
}
