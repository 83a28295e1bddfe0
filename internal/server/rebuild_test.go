package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// open is an unauthenticated API caller for a testenv backend.
func open(b *server.Server) *secured {
	return &secured{b: b, client: &http.Client{Timeout: 30 * time.Second}}
}

func (s *secured) do(t *testing.T, method, path string, body any) reply {
	t.Helper()
	return s.callToken(t, "", method, path, body)
}

// runAgents starts real agents with their data under root (groups set
// through the API first when setGroups) until the test ends or stop is
// called.
func runAgents(t *testing.T, s *secured, root string, setGroups bool, members map[string][]string) (stop func(), agents []*agent.Agent) {
	t.Helper()
	var stops []func()
	for pc, groups := range members {
		if setGroups {
			must(t, s.do(t, "PUT", "/api/agents/"+pc+"/groups", map[string]any{"groups": groups}), 200)
		}
		a, err := agent.New(agent.Options{PCID: pc, NATSURL: s.b.NATSURL(), DataDir: filepath.Join(root, pc),
			Logger: testenv.Logger(), Version: "test", Facts: rebuildFacts(pc)})
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		stops = append(stops, func() { cancel(); <-done })
		testenv.Eventually(t, 30*time.Second, pc+" with its groups", func() bool { return slices.Equal(a.Groups(), groups) })
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			for _, f := range stops {
				f()
			}
		}
	}
	t.Cleanup(stop)
	return stop, agents
}

// factsGen is the generation of the facts rebuildFacts reports: bumping
// it changes one fact of every PC.
var factsGen atomic.Int32

// rebuildFacts are fixed facts (the real collector's free space and users
// move on their own), whose os_version is the current factsGen.
func rebuildFacts(pc string) func(context.Context) wire.Facts {
	return func(context.Context) wire.Facts {
		return wire.Facts{Hostname: "host-" + pc, OSFamily: "linux", OSVersion: fmt.Sprintf("gen-%d", factsGen.Load()),
			Arch: "amd64", CPUCores: 2, MemoryBytes: 1 << 30, Disks: []wire.Disk{{Mount: "/", FS: "ext4", SizeBytes: 1 << 30, FreeBytes: 1 << 29}},
			Interfaces: []wire.Interface{{Name: "eth0", IPs: []string{"10.0.0.1/24"}}}, AgentVersion: "test"}
	}
}

