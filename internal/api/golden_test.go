package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// responsesGolden holds the exact bytes a real backend answers to a fixed
// script of requests, one block per request, with only what varies from run
// to run masked (times, tokens, generated ids, broker byte counts). It pins
// the wire format itself — key order, omitempty, null versus [] — which
// tests that decode into structs cannot see, so a refactor of the response
// types that changes one byte of any answer fails here.
const responsesGolden = "testdata/responses.golden"

// goldenStep is one request of the script.
type goldenStep struct {
	method, path, ctype, body string
	role                      auth.Role // caller; RolePublic = no token
}

func TestResponsesGolden(t *testing.T) {
	const secret = "golden-secret-golden-secret-golden-secret"
	b := testenv.Backend(t, func(c *server.Config) {
		c.Auth = auth.Config{JWTSecret: []byte(secret), BootstrapAdminPassword: "correct horse battery admin"}
		c.WavePoll = 50 * time.Millisecond
		c.RunGrace = 300 * time.Millisecond
	})
	ctx := context.Background()
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
		name := "golden-" + r.String()
		if _, err := b.Auth.Users().Create(ctx, auth.NewUser{Username: name, Password: "correct horse battery " + name, Role: r}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		tok, _, err := b.Auth.IssueToken(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = tok
	}
	goldenSeed(t, b)

	const (
		v  = auth.RoleViewer
		op = auth.RoleOperator
		ad = auth.RoleAdmin
		pu = auth.RolePublic
	)
	job := "id: golden\nversion: \"1.2.0\"\ndescription: golden job\ntags: [a, b]\nexecute:\n  shell: sh\n  script: echo hi\n  timeout: 60s\n"
	sched := "id: nightly\njob_id: golden\ntz: UTC\nwhen: {calendar: {at: \"03:00\", days: [mon, tue]}}\nrollout: {waves: [{group: lab}, {group: canary, delay: 1h}]}\njitter: 5m\n"
	perPC := "id: patrol\njob_id: golden\nenabled: false\nwhen: {per_pc: {every: 6h}}\ntarget: {pcs: [pc-0]}\n"
	steps := []goldenStep{
		{"GET", "/api/version", "", "", pu},
		{"POST", "/api/auth/login", "", `{"username":"golden-viewer","password":"correct horse battery golden-viewer"}`, pu},
		{"POST", "/api/auth/login", "", `{"username":"golden-viewer","password":"wrong"}`, pu},
		{"POST", "/api/auth/login", "", `{"username":"golden-viewer","password":"x","extra":1}`, pu},
		{"GET", "/api/auth/me", "", "", v},
		{"POST", "/api/auth/change-password", "", `{"old_password":"a","new_password":"b","x":1}`, v},
		{"GET", "/api/accounts?limit=2", "", "", ad},
		{"GET", "/api/accounts/golden-operator", "", "", ad},
		{"POST", "/api/accounts", "", `{"username":"golden-new","password":"correct horse battery new","role":"operator"}`, ad},
		{"POST", "/api/accounts", "", `{"username":"golden-bad","password":"correct horse battery new","role":"root"}`, ad},
		{"PATCH", "/api/accounts/golden-new", "", `{"disabled":true}`, ad},
		{"PUT", "/api/accounts/golden-new", "", `{"must_change_pw":false}`, ad},
		{"GET", "/api/accounts/nobody", "", "", ad},
		{"GET", "/api/auth/mfa/policy", "", "", v},
		{"PUT", "/api/auth/mfa/policy", "", `{}`, ad},
		{"POST", "/api/auth/mfa", "", `{"mfa_token":"x.y.z","code":"123456"}`, pu},
		{"POST", "/api/auth/mfa", "", `{"code":"123456"}`, pu},
		{"POST", "/api/auth/mfa/confirm", "", `{"code":"123456"}`, v},
		{"DELETE", "/api/auth/mfa", "", `{"code":"123456"}`, v},
		{"DELETE", "/api/accounts/nobody/mfa", "", "", ad},

		{"GET", "/api/agents", "", "", v},
		{"GET", "/api/agents?status=online&sort=hostname&order=desc&limit=2", "", "", v},
		{"GET", "/api/agents?status=bogus", "", "", v},
		{"GET", "/api/agents?update_state=failed", "", "", v},
		{"GET", "/api/agents?update_state=bogus", "", "", v},
		{"GET", "/api/agents?version=1.0&quarantined=1.1", "", "", v},
		{"GET", "/api/agents/versions", "", "", v},
		{"GET", "/api/agents/pc-1", "", "", v},
		{"GET", "/api/agents/nope", "", "", v},
		{"GET", "/api/groups", "", "", v},
		{"GET", "/api/agents/pc-1/groups", "", "", v},
		{"PUT", "/api/agents/pc-2/groups", "", `{"groups":["lab"]}`, op},
		{"PUT", "/api/agents/pc-2/groups", "", `{}`, op},
		{"PUT", "/api/agents/pc-2/groups", "", `{"groups":null}`, op},
		{"PUT", "/api/agents/pc-3/groups", "", `{"groups":[]}`, op},
		{"PUT", "/api/agents/pc-2/groups", "", `{"groups":["bad.name"]}`, op},
		{"POST", "/api/agents/pc-2/groups", "", `{"group":"canary"}`, op},
		{"POST", "/api/agents/pc-2/groups", "", `{"group":"x","more":1}`, op},
		{"DELETE", "/api/agents/pc-2/groups/canary", "", "", op},

		{"GET", "/api/executions", "", "", v},
		{"GET", "/api/executions?status=completed", "", "", v},
		{"GET", "/api/executions/e1", "", "", v},
		{"GET", "/api/executions/none", "", "", v},
		{"GET", "/api/executions/e1/summary", "", "", v},
		{"GET", "/api/executions/none/summary", "", "", v},
		{"GET", "/api/executions/e1/summary?limit=0", "", "", v},
		{"GET", "/api/results", "", "", v},
		{"GET", "/api/results?status=failure", "", "", v},
		{"GET", "/api/results/r0", "", "", v},
		{"GET", "/api/results?since=yesterday", "", "", v},
		{"GET", "/api/audit?actor=golden-seed", "", "", v},
		{"GET", "/api/audit?actor=golden-seed&action=job.create&limit=1", "", "", v},
		{"GET", "/api/checks/job1/trend?days=3", "", "", v},
		{"GET", "/api/checks/job1/trend?days=0", "", "", v},
		{"GET", "/api/checks/nope/trend", "", "", v},
		{"GET", "/api/inventory/facts?pc_id=pc-1", "", "", v},
		{"GET", "/api/inventory/facts?q=nomatch", "", "", v},
		{"GET", "/api/inventory/history?pc_id=pc-1&table=facts&since=24h", "", "", v},
		{"GET", "/api/inventory/history?since=yesterday", "", "", v},

		{"POST", "/api/jobs", "text/yaml", job, op},
		{"GET", "/api/jobs", "", "", v},
		{"GET", "/api/jobs/golden", "", "", v},
		{"GET", "/api/jobs/missing", "", "", v},
		{"POST", "/api/jobs", "", `{"id":"bad"}`, op},
		{"POST", "/api/scripts/golden/revoke", "", "", op},
		{"POST", "/api/scripts/golden/unrevoke", "", "", op},
		{"POST", "/api/jobs/golden/kill", "", "", op},
		{"POST", "/api/exec/golden", "", `{"target":{"pcs":["pc-3"]},"jitter":"1s"}`, op},
		{"POST", "/api/exec/golden", "", `{"target":{}}`, op},
		{"POST", "/api/exec/golden", "", `{"target":{"all":true},"surprise":1}`, op},
		{"POST", "/api/run", "", `{"pc_id":"pc-4","shell":"sh","script":"true","timeout_secs":1}`, op},
		{"POST", "/api/run", "", `{"pc_id":"pc-4","shell":"sh","script":"true","timeout":1}`, op},
		{"POST", "/api/run", "", `{"pc_id":"pc-4","shell":"sh","script":"true","timeout_secs":"1"}`, op},

		{"POST", "/api/schedules", "text/yaml", sched, op},
		{"POST", "/api/schedules", "text/yaml", perPC, op},
		{"POST", "/api/schedules", "text/yaml", "id: s\njob_id: nope\nwhen: {cron: \"* * * * *\"}\ntarget: {all: true}\n", op},
		{"GET", "/api/schedules", "", "", v},
		{"GET", "/api/schedules/nightly", "", "", v},
		{"POST", "/api/schedules/patrol/enable", "", "", op},
		{"POST", "/api/schedules/patrol/disable", "", "", op},
		{"GET", "/api/schedules/nightly/preview?count=2", "", "", v},
		{"GET", "/api/schedules/nightly/preview?count=0", "", "", v},
		{"DELETE", "/api/schedules/patrol", "", "", op},

		{"GET", "/api/freeze", "", "", v},
		{"PUT", "/api/freeze", "", `{"reason":"golden","until":"2999-01-01T00:00:00Z"}`, op},
		{"GET", "/api/freeze", "", "", v},
		{"PUT", "/api/freeze", "", `{"reason":"golden","until":"yesterday"}`, op},
		{"PUT", "/api/freeze", "", `{"reason":"golden","why":1}`, op},
		{"DELETE", "/api/freeze", "", "", op},
		{"PUT", "/api/freeze", "", "", op},
		{"DELETE", "/api/freeze", "", "", op},

		{"GET", "/api/config", "", "", v},
		{"PUT", "/api/config", "", `{"heartbeat_interval":"20s","max_local_concurrent":3}`, op},
		{"PATCH", "/api/config", "", `{"target_version":"2.0.0","max_local_concurrent":null}`, op},
		{"PATCH", "/api/config", "", `{"target_version":"2.0/evil"}`, op},
		{"PUT", "/api/groups/canary/config", "", `{"target_version":""}`, op},
		{"PATCH", "/api/config", "", `{"colour":"red"}`, op},
		{"PATCH", "/api/config", "", `{"max_local_concurrent":"many"}`, op},
		{"PUT", "/api/groups/lab/config", "", `{"outbox_max_entries":500}`, op},
		{"PUT", "/api/groups/canary/config", "", `{"outbox_max_entries":700}`, op},
		{"PUT", "/api/groups/lab/config", "", `{"heartbeat_interval":"soon"}`, op},
		{"PATCH", "/api/pcs/pc-1/config", "", `{"heartbeat_interval":"45s"}`, op},
		{"GET", "/api/pcs/pc-1/config", "", "", v},
		{"GET", "/api/agents/pc-1/effective_config", "", "", v},
		{"GET", "/api/agents/pc-0/effective_config", "", "", v},
		{"DELETE", "/api/groups/canary/config", "", "", op},
		{"GET", "/api/groups/canary/config", "", "", v},

		{"GET", "/api/health/fleet", "", "", v},
		{"GET", "/api/nowhere", "", "", v},
	}

	var got strings.Builder
	client := &http.Client{Timeout: 30 * time.Second}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, err := http.NewRequest(s.method, b.HTTPURL()+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if s.ctype != "" {
			req.Header.Set("Content-Type", s.ctype)
		}
		if tok := tokens[s.role]; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", s.method, s.path, err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Fprintf(&got, "### %s %s (%s)\n%d", s.method, s.path, s.role, res.StatusCode)
		if n := res.Header.Get("X-Total-Count"); n != "" {
			fmt.Fprintf(&got, " X-Total-Count: %s", n)
		}
		if v := res.Header.Get("X-Total-Count-Estimated"); v != "" {
			fmt.Fprintf(&got, " X-Total-Count-Estimated: %s", v)
		}
		if res.Header.Get("X-Next-Cursor") != "" {
			got.WriteString(" X-Next-Cursor: (opaque)") // its key holds times and ids
		}
		got.WriteString("\n")
		got.Write(mask(data))
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			got.WriteString("\n")
		}
	}
	if *update {
		if err := os.WriteFile(filepath.FromSlash(responsesGolden), []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(filepath.FromSlash(responsesGolden))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got.String() {
		t.Errorf("responses differ from %s (the wire format changed: review, then run with -update)\n%s",
			responsesGolden, firstDiff(string(want), got.String()))
	}
}

// goldenSeed gives the backend agents, groups, an execution and results,
// written straight to the store as the projectors would.
func goldenSeed(t *testing.T, b *server.Server) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	boot := now.Add(-time.Hour)
	var hbs []store.Heartbeat
	for i := 0; i < 5; i++ {
		recv := now
		if i >= 3 {
			recv = now.Add(-10 * time.Minute) // offline
		}
		hbs = append(hbs, store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: fmt.Sprintf("pc-%d", i), Hostname: fmt.Sprintf("HOST-%d", i),
			OSFamily: "linux", OSVersion: "6.1", Arch: "amd64", AgentVersion: "1.0", BootTime: boot,
			AgentRSSBytes: uint64(1000 * (i + 1)), AgentCPUPct: 0.5, Running: i % 2}, ReceivedAt: recv})
	}
	// Self-update states (SPEC §13); pc-3 and pc-4 are agents older than
	// self-update (no update_state).
	hbs[0].UpdateState = wire.UpdateCurrent
	hbs[1].UpdateState, hbs[1].UpdateError = wire.UpdateFailed, "sha256 mismatch for kanade-agent/1.1/linux-amd64"
	hbs[2].UpdateState, hbs[2].QuarantinedVersion = wire.UpdateQuarantined, "1.1"
	if err := b.DB.UpsertHeartbeats(ctx, hbs); err != nil {
		t.Fatal(err)
	}
	must(t, callAs(t, b, "PUT", "/api/agents/pc-1/groups", map[string]any{"groups": []string{"lab", "canary"}}), 200)
	testenv.Eventually(t, 5*time.Second, "groups mirrored", func() bool {
		g, _ := b.DB.ListGroups(ctx)
		return len(g) == 2
	})
	if err := b.DB.CreateExecution(ctx, apiv1.Execution{ExecID: "e1", JobID: "job1", Version: "1", InitiatedBy: "alice",
		TargetCount: 2, InitiatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var rs []store.Result
	for i, code := range []int{0, 2} {
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r%d", i), RequestID: "q", ExecID: "e1",
			PCID: fmt.Sprintf("pc-%d", i), ManifestID: "job1", Version: "1", ExitCode: code, Stdout: "out", Stderr: "err",
			StartedAt: now, FinishedAt: now, TimedOut: code != 0}, RecordedAt: now,
			// job1 is a check too: pc-0 passes, pc-1 (timed out) has no verdict.
			Check: &store.CheckEval{Verdict: map[int]check.Verdict{0: check.Pass, 2: check.None}[code], Severity: "warning", FlapThreshold: 1}})
	}
	if _, err := b.DB.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	// Built-in facts of pc-1, reported twice: the second changes the OS
	// version and the users (SPEC §14).
	facts := wire.Facts{Hostname: "HOST-1", OSFamily: "linux", OSVersion: "24.04", Kernel: "6.8.0", Arch: "amd64", CPUModel: "Xeon",
		CPUCores: 4, MemoryBytes: 8 << 30, Disks: []wire.Disk{{Mount: "/", FS: "ext4", SizeBytes: 100 << 30, FreeBytes: 40 << 30}},
		Interfaces:    []wire.Interface{{Name: "eth0", MAC: "00:11:22:33:44:55", IPs: []string{"10.0.0.5/24"}}},
		LoggedInUsers: []string{"alice"}, BootTime: boot, Timezone: "UTC", AgentVersion: "1.0"}
	later := facts
	later.OSVersion, later.LoggedInUsers = "24.10", nil
	if _, err := b.DB.ApplyFacts(ctx, []store.FactsReport{{Inventory: wire.Inventory{PCID: "pc-1", CollectedAt: now, Facts: facts}, Seq: 1},
		{Inventory: wire.Inventory{PCID: "pc-1", CollectedAt: now, Facts: later}, Seq: 2}}); err != nil {
		t.Fatal(err)
	}
	// Audit rows of an actor of their own, far above the stream's sequence
	// numbers, so the projector's rows neither mix in nor collide.
	if err := b.DB.InsertAudit(ctx, []store.Audit{
		{Seq: 1 << 40, AuditEvent: wire.AuditEvent{Actor: "golden-seed", Action: "job.create", Target: "golden",
			Payload: json.RawMessage(`{"version":"1"}`), OccurredAt: now.Add(-2 * time.Minute), SourceIP: "192.0.2.1"}},
		{Seq: 1<<40 + 1, AuditEvent: wire.AuditEvent{Actor: "golden-seed", Action: "freeze.clear",
			OccurredAt: now.Add(-time.Minute)}},
	}); err != nil {
		t.Fatal(err)
	}
}

