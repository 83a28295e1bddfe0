package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestChecksAndAlerts (SPEC §15, issue 18): a check job on three real
// agents, one failing, with flap_threshold 2: the second failure (not the
// first) opens one alert and one outbox row, an ack sticks, a pass
// resolves it; an agent that stops opens exactly one agent-offline alert
// although two replicas run the detector; a wipe and replay rebuilds
// check_status, alerts (with the ack) and alert_transitions exactly.
func TestChecksAndAlerts(t *testing.T) {
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) {
		c.DataDir, c.NATSAddr, c.OfflineAlertAfter = dir, natsAddr, 4*time.Second
	}
	b := testenv.Backend(t, cfg)
	replica := testenv.Backend(t, func(c *server.Config) {
		c.NATSURL, c.DataDir, c.NATSAddr, c.DB, c.OfflineAlertAfter = b.NATSURL(), b.Cfg.DataDir, "", b.Cfg.DB, 4*time.Second
	})
	s := open(b)
	must(t, s.do(t, "PUT", "/api/config", map[string]any{"heartbeat_interval": "1s"}), 200)
	flags := t.TempDir()
	failing := filepath.Join(flags, "pc-c.fail")
	if err := os.WriteFile(failing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": "disk", "version": "1",
		"execute": map[string]any{"shell": "sh", "script": "test -e '" + flags + "'/\"$KANADE_PC_ID\".fail && { echo FULL; exit 1; }; echo OK", "timeout": "30s"},
		"check":   map[string]any{"pass": map[string]any{"exit_code": 0}, "severity": "critical", "flap_threshold": 2}}), 201)
	// Hostile manifests: a pattern that does not compile, one too long.
	for _, re := range []string{"(unclosed", strings.Repeat("a", 2000)} {
		r := s.do(t, "POST", "/api/jobs", map[string]any{"id": "bad", "version": "1",
			"execute": map[string]any{"shell": "sh", "script": "echo", "timeout": "30s"},
			"check":   map[string]any{"pass": map[string]any{"stdout_matches": re}}})
		if r.status != 422 || !strings.Contains(string(r.body), `"field":"check.pass.stdout_matches"`) {
			t.Errorf("pattern %.20q: %d %s", re, r.status, r.body)
		}
	}
	runAgents(t, s, t.TempDir(), false, map[string][]string{"pc-a": nil, "pc-c": nil})
	stopB, _ := runAgents(t, s, t.TempDir(), false, map[string][]string{"pc-b": nil})
	testenv.Eventually(t, 30*time.Second, "three agents online", func() bool {
		pcs, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(pcs) == 3
	})
	run := func() {
		t.Helper()
		var r apiv1.ExecResponse
		must(t, s.do(t, "POST", "/api/exec/disk", map[string]any{"target": map[string]any{"all": true}}), 200).json(t, &r)
		testenv.Eventually(t, 30*time.Second, "the check run completed", func() bool {
			var e apiv1.Execution
			s.do(t, "GET", "/api/executions/"+r.ExecID, nil).json(t, &e)
			return e.Status == apiv1.ExecCompleted
		})
		waitIdle(t, b)
	}
	states := func() string {
		var rows []apiv1.CheckStatus
		must(t, s.do(t, "GET", "/api/check-status?check_id=disk", nil), 200).json(t, &rows)
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s=%s/%d", r.PCID, r.State, r.Consecutive))
		}
		return strings.Join(out, " ")
	}
	alerts := func(q string) []apiv1.Alert {
		var rows []apiv1.Alert
		must(t, s.do(t, "GET", "/api/alerts?"+q, nil), 200).json(t, &rows)
		return rows
	}
	outbox := func() []store.AlertTransition {
		ts, err := b.DB.AlertTransitionsSince(context.Background(), "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	run()
	if got := states(); got != "pc-a=passing/0 pc-b=passing/0 pc-c=unknown/1" {
		t.Fatalf("after one failure: %s", got)
	}
	if a := alerts("kind=check"); len(a) != 0 {
		t.Fatalf("an alert on the first failure: %+v", a)
	}
	run()
	if got := states(); got != "pc-a=passing/0 pc-b=passing/0 pc-c=failing/2" {
		t.Fatalf("after two failures: %s", got)
	}
	var checks []apiv1.CheckSummary
	must(t, s.do(t, "GET", "/api/checks", nil), 200).json(t, &checks)
	if len(checks) != 1 || checks[0].Passing != 2 || checks[0].Failing != 1 || checks[0].CompliancePct != 66.7 || checks[0].Severity != "critical" {
		t.Fatalf("checks %+v", checks)
	}
	opened := alerts("state=open&kind=check")
	if len(opened) != 1 || opened[0].PCID != "pc-c" || opened[0].CheckID != "disk" || opened[0].Severity != "critical" {
		t.Fatalf("open alerts %+v", opened)
	}
	if ts := outbox(); len(ts) != 1 || ts[0].Transition != "opened" || ts[0].AlertID != opened[0].ID || ts[0].Key != opened[0].ID+":opened" {
		t.Fatalf("outbox %+v", ts)
	}
	// Ack: twice is harmless; an unknown id is a 404.
	for range 2 {
		var a apiv1.Alert
		must(t, s.do(t, "POST", "/api/alerts/"+opened[0].ID+"/ack", nil), 200).json(t, &a)
		if a.AckedBy == nil || a.AckedAt == nil || a.State != "open" {
			t.Fatalf("ack: %+v", a)
		}
	}
	must(t, s.do(t, "POST", "/api/alerts/nope/ack", nil), 404)
	run() // still failing: no second alert
	if err := os.Remove(failing); err != nil {
		t.Fatal(err)
	}
	run()
	if got := states(); got != "pc-a=passing/0 pc-b=passing/0 pc-c=passing/0" {
		t.Fatalf("after a pass: %s", got)
	}
	if a := alerts("kind=check"); len(a) != 1 || a[0].State != "resolved" || a[0].AckedBy == nil {
		t.Fatalf("after a pass: %+v", a)
	}
	if ts := outbox(); len(ts) != 2 || ts[1].Transition != "resolved" {
		t.Fatalf("outbox %+v", ts)
	}

	// pc-b stops: one agent-offline alert, whichever replica leads.
	stopB()
	testenv.Eventually(t, 30*time.Second, "an agent-offline alert for pc-b", func() bool {
		a := alerts("kind=agent-offline&state=open")
		return len(a) == 1 && a[0].PCID == "pc-b"
	})
	time.Sleep(3 * time.Second) // several detector rounds on both replicas: still one
	if a := alerts("kind=agent-offline"); len(a) != 1 || a[0].Severity != "warning" || a[0].CheckID != "" {
		t.Fatalf("offline alerts %+v", a)
	}
	if ts := outbox(); len(ts) != 3 || ts[2].Kind != apiv1.AlertKindOffline || ts[2].PCID != "pc-b" {
		t.Fatalf("outbox %+v", ts)
	}
	if a := alerts("kind=agent-offline&pc_id=pc-a"); len(a) != 0 {
		t.Fatalf("a beating agent has an offline alert: %+v", a)
	}

	// Wipe and replay.
	waitIdle(t, b)
	snapshot := func(s *secured, b *server.Server) string {
		var out []string
		for _, p := range []string{"/api/checks", "/api/check-status", "/api/alerts?limit=1000"} {
			out = append(out, string(must(t, s.do(t, "GET", p, nil), 200).body))
		}
		ts, err := b.DB.AlertTransitionsSince(context.Background(), "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, "\n") + fmt.Sprint("\n", ts)
	}
	before := snapshot(s, b)
	replica.Stop(context.Background())
	b.Stop(context.Background())
	testenv.WipeDB(t, dir)
	b2 := testenv.Backend(t, cfg)
	s2 := open(b2)
	var after string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		waitIdle(t, b2)
		if after = snapshot(s2, b2); after == before {
			break
		}
	}
	if after != before {
		t.Errorf("after the rebuild:\n%s\nbefore:\n%s", after, before)
	}

	// Deleting pc-b resolves its offline alert (through stream ALERTS) and
	// drops its check state: a forgotten PC neither alerts nor counts.
	must(t, s2.do(t, "DELETE", "/api/agents/pc-b", nil), 204)
	testenv.Eventually(t, 15*time.Second, "pc-b's offline alert resolved", func() bool {
		var a []apiv1.Alert
		must(t, s2.do(t, "GET", "/api/alerts?kind=agent-offline&pc_id=pc-b", nil), 200).json(t, &a)
		return len(a) == 1 && a[0].State == "resolved"
	})
	var cs []apiv1.CheckStatus
	must(t, s2.do(t, "GET", "/api/check-status?check_id=disk", nil), 200).json(t, &cs)
	for _, r := range cs {
		if r.PCID == "pc-b" {
			t.Fatalf("pc-b's check state after delete: %+v", r)
		}
	}
}

// TestAlertAckRoles: a viewer cannot ack (403); an operator can, and an
// unknown alert is a 404.
func TestAlertAckRoles(t *testing.T) {
	s := startSecured(t, nil)
	if r := s.call(t, auth.RoleViewer, http.MethodPost, "/api/alerts/x/ack", nil); r.status != http.StatusForbidden {
		t.Fatalf("viewer ack: %d %s", r.status, r.body)
	}
	if r := s.call(t, auth.RoleOperator, http.MethodPost, "/api/alerts/x/ack", nil); r.status != http.StatusNotFound {
		t.Fatalf("operator ack of an unknown alert: %d %s", r.status, r.body)
	}
	must(t, s.call(t, auth.RoleViewer, http.MethodGet, "/api/alerts?state=open", nil), 200)
	if r := s.call(t, auth.RoleViewer, http.MethodGet, "/api/alerts?state=bogus", nil); r.status/100 != 4 {
		t.Fatalf("bad state: %d", r.status)
	}
}
