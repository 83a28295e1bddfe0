package server_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// goldenScopes reads internal/api/testdata/scopes.golden: the reviewed
// scope rule of every /api route ("METHOD PATH RULE" per line).
func goldenScopes(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "api", "testdata", "scopes.golden"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("scopes.golden:%d: want METHOD PATH RULE, got %q", i+1, line)
		}
		out[f[0]+" "+f[1]] = f[2]
	}
	return out
}

// scopedAccount creates an account limited to groups through the admin
// API and returns a JWT of it.
func scopedAccount(t *testing.T, s *secured, name string, role auth.Role, groups ...string) string {
	t.Helper()
	f := false
	r := role
	var acc apiv1.Account
	must(t, s.call(t, auth.RoleAdmin, "POST", "/api/accounts", map[string]any{"username": name,
		"password": "correct horse battery " + name, "role": r.String(), "must_change_pw": f, "groups": groups}), http.StatusCreated).json(t, &acc)
	if !slices.Equal(acc.Groups, groups) {
		t.Fatalf("created %s with groups %v, want %v", name, acc.Groups, groups)
	}
	tok, _, err := s.b.Auth.IssueToken(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRouteSweepScopes is the scope dimension of the route sweep: every
// registered route has a reviewed scope rule, and on a running backend a
// caller scoped to groups (an admin, so no role check gets in the way) is
// refused every "refused" route with 403 and every "pc" route for a PC
// outside its scope (404 on GET: existence is not revealed; 403 else).
func TestRouteSweepScopes(t *testing.T) {
	s := startSecured(t, nil)
	golden := goldenScopes(t)
	tok := scopedAccount(t, s, "sweep-scoped", auth.RoleAdmin, "nowhere")
	checked := 0
	for _, rt := range s.b.API.Routes() {
		rule, ok := golden[rt.Pattern]
		if !ok {
			t.Errorf("%s is registered but has no rule in scopes.golden", rt.Pattern)
			continue
		}
		if got := api.RouteScope(rt.Pattern); got != rule {
			t.Errorf("%s declares scope rule %s; scopes.golden pins %s", rt.Pattern, got, rule)
		}
		method, path := rt.Sample()
		switch rule {
		case "refused":
			r := s.callToken(t, tok, method, path, map[string]any{})
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), api.ErrScopeRefused) {
				t.Errorf("%s %s scoped: %d %s, want 403 %q", method, path, r.status, r.body, api.ErrScopeRefused)
			}
			checked++
		case "pc":
			want := http.StatusForbidden
			if method == http.MethodGet {
				want = http.StatusNotFound
			}
			if r := s.callToken(t, tok, method, path, map[string]any{}); r.status != want {
				t.Errorf("%s %s scoped, PC outside the scope: %d %s, want %d", method, path, r.status, r.body, want)
			}
			checked++
		case "filtered", "neutral":
		default:
			t.Errorf("%s: unknown scope rule %q", rt.Pattern, rule)
		}
	}
	t.Logf("swept %d scope-guarded routes", checked)
}