// callAs is call with the service's own admin rights (Authenticator's
// static token is not configured, so a fresh admin token is minted).
func callAs(t *testing.T, b *server.Server, method, path string, body any) resp {
	t.Helper()
	tok, _, err := b.Auth.IssueToken(context.Background(), "golden-admin")
	if err != nil {
		t.Fatal(err)
	}
	return callToken(t, b, method, path, tok, body)
}

func callToken(t *testing.T, b *server.Server, method, path, tok string, body any) resp {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, b.HTTPURL()+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: out, hdr: res.Header}
}

var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`), `"<time>"`},
	{regexp.MustCompile(`"(token)":"[^"]*"`), `"$1":"<token>"`},
	{regexp.MustCompile(`"(day)":"\d{4}-\d\d-\d\d"`), `"$1":"<day>"`},
	{regexp.MustCompile(`"(go)":"[^"]*"`), `"$1":"<go>"`},
	{regexp.MustCompile(`"(store_bytes|messages|bytes|values|consumers)":\d+`), `"$1":<n>`},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), `<uuid>`},
}

func mask(b []byte) []byte {
	for _, m := range masks {
		b = m.re.ReplaceAll(b, []byte(m.with))
	}
	return b
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			start := max(0, i-3)
			return fmt.Sprintf("line %d:\n context: %s\n want: %s\n got:  %s", i+1, strings.Join(g[start:i], "\n          "), wl, gl)
		}
	}
	return "(same lines, different bytes)"
}