// TestWipeAndRebuild (SPEC §11, issue 14): executions of every kind —
// waves with one sent later and one cancelled, an ad-hoc run, a per_pc
// schedule's fire, skipped and failed results — then the backend stops,
// backend.db* is deleted, and the restarted backend answers every list
// endpoint exactly as before, from the streams alone.
func TestWipeAndRebuild(t *testing.T) {
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) {
		c.DataDir, c.NATSAddr = dir, natsAddr
		c.WavePoll = 50 * time.Millisecond
		c.Scheduler = scheduler.Options{PerPCEvery: 200 * time.Millisecond}
	}
	b := testenv.Backend(t, cfg)
	s := open(b)
	must(t, s.do(t, "PUT", "/api/config", map[string]any{"heartbeat_interval": "1s"}), 200)
	agents := t.TempDir()
	fleet := map[string][]string{"pc-a": {"g1"}, "pc-b": {"g1"}, "pc-c": {"g2"}}
	factsGen.Store(1)
	stopAgents, running := runAgents(t, s, agents, true, fleet)
	testenv.Eventually(t, 30*time.Second, "three agents online", func() bool {
		pcs, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(pcs) == 3
	})
	job := func(id, script string) {
		must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": id, "version": "1.0.0",
			"execute": map[string]any{"shell": "sh", "script": script, "timeout": "30s"}}), 201)
	}
	job("ok", "echo ok")
	job("bad", "echo no >&2; exit 3")
	job("slow", "echo slow")
	exec := func(jobID string, plan any) apiv1.ExecResponse {
		var r apiv1.ExecResponse
		must(t, s.do(t, "POST", "/api/exec/"+jobID, plan), 200).json(t, &r)
		return r
	}
	var ids []string
	ids = append(ids, exec("ok", map[string]any{"target": map[string]any{"all": true}}).ExecID)
	ids = append(ids, exec("bad", map[string]any{"target": map[string]any{"pcs": []string{"pc-a", "pc-c"}}}).ExecID)
	// Skipped: the deadline passes before any agent could start it.
	past := time.Now().Add(-time.Minute).UTC()
	ids = append(ids, exec("ok", map[string]any{"target": map[string]any{"groups": []string{"g2"}}, "deadline_at": past}).ExecID)
	// Waves: g2 later (sent by the dispatcher), and one wave cancelled.
	ids = append(ids, exec("ok", map[string]any{"rollout": map[string]any{"waves": []any{
		map[string]any{"group": "g1"}, map[string]any{"group": "g2", "delay": "300ms"}}}}).ExecID)
	cancelled := exec("slow", map[string]any{"rollout": map[string]any{"waves": []any{
		map[string]any{"group": "g2"}, map[string]any{"group": "g1", "delay": "1h"}}}})
	ids = append(ids, cancelled.ExecID)
	must(t, s.do(t, "POST", "/api/jobs/slow/kill", nil), 200)
	// Ad-hoc run.
	var run apiv1.ExecResult
	must(t, s.do(t, "POST", "/api/run", map[string]any{"pc_id": "pc-b", "shell": "sh", "script": "echo adhoc"}), 200).json(t, &run)
	ids = append(ids, run.ExecID)
	// A per_pc schedule: fires once for each PC of g2, then never again
	// (count_manual: false, or the execs above would already count).
	must(t, s.do(t, "POST", "/api/schedules", map[string]any{"id": "once-g2", "job_id": "ok", "tz": "utc", "count_manual": false,
		"target": map[string]any{"groups": []string{"g2"}}, "when": map[string]any{"per_pc": "once"}}), 201)

	settled := func() bool {
		var execs []apiv1.Execution
		r := s.do(t, "GET", "/api/executions?limit=1000", nil)
		if r.status != 200 {
			return false
		}
		r.json(t, &execs)
		fired := false
		for _, e := range execs {
			if e.Status != apiv1.ExecCompleted {
				return false
			}
			fired = fired || e.InitiatedBy == scheduler.Actor
		}
		return fired && len(execs) == len(ids)+1
	}
	testenv.Eventually(t, 60*time.Second, "every execution completed and the schedule fired", settled)
	// Inventory (SPEC §14): every PC's facts, then one changed fact each.
	testenv.Eventually(t, 30*time.Second, "facts of three PCs", func() bool {
		return s.do(t, "GET", "/api/inventory/facts", nil).hdr.Get("X-Total-Count") == "3"
	})
	factsGen.Store(2)
	for _, a := range running {
		a.ReportInventory()
	}
	testenv.Eventually(t, 30*time.Second, "three facts changes", func() bool {
		return s.do(t, "GET", "/api/inventory/history?table=facts", nil).hdr.Get("X-Total-Count") == "3"
	})
	// A notification channel and a delivered test notification: the
	// delivery log is rebuilt from NOTIFY_LOG, and nothing is sent again.
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts.Add(1) }))
	defer hook.Close()
	must(t, s.do(t, "POST", "/api/notification-channels", apiv1.NotificationChannelInput{ID: "ops", Name: "Ops", Type: "webhook",
		URL: hook.URL, Secret: "s"}), 201)
	must(t, s.do(t, "POST", "/api/notification-channels/ops/test", nil), 202)
	testenv.Eventually(t, 30*time.Second, "the test notification delivered", func() bool {
		return s.do(t, "GET", "/api/notifications?status=delivered", nil).hdr.Get("X-Total-Count") == "1"
	})
	// Agents stop: nothing changes the lists from here (heartbeat fields
	// are compared without their times).
	stopAgents()
	waitIdle(t, b)
	before := snapshotAPI(t, s)
	if !strings.Contains(before["GET /api/inventory/history"], `"old":"gen-1","new":"gen-2"`) {
		t.Fatalf("no facts history:\n%s", before["GET /api/inventory/history"])
	}
	for _, want := range []string{`"skipped_count":1`, `"failure_count":2`, `"pending_waves":0`, `"job_id":"adhoc"`,
		`"initiated_by":"scheduler"`, `"action":"exec.wave"`, `"subjects_sent":2`} {
		if !strings.Contains(before["GET /api/executions"]+before["GET /api/audit"], want) {
			t.Fatalf("the scenario did not produce %s:\n%s", want, before["GET /api/executions"])
		}
	}
	var dispatches []string
	testenv.Eventually(t, 30*time.Second, "the schedule's dispatch settled", func() bool {
		dispatches = dispatchRows(t, b)
		return len(dispatches) == 1 && strings.HasSuffix(dispatches[0], " 1")
	})

	b.Stop(context.Background())
	files, _ := filepath.Glob(filepath.Join(dir, "backend.db*"))
	if len(files) == 0 && !strings.Contains(os.Getenv("KANADE_TEST_DB"), "postgres") {
		t.Fatal("no backend.db* to delete")
	}
	testenv.WipeDB(t, dir)
	b2 := testenv.Backend(t, cfg)
	s2 := open(b2)
	// The same agents come back (their ledgers remember what they ran).
	_, _ = runAgents(t, s2, agents, false, fleet)
	awaitSameAPI(t, b2, s2, before, "rebuild")
	// The scheduler settles the restored rows from the replayed results.
	var rows []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rows = dispatchRows(t, b2); slices.Equal(rows, dispatches) {
			break
		}
	}
	if !slices.Equal(rows, dispatches) {
		t.Errorf("schedule dispatch rows after the rebuild:\n%v\nwant\n%v", rows, dispatches)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("the webhook got %d POSTs across the rebuild, want 1", n)
	}
}