// TestScopedOperator (SPEC §16, issue 19): an operator scoped to canary
// execs on canary, is refused --all and a PC outside canary, sees only
// canary PCs' agents and results; a token it creates is scoped likewise
// and cannot be wider than its creator.
func TestScopedOperator(t *testing.T) {
	s := startSecured(t, nil)
	admin := func(method, path string, body any) reply { return s.call(t, auth.RoleAdmin, method, path, body) }
	members := map[string][]string{"pc-a": {"canary"}, "pc-b": {"canary", "stable"}, "pc-c": {"stable"}}
	for pc, g := range members {
		must(t, admin("PUT", "/api/agents/"+pc+"/groups", map[string]any{"groups": g}), 200)
	}
	runAgents(t, s, t.TempDir(), false, members)
	testenv.Eventually(t, 30*time.Second, "three agents online", func() bool {
		pcs, err := s.b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(pcs) == 3
	})
	must(t, admin("POST", "/api/jobs", map[string]any{"id": "hello", "version": "1",
		"execute": map[string]any{"shell": "sh", "script": "echo hi", "timeout": "30s"}}), 201)
	op := scopedAccount(t, s, "canary-op", auth.RoleOperator, "canary")
	as := func(tok, method, path string, body any) reply { return s.callToken(t, tok, method, path, body) }
	done := func(tok, id string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, "execution "+id+" completed", func() bool {
			var e apiv1.ExecutionDetail
			as(tok, "GET", "/api/executions/"+id, nil).json(t, &e)
			return e.Status == apiv1.ExecCompleted
		})
	}
	forbidden := func(r reply, contains string) {
		t.Helper()
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), contains) {
			t.Errorf("got %d %s, want 403 naming %q", r.status, r.body, contains)
		}
	}

	// Exec on the scope: allowed.
	var mine apiv1.ExecResponse
	must(t, as(op, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"groups": []string{"canary"}}}), 200).json(t, &mine)
	if mine.TargetCount != 2 {
		t.Errorf("exec on canary: target_count %d, want 2", mine.TargetCount)
	}
	done(op, mine.ExecID)
	must(t, as(op, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-b"}}}), 200)
	// Outside it: refused, naming what is outside.
	forbidden(as(op, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"all": true}}), "target all")
	forbidden(as(op, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-a", "pc-c"}}}), "pc-c")
	forbidden(as(op, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"groups": []string{"stable"}}}), "stable")
	forbidden(as(op, "POST", "/api/exec/hello", map[string]any{
		"rollout": map[string]any{"waves": []map[string]any{{"group": "canary"}, {"group": "stable", "delay": "1h"}}}}), "stable")
	forbidden(as(op, "POST", "/api/run", map[string]any{"pc_id": "pc-c", "shell": "sh", "script": "id", "timeout_secs": 5}), "pc-c")
	// Fleet-wide writes: refused.
	forbidden(as(op, "PUT", "/api/freeze", map[string]any{"reason": "x"}), api.ErrScopeRefused)
	forbidden(as(op, "PUT", "/api/agents/pc-a/groups", map[string]any{"groups": []string{"canary", "stable"}}), api.ErrScopeRefused)
	forbidden(as(op, "POST", "/api/jobs", map[string]any{"id": "x", "version": "1",
		"execute": map[string]any{"shell": "sh", "script": "id", "timeout": "30s"}}), api.ErrScopeRefused)

	// An unscoped exec on every PC: the scoped operator sees only its part.
	var all apiv1.ExecResponse
	must(t, admin("POST", "/api/exec/hello", map[string]any{"target": map[string]any{"all": true}}), 200).json(t, &all)
	done(s.tokens[auth.RoleAdmin], all.ExecID)
	waitIdle(t, s.b)
	pcsOf := func(r reply) []string {
		t.Helper()
		var rows []struct {
			PCID string `json:"pc_id"`
		}
		must(t, r, 200).json(t, &rows)
		var out []string
		for _, x := range rows {
			out = append(out, x.PCID)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	canary := []string{"pc-a", "pc-b"}
	if got := pcsOf(as(op, "GET", "/api/agents", nil)); !slices.Equal(got, canary) {
		t.Errorf("scoped agents: %v, want %v", got, canary)
	}
	r := as(op, "GET", "/api/results?exec_id="+all.ExecID, nil)
	if got := pcsOf(r); !slices.Equal(got, canary) || r.hdr.Get("X-Total-Count") != "2" {
		t.Errorf("scoped results of the exec on all: %v (X-Total-Count %s), want %v", got, r.hdr.Get("X-Total-Count"), canary)
	}
	if got := pcsOf(as(op, "GET", "/api/results?limit=1000", nil)); !slices.Equal(got, canary) {
		t.Errorf("scoped results: %v, want %v", got, canary)
	}
	if got := pcsOf(as(s.tokens[auth.RoleAdmin], "GET", "/api/results?exec_id="+all.ExecID, nil)); len(got) != 3 {
		t.Errorf("unscoped results of the exec on all: %v", got)
	}
	var detail apiv1.ExecutionDetail
	must(t, as(op, "GET", "/api/executions/"+all.ExecID, nil), 200).json(t, &detail)
	if len(detail.Results) != 2 {
		t.Errorf("scoped execution detail: %d results, want the 2 on canary", len(detail.Results))
	}
	// The summary groups only the scoped results (hello prints the same
	// on every PC: one group); unscoped it has all three.
	var sum []apiv1.ResultGroup
	must(t, as(op, "GET", "/api/executions/"+all.ExecID+"/summary", nil), 200).json(t, &sum)
	if len(sum) != 1 || sum[0].Count != 2 || !slices.Equal(sum[0].PCs, canary) {
		t.Errorf("scoped summary: %+v, want one group of %v", sum, canary)
	}
	must(t, as(s.tokens[auth.RoleAdmin], "GET", "/api/executions/"+all.ExecID+"/summary", nil), 200).json(t, &sum)
	if len(sum) != 1 || sum[0].Count != 3 {
		t.Errorf("unscoped summary: %+v", sum)
	}
	outsider := scopedAccount(t, s, "outsider", auth.RoleViewer, "nowhere")
	if r := as(outsider, "GET", "/api/executions/"+mine.ExecID+"/summary", nil); r.status != http.StatusNotFound {
		t.Errorf("summary of an execution with nothing in scope: %d %s, want 404", r.status, r.body)
	}
	var pcC []apiv1.Result
	must(t, admin("GET", "/api/results?pc_id=pc-c", nil), 200).json(t, &pcC)
	if len(pcC) == 0 {
		t.Fatal("no result on pc-c")
	}
	for _, path := range []string{"/api/agents/pc-c", "/api/results/" + pcC[0].ResultID, "/api/results/" + pcC[0].ResultID + "/output",
		"/api/agents/pc-c/groups", "/api/agents/pc-c/effective_config"} {
		if r := as(op, "GET", path, nil); r.status != http.StatusNotFound {
			t.Errorf("scoped GET %s: %d %s, want 404", path, r.status, r.body)
		}
	}
	must(t, as(op, "GET", "/api/agents/pc-a", nil), 200)
	var groups []apiv1.GroupMembers
	must(t, as(op, "GET", "/api/groups", nil), 200).json(t, &groups)
	if len(groups) != 1 || groups[0].Group != "canary" {
		t.Errorf("scoped groups: %+v", groups)
	}
	// Kill: an execution it did not start reaches PCs outside its scope.
	forbidden(as(op, "POST", "/api/executions/"+all.ExecID+"/kill", nil), all.ExecID)
	must(t, as(op, "POST", "/api/executions/"+mine.ExecID+"/kill", nil), 200)

	// A token of the scoped operator: a non-empty subset of its groups.
	for _, g := range [][]string{nil, {"stable"}, {"canary", "stable"}} {
		forbidden(as(op, "POST", "/api/tokens", map[string]any{"name": "wide-" + strings.Join(g, "-"), "role": "operator", "groups": g}), "subset")
	}
	var created apiv1.CreatedAPIToken
	must(t, as(op, "POST", "/api/tokens", map[string]any{"name": "canary-bot", "role": "operator", "groups": []string{"canary"}}), 201).json(t, &created)
	if !slices.Equal(created.Groups, []string{"canary"}) {
		t.Errorf("token groups %v", created.Groups)
	}
	bot := created.Token
	if got := pcsOf(as(bot, "GET", "/api/agents", nil)); !slices.Equal(got, canary) {
		t.Errorf("scoped token agents: %v, want %v", got, canary)
	}
	forbidden(as(bot, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"all": true}}), "target all")
	forbidden(as(bot, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-c"}}}), "pc-c")
	must(t, as(bot, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-a"}}}), 200)
	var toks []apiv1.APIToken
	must(t, as(op, "GET", "/api/tokens", nil), 200).json(t, &toks)
	if len(toks) != 1 || !slices.Equal(toks[0].Groups, []string{"canary"}) {
		t.Errorf("scoped operator's tokens: %+v", toks)
	}
	// An unscoped operator's scoped token is scoped too.
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/tokens", map[string]any{"name": "stable-bot", "role": "operator",
		"groups": []string{"stable"}}), 201).json(t, &created)
	if got := pcsOf(as(created.Token, "GET", "/api/agents", nil)); !slices.Equal(got, []string{"pc-b", "pc-c"}) {
		t.Errorf("stable token agents: %v", got)
	}
	// Narrowing the account narrows its tokens; disjoint scopes refuse them.
	must(t, admin("PATCH", "/api/accounts/canary-op", map[string]any{"groups": []string{"stable"}}), 200)
	if r := as(bot, "GET", "/api/agents", nil); r.status != http.StatusUnauthorized {
		t.Errorf("token of canary after its account moved to stable: %d %s, want 401", r.status, r.body)
	}
	// Removing the scope: the account sees the fleet again.
	must(t, admin("PATCH", "/api/accounts/canary-op", map[string]any{"groups": []string{}}), 200)
	if got := pcsOf(as(op, "GET", "/api/agents", nil)); len(got) != 3 {
		t.Errorf("unscoped again: %v", got)
	}
	if r := admin("POST", "/api/accounts", map[string]any{"username": "bad", "password": "correct horse battery bad",
		"groups": []string{"no.dots"}}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"groups"`) {
		t.Errorf("invalid group name: %d %s", r.status, r.body)
	}
}

// TestScopedEventStream: a scoped caller's live stream carries the events
// of its PCs only.
func TestScopedEventStream(t *testing.T) {
	s := startSecured(t, nil)
	members := map[string][]string{"pc-a": {"canary"}, "pc-c": {"stable"}}
	for pc, g := range members {
		must(t, s.call(t, auth.RoleAdmin, "PUT", "/api/agents/"+pc+"/groups", map[string]any{"groups": g}), 200)
	}
	tok := scopedAccount(t, s, "canary-viewer", auth.RoleViewer, "canary")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.b.HTTPURL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/events scoped: %d", resp.StatusCode)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// pc-c comes online first, then pc-a: the stream shows pc-a's agent
	// event and, before it, nothing of pc-c's.
	runAgents(t, s, t.TempDir(), false, map[string][]string{"pc-c": {"stable"}})
	testenv.Eventually(t, 30*time.Second, "pc-c online", func() bool {
		pcs, err := s.b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(pcs) == 1
	})
	runAgents(t, s, t.TempDir(), false, map[string][]string{"pc-a": {"canary"}})
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.Contains(l, `"pc-c"`) {
				t.Fatalf("scoped stream carried an event of pc-c: %s", l)
			}
			if strings.HasPrefix(l, "data:") && strings.Contains(l, `"pc_id":"pc-a"`) {
				return
			}
		case <-deadline:
			t.Fatal("no event of pc-a on the scoped stream")
		}
	}
}
