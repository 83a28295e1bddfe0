package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
)

// Client is the few /api calls the scenarios make.
type Client struct {
	Base  string // http://host:port
	Token string // bearer token; empty with KANADE_AUTH_DISABLE=1
	HTTP  *http.Client
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte, out any) (http.Header, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return resp.Header, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// PutJob stores a manifest (YAML or JSON).
func (c *Client) PutJob(ctx context.Context, manifest string) error {
	_, err := c.do(ctx, http.MethodPost, "/api/jobs", "application/yaml", []byte(manifest), nil)
	return err
}

// ExecResponse is POST /api/exec's answer.
type ExecResponse struct {
	ExecID      string   `json:"exec_id"`
	JobID       string   `json:"job_id"`
	Version     string   `json:"version"`
	TargetCount int      `json:"target_count"`
	Subjects    []string `json:"subjects"`
}

// Exec runs a job with a plan (JSON body of POST /api/exec/{job}).
func (c *Client) Exec(ctx context.Context, job, plan string) (ExecResponse, error) {
	var r ExecResponse
	_, err := c.do(ctx, http.MethodPost, "/api/exec/"+url.PathEscape(job), "application/json", []byte(plan), &r)
	return r, err
}

// Execution returns one executions row, found through the list endpoint
// (the single-execution endpoint also returns every per-PC row).
func (c *Client) Execution(ctx context.Context, job, execID string) (store.Execution, bool, error) {
	var rows []store.Execution
	if _, err := c.do(ctx, http.MethodGet, "/api/executions?limit=20&job_id="+url.QueryEscape(job), "", nil, &rows); err != nil {
		return store.Execution{}, false, err
	}
	for _, e := range rows {
		if e.ExecID == execID {
			return e, true, nil
		}
	}
	return store.Execution{}, false, nil
}

// WaitCompleted polls an execution until it is completed; it returns the
// row and when completion was first observed.
func (c *Client) WaitCompleted(ctx context.Context, job, execID string, every time.Duration) (store.Execution, time.Time, error) {
	for {
		e, ok, err := c.Execution(ctx, job, execID)
		now := time.Now()
		if err == nil && ok && e.Status == "completed" {
			return e, now, nil
		}
		select {
		case <-ctx.Done():
			return e, now, fmt.Errorf("execution %s not completed (last: %+v, err %v): %w", execID, e, err, ctx.Err())
		case <-time.After(every):
		}
	}
}

// Total returns X-Total-Count of a list endpoint (path with query).
func (c *Client) Total(ctx context.Context, path string) (int, error) {
	h, err := c.do(ctx, http.MethodGet, path, "", nil, nil)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(h.Get("X-Total-Count"))
}

// Get fetches path and decodes it into out (nil: discard).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, "", nil, out)
	return err
}

// Post sends an empty POST to path and decodes the answer into out.
func (c *Client) Post(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodPost, path, "", nil, out)
	return err
}

// WaitOnline waits until /api/agents?status=online counts at least n.
func (c *Client) WaitOnline(ctx context.Context, n int) error {
	for {
		got, err := c.Total(ctx, "/api/agents?status=online&limit=1")
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("online agents %d of %d (err %v): %w", got, n, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SimJob is the manifest the scenarios run (the simulated runner ignores
// the script).
func SimJob(id string) string {
	return "id: " + id + "\nversion: 1.0.0\ndescription: kanade-sim load job\nexecute:\n  shell: sh\n  script: echo sim\n  timeout: 60s\n"
}