// waitIdle waits until no projector has anything left to project.
func waitIdle(t *testing.T, b *server.Server) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "projectors idle", func() bool {
		for _, c := range [][2]string{{"EVENTS", "backend_events_projector"}, {"RESULTS", "backend_results_projector"},
			{"AUDIT", "backend_audit_projector"}, {"EXECS", "backend_execs_projector"},
			{"INVENTORY", "backend_inventory_projector"}, {"ALERTS", "backend_alerts_projector"}, {"NOTIFY_LOG", "backend_notify_log_projector"}} {
			cons, err := b.JS.Consumer(context.Background(), c[0], c[1])
			if err != nil {
				return false
			}
			info, err := cons.Info(context.Background())
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		return true
	})
}

// snapshotAPI answers every GET list endpoint of the contract (and each
// execution's and schedule's detail), with the heartbeat-driven fields of
// agents blanked: live agents heartbeat on, before and after.
func snapshotAPI(t *testing.T, s *secured) map[string]string {
	t.Helper()
	out := map[string]string{}
	get := func(path string) string {
		r := s.do(t, "GET", path, nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		return strings.TrimSpace(string(r.body))
	}
	for _, e := range apiv1.Endpoints {
		if e.Method != "GET" || strings.Contains(e.Path, "{") || (!e.List && e.Name != "ListGroups" && e.Name != "ListAgentVersions") {
			continue
		}
		path := e.Path
		if e.List {
			path += "?limit=1000"
		}
		body := get(path)
		switch e.Name {
		case "ListAgents":
			body = blank(t, body, "last_heartbeat", "agent_rss_bytes", "agent_cpu_pct", "running", "online")
		case "ListInventoryFacts":
			// The agents report again when they reconnect: the same
			// facts (no history), collected anew.
			body = blank(t, body, "collected_at")
		case "ListSchedules":
			body = blank(t, body, "next_fire") // computed from the clock, not stored
		}
		out["GET "+e.Path] = body
	}
	var execs []apiv1.Execution
	_ = json.Unmarshal([]byte(out["GET /api/executions"]), &execs)
	for _, e := range execs {
		out["GET /api/executions/"+e.ExecID] = get("/api/executions/" + e.ExecID)
	}
	out["GET /api/schedules/once-g2"] = blank(t, "["+get("/api/schedules/once-g2")+"]", "next_fire")
	return out
}

// blank drops fields from every object of a JSON array.
func blank(t *testing.T, body string, fields ...string) string {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	for _, r := range rows {
		for _, k := range fields {
			delete(r, k)
		}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func dispatchRows(t *testing.T, b *server.Server) []string {
	t.Helper()
	rows := store.TestQuery(t, b.DB, `SELECT schedule_id || ' ' || pc_id || ' ' || exec_id || ' ' || dispatched_at || ' ' ||
		COALESCE(finished_at, '-') || ' ' || CAST(success AS TEXT) FROM schedule_dispatches ORDER BY 1`)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// awaitSameAPI waits (30 s at most) until every GET list endpoint of b
// answers as in before, then reports each one that still differs.
func awaitSameAPI(t *testing.T, b *server.Server, s *secured, before map[string]string, after string) {
	t.Helper()
	var now map[string]string
	same := func() bool {
		for k, v := range before {
			if now[k] != v {
				return false
			}
		}
		return len(now) == len(before)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		waitIdle(t, b)
		if now = snapshotAPI(t, s); same() {
			break
		}
	}
	for k, v := range before {
		if now[k] != v {
			t.Errorf("%s differs after the %s:\nbefore %s\nafter  %s", k, after, v, now[k])
		}
	}
}
