package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func get(t *testing.T, url string, out any) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode, resp.Header
}

func seed(t *testing.T, b *server.Server) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	hbs := []store.Heartbeat{}
	for i := 0; i < 5; i++ {
		recv := now
		if i >= 3 {
			recv = now.Add(-10 * time.Minute) // offline
		}
		hbs = append(hbs, store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: fmt.Sprintf("pc-%d", i), Hostname: fmt.Sprintf("HOST-%d", i),
			OSFamily: "linux", AgentVersion: "1.0"}, ReceivedAt: recv})
	}
	if err := b.DB.UpsertHeartbeats(ctx, hbs); err != nil {
		t.Fatal(err)
	}
	// Group membership lives in KV agent_groups and is mirrored into SQL.
	kv, err := b.JS.KeyValue(ctx, bus.KVAgentGroups)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "pc-1", []byte(`{"groups":["lab","canary"]}`)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "groups mirrored", func() bool {
		g, _ := b.DB.ListGroups(ctx)
		return len(g) == 2
	})
	if err := b.DB.CreateExecution(ctx, apiv1.Execution{ExecID: "e1", JobID: "job1", Version: "1", InitiatedBy: "alice", TargetCount: 2}); err != nil {
		t.Fatal(err)
	}
	var rs []store.Result
	for i, code := range []int{0, 2} {
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r%d", i), RequestID: "q", ExecID: "e1",
			PCID: fmt.Sprintf("pc-%d", i), ManifestID: "job1", Version: "1", ExitCode: code, Stdout: "out", Stderr: "err",
			StartedAt: now, FinishedAt: now}, RecordedAt: now})
	}
	if _, err := b.DB.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
}

func TestReadAPI(t *testing.T) {
	b := testenv.Backend(t, nil)
	seed(t, b)
	u := b.HTTPURL()

	var agents []apiv1.Agent
	code, h := get(t, u+"/api/agents?limit=2", &agents)
	if code != 200 || h.Get("X-Total-Count") != "5" || len(agents) != 2 || agents[0].PCID != "pc-0" {
		t.Fatalf("agents page: %d %s %+v", code, h.Get("X-Total-Count"), agents)
	}
	_, h = get(t, u+"/api/agents?status=online", &agents)
	if h.Get("X-Total-Count") != "3" || !agents[0].Online {
		t.Fatalf("online filter: %s %+v", h.Get("X-Total-Count"), agents)
	}
	_, h = get(t, u+"/api/agents?status=offline", &agents)
	if h.Get("X-Total-Count") != "2" || agents[0].Online {
		t.Fatalf("offline filter: %s", h.Get("X-Total-Count"))
	}
	get(t, u+"/api/agents?q=host-1", &agents)
	if len(agents) != 1 || agents[0].PCID != "pc-1" || strings.Join(agents[0].Groups, ",") != "canary,lab" {
		t.Fatalf("q filter (case-insensitive, hostname): %+v", agents)
	}
	get(t, u+"/api/agents?sort=hostname&order=desc&limit=1", &agents)
	if agents[0].PCID != "pc-4" {
		t.Fatalf("sort desc: %+v", agents)
	}
	var one apiv1.Agent
	if code, _ := get(t, u+"/api/agents/pc-1", &one); code != 200 || one.Hostname != "HOST-1" {
		t.Fatalf("agent detail: %d %+v", code, one)
	}
	var errBody map[string]string
	if code, _ := get(t, u+"/api/agents/nope", &errBody); code != 404 || errBody["error"] == "" {
		t.Fatalf("unknown agent: %d %v", code, errBody)
	}
	if code, _ := get(t, u+"/api/agents?status=sideways", &errBody); code != 400 || errBody["field"] != "status" {
		t.Fatalf("bad status: %d %v", code, errBody)
	}
	if code, _ := get(t, u+"/api/results?limit=-1", &errBody); code != 400 || errBody["field"] != "limit" {
		t.Fatalf("bad limit: %d %v", code, errBody)
	}

	var groups []apiv1.GroupMembers
	get(t, u+"/api/groups", &groups)
	if len(groups) != 2 || groups[0].Group != "canary" || groups[0].Members[0] != "pc-1" {
		t.Fatalf("groups: %+v", groups)
	}

	var execs []apiv1.Execution
	_, h = get(t, u+"/api/executions?job_id=job1", &execs)
	if h.Get("X-Total-Count") != "1" || execs[0].Status != "completed" || execs[0].SuccessCount != 1 || execs[0].FailureCount != 1 {
		t.Fatalf("executions: %+v", execs)
	}
	var detail apiv1.ExecutionDetail
	get(t, u+"/api/executions/e1", &detail)
	if detail.InitiatedBy != "alice" || len(detail.Results) != 2 {
		t.Fatalf("execution detail: %+v", detail)
	}

	var results []apiv1.Result
	_, h = get(t, u+"/api/results?status=failure", &results)
	if h.Get("X-Total-Count") != "1" || results[0].ResultID != "r1" || results[0].Stdout != nil {
		t.Fatalf("failure filter (and no output in lists): %+v", results)
	}
	_, h = get(t, u+"/api/results?pc_id=pc-0&since=1h", &results)
	if h.Get("X-Total-Count") != "1" {
		t.Fatalf("pc+since filter: %s", h.Get("X-Total-Count"))
	}
	var r apiv1.Result
	get(t, u+"/api/results/r1", &r)
	if r.Stdout == nil || *r.Stdout != "out" || r.ExitCode == nil || *r.ExitCode != 2 || r.RecordedAt.IsZero() {
		t.Fatalf("result detail: %+v", r)
	}

	var fleet map[string]any
	if code, _ := get(t, u+"/api/health/fleet", &fleet); code != 200 || fleet["agents_online"].(float64) != 3 ||
		fleet["agents_known"].(float64) != 5 || fleet["failures_24h"].(float64) != 1 {
		t.Fatalf("fleet: %d %v", code, fleet)
	}
	resp, err := http.Get(u + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if !strings.Contains(sb.String(), `kanade_http_request_seconds_count{code="200",route="GET /api/agents"}`) {
		t.Fatalf("metrics lack HTTP latency:\n%s", sb.String())
	}
}
