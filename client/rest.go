// Package client holds the CLI's actions: planning a job binary, running it on the embedded
// local cluster or submitting it to a session, and talking to a JobManager's REST API.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flink-go/flink-go/configs"
)

// REST is a client of a JobManager's REST API (Flink's v1 endpoints).
type REST struct {
	Base string // e.g. "http://127.0.0.1:8081"
	HTTP *http.Client
}

// NewREST returns a client for address ("host:port" or a URL); each call times out after
// client.timeout's default (1 minute).
func NewREST(address string) *REST {
	return NewRESTTimeout(address, configs.ClientTimeout.Default())
}

// NewRESTTimeout is NewREST whose calls each time out after timeout (client.timeout).
func NewRESTTimeout(address string, timeout time.Duration) *REST {
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	return &REST{Base: strings.TrimRight(address, "/"), HTTP: &http.Client{Timeout: timeout}}
}

// NewRESTConf is NewREST with the client settings of conf (client.timeout per call).
func NewRESTConf(address string, conf *configs.Configuration) *REST {
	return NewRESTTimeout(address, configs.Get(conf, configs.ClientTimeout))
}

// ErrUnreachable wraps connection failures to the JobManager.
var ErrUnreachable = errors.New("JobManager unreachable")

func (r *REST) do(ctx context.Context, method, path string, body io.Reader, ctype string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.Base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v (is a cluster running? start one with 'flink-go cluster start', or pass -m host:port)", ErrUnreachable, r.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("reading the response of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Errors []string }
		if json.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
			return fmt.Errorf("%s %s: %s", method, path, strings.Join(e.Errors, "; "))
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding the response of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// JobOverview is one entry of /jobs/overview.
type JobOverview struct {
	ID        string         `json:"jid"`
	Name      string         `json:"name"`
	State     string         `json:"state"`
	StartTime int64          `json:"start-time"`
	EndTime   int64          `json:"end-time"`
	Duration  int64          `json:"duration"`
	Tasks     map[string]int `json:"tasks"`
}

// Jobs lists the cluster's jobs.
func (r *REST) Jobs(ctx context.Context) ([]JobOverview, error) {
	var out struct{ Jobs []JobOverview }
	err := r.do(ctx, "GET", "/jobs/overview", nil, "", &out)
	return out.Jobs, err
}

// Job returns one job's details as the raw JSON map plus its state.
func (r *REST) Job(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	err := r.do(ctx, "GET", "/jobs/"+url.PathEscape(id), nil, "", &out)
	return out, err
}

// Cancel cancels a job.
func (r *REST) Cancel(ctx context.Context, id string) error {
	return r.do(ctx, "PATCH", "/jobs/"+url.PathEscape(id)+"?mode=cancel", nil, "", nil)
}

// Submit submits a serialized job graph; artifact is the job binary's path on the cluster host.
func (r *REST) Submit(ctx context.Context, graph []byte, artifact string) (string, error) {
	var out struct {
		JobID string `json:"jobid"`
	}
	err := r.do(ctx, "POST", "/jobs?artifact="+url.QueryEscape(artifact), bytes.NewReader(graph), "application/x-protobuf", &out)
	return out.JobID, err
}

// Overview returns /overview.
func (r *REST) Overview(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	err := r.do(ctx, "GET", "/overview", nil, "", &out)
	return out, err
}

// Exceptions returns the root exception of a job ("" if none).
func (r *REST) Exceptions(ctx context.Context, id string) (string, error) {
	var out struct {
		Root string `json:"root-exception"`
	}
	err := r.do(ctx, "GET", "/jobs/"+url.PathEscape(id)+"/exceptions", nil, "", &out)
	return out.Root, err
}

// TriggerSavepoint starts a savepoint (stop: stop the job after it) and returns the request id.
func (r *REST) TriggerSavepoint(ctx context.Context, jobID, dir string, stop bool) (string, error) {
	var out struct {
		RequestID string `json:"request-id"`
	}
	path, body := "/jobs/"+url.PathEscape(jobID)+"/savepoints", map[string]any{"target-directory": dir, "cancel-job": false}
	if stop {
		path, body = "/jobs/"+url.PathEscape(jobID)+"/stop", map[string]any{"targetDirectory": dir, "drain": false}
	}
	data, _ := json.Marshal(body)
	err := r.do(ctx, "POST", path, bytes.NewReader(data), "application/json", &out)
	return out.RequestID, err
}

// WaitSavepoint polls a savepoint request until it completed and returns its location.
func (r *REST) WaitSavepoint(ctx context.Context, jobID, requestID string) (string, error) {
	for {
		var out struct {
			Status struct {
				ID string `json:"id"`
			} `json:"status"`
			Operation struct {
				Location     string `json:"location"`
				FailureCause struct {
					StackTrace string `json:"stack-trace"`
				} `json:"failure-cause"`
			} `json:"operation"`
		}
		if err := r.do(ctx, "GET", "/jobs/"+url.PathEscape(jobID)+"/savepoints/"+url.PathEscape(requestID), nil, "", &out); err != nil {
			return "", err
		}
		if out.Status.ID == "COMPLETED" {
			if out.Operation.Location == "" {
				return "", fmt.Errorf("savepoint failed: %s", out.Operation.FailureCause.StackTrace)
			}
			return out.Operation.Location, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CheckpointSummary is the part of /jobs/:id/checkpoints that `flink-go list` shows.
type CheckpointSummary struct {
	Counts struct {
		Completed int64 `json:"completed"`
		Failed    int64 `json:"failed"`
	} `json:"counts"`
	Latest struct {
		Completed *struct {
			ID                int64 `json:"id"`
			StateSize         int64 `json:"state_size"`
			EndToEndDuration  int64 `json:"end_to_end_duration"`
			AlignmentDuration int64 `json:"alignment_duration"`
		} `json:"completed"`
	} `json:"latest"`
}

// Checkpoints returns a job's checkpoint statistics.
func (r *REST) Checkpoints(ctx context.Context, id string) (*CheckpointSummary, error) {
	var out CheckpointSummary
	err := r.do(ctx, "GET", "/jobs/"+url.PathEscape(id)+"/checkpoints", nil, "", &out)
	return &out, err
}
