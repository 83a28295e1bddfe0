package apiv1_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func TestClientListAndErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/agents":
			if r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("no bearer token: %q", r.Header.Get("Authorization"))
			}
			if got := r.URL.RawQuery; got != "group=g1&limit=2&offset=2&status=online" {
				t.Errorf("query %q", got)
			}
			w.Header().Set("X-Total-Count", "7")
			_, _ = w.Write([]byte(`[{"pc_id":"a","agent_rss_bytes":5,"agent_cpu_pct":1.5}]`))
		case "/api/run":
			w.WriteHeader(http.StatusRequestTimeout)
			_, _ = w.Write([]byte(`{"error":"no result","exec_id":"e1"}`))
		case "/api/jobs":
			if ct := r.Header.Get("Content-Type"); ct != "application/yaml" {
				t.Errorf("content type %q", ct)
			}
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":"must be set","field":"execute.shell"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &apiv1.Client{Base: srv.URL + "/", Token: "tok"}
	ctx := context.Background()
	l, err := c.ListAgents(ctx, apiv1.AgentQuery{Status: apiv1.AgentOnline, Group: "g1", Page: apiv1.Page{Limit: 2, Offset: 2}})
	if err != nil || l.Total != 7 || len(l.Items) != 1 || l.Items[0].AgentRSSBytes != 5 || l.Items[0].AgentCPUPct != 1.5 {
		t.Fatalf("list: %+v, %v", l, err)
	}
	_, err = c.Run(ctx, apiv1.RunRequest{PCID: "a"})
	var ae *apiv1.Error
	if !errors.As(err, &ae) || ae.Status != 408 || ae.ExecID != "e1" || ae.Message != "no result" {
		t.Fatalf("run: %#v", err)
	}
	_, err = c.PutJob(ctx, apiv1.Source("id: x"))
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Field != "execute.shell" || apiv1.StatusOf(err) != 422 {
		t.Fatalf("put job: %#v", err)
	}
	if _, err := c.GetAgent(ctx, "nope"); apiv1.StatusOf(err) != 404 {
		t.Fatalf("get agent: %v", err)
	}
}
