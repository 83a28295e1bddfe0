package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

type jobView struct {
	ID            string  `json:"id"`
	Version       string  `json:"version"`
	Status        string  `json:"status"`
	PinnedVersion *string `json:"pinned_version"`
	YAML          *string `json:"yaml"`
	Execute       struct {
		Shell   string `json:"shell"`
		Timeout string `json:"timeout"`
		RunAs   string `json:"run_as"`
	} `json:"execute"`
}

func TestJobCatalog(t *testing.T) {
	b := start(t, "", "")
	src := fmt.Sprintf(jobYAML, "cleanup", "1.0.1", "echo clean")
	var j jobView
	must(t, call(t, b, "POST", "/api/jobs", "text/yaml", src), 201).json(t, &j)
	if j.ID != "cleanup" || j.Status != "ACTIVE" || j.PinnedVersion != nil || j.Execute.RunAs != "system" || j.YAML != nil {
		t.Fatalf("created %+v", j)
	}
	must(t, call(t, b, "POST", "/api/jobs", "text/yaml", src), 201) // an update
	// JSON without a Content-Type is sniffed.
	must(t, call(t, b, "POST", "/api/jobs", "", `{"id":"other","version":"1","execute":{"shell":"bash","script":"true","timeout":"1h30m"}}`), 201)

	must(t, call(t, b, "GET", "/api/jobs/cleanup", "", nil), 200).json(t, &j)
	if j.YAML == nil || *j.YAML != src || !strings.Contains(*j.YAML, "# cleanup job") {
		t.Fatalf("original text not kept: %v", j.YAML)
	}
	var list []jobView
	r := must(t, call(t, b, "GET", "/api/jobs?limit=1", "", nil), 200)
	r.json(t, &list)
	if len(list) != 1 || list[0].ID != "cleanup" || r.hdr.Get("X-Total-Count") != "2" {
		t.Fatalf("list %+v total %s", list, r.hdr.Get("X-Total-Count"))
	}
	must(t, call(t, b, "GET", "/api/jobs/missing", "", nil), 404)

	// A schedule referencing the job blocks its deletion.
	if _, err := kv(t, b, bus.KVSchedules).Put(t.Context(), "nightly", []byte(`{"id":"nightly","job_id":"cleanup"}`)); err != nil {
		t.Fatal(err)
	}
	if f := must(t, call(t, b, "DELETE", "/api/jobs/cleanup", "", nil), 409).field(t); f != "id" {
		t.Fatalf("409 field %q", f)
	}
	if err := kv(t, b, bus.KVSchedules).Delete(t.Context(), "nightly"); err != nil {
		t.Fatal(err)
	}
	must(t, call(t, b, "DELETE", "/api/jobs/cleanup", "", nil), 204)
	must(t, call(t, b, "GET", "/api/jobs/cleanup", "", nil), 404)
	must(t, call(t, b, "DELETE", "/api/jobs/cleanup", "", nil), 404)
	e, err := kv(t, b, bus.KVScriptStatus).Get(t.Context(), "cleanup")
	if err != nil || string(e.Value()) != wire.StatusRevoked {
		t.Fatalf("delete did not revoke first: %v %v", e, err)
	}
	// Re-created, it stays revoked until someone unrevokes it.
	must(t, call(t, b, "POST", "/api/jobs", "", src), 201).json(t, &j)
	if j.Status != "REVOKED" {
		t.Fatalf("re-created job status %s", j.Status)
	}

	testenv.Eventually(t, 20*time.Second, "catalog changes audited", func() bool {
		var rows []struct{ Action, Target, Actor string }
		must(t, call(t, b, "GET", "/api/audit?limit=1000", "", nil), 200).json(t, &rows)
		seen := map[string]bool{}
		for _, row := range rows {
			seen[row.Action+":"+row.Target] = row.Actor != ""
		}
		return seen["job.create:cleanup"] && seen["job.delete:cleanup"] && seen["job.create:other"] && seen["job.update:cleanup"] &&
			len(rows) >= 5
	})
}

// Bad input is a 422 naming the field, and nothing is stored.
func TestBadInputIsRejectedAndNothingStored(t *testing.T) {
	b := start(t, "", "")
	jobs := []struct{ name, body, field string }{
		{"malformed yaml", "id: [unclosed\nversion: 1\n", ""},
		{"malformed json", `{"id": "x",`, ""},
		{"empty", "", "body"},
		{"unknown key", "id: j\nversion: 1\nexecute:\n  shell: sh\n  script: x\n  timout: 10s\n", "execute.timout"},
		{"bad duration", "id: j\nversion: 1\nexecute:\n  shell: sh\n  script: x\n  timeout: 10 parsecs\n", "execute.timeout"},
		{"missing timeout", "id: j\nversion: 1\nexecute:\n  shell: sh\n  script: x\n", "execute.timeout"},
		{"id with dot", "id: a.b\nversion: 1\nexecute:\n  shell: sh\n  script: x\n  timeout: 10s\n", "id"},
		{"id with space", "id: a b\nversion: 1\nexecute:\n  shell: sh\n  script: x\n  timeout: 10s\n", "id"},
		{"bad shell", `{"id":"j","version":"1","execute":{"shell":"zsh","script":"x","timeout":"1s"}}`, "execute.shell"},
		{"reserved id", "id: adhoc\nversion: 1\nexecute:\n  shell: sh\n  script: x\n  timeout: 10s\n", "id"},
	}
	for _, c := range jobs {
		r := must(t, call(t, b, "POST", "/api/jobs", "application/yaml", c.body), 422)
		f := r.field(t)
		if c.field == "" && f == "" || c.field != "" && f != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.name, f, c.field, r.body)
		}
	}
	for _, bucket := range []string{bus.KVJobs, bus.KVJobsYAML} {
		if ks := keys(t, b, bucket); len(ks) != 0 {
			t.Fatalf("%s has %v after rejected input", bucket, ks)
		}
	}

	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "ok", "1", "true")), 201)
	execs := []struct{ path, body, field string }{
		{"/api/exec/a.b", `{"target":{"all":true}}`, "job_id"},
		{"/api/exec/ok", `{"target":{"all":true},"jiter":"5m"}`, "jiter"},
		{"/api/exec/ok", `{"target":{"all":true},"jitter":"5 fortnights"}`, "jitter"},
		{"/api/exec/ok", `{"target":{"pcs":["a b"]}}`, "target.pcs[0]"},
		{"/api/exec/ok", `{"target":{"groups":["g.1"]}}`, "target.groups[0]"},
		{"/api/exec/ok", `{"rollout":{"waves":[{"group":"c"},{"group":"d","delay":"soon"}]}}`, "rollout.waves[1].delay"},
		{"/api/exec/ok", `{}`, "target"},
		{"/api/exec/ok", `{"target":{"all":true},"deadline_at":"tomorrow"}`, "deadline_at"},
	}
	for _, c := range execs {
		r := must(t, call(t, b, "POST", c.path, "", c.body), 422)
		if f := r.field(t); f != c.field {
			t.Errorf("exec %s: field %q, want %q (%s)", c.body, f, c.field, r.body)
		}
	}
	must(t, call(t, b, "POST", "/api/exec/unknown", "", `{"target":{"all":true}}`), 404)
	if ks := keys(t, b, bus.KVScriptCurrent); len(ks) != 0 {
		t.Fatalf("pinned after rejected execs: %v", ks)
	}
	if ks := keys(t, b, bus.KVWaves); len(ks) != 0 {
		t.Fatalf("waves after rejected execs: %v", ks)
	}

	others := []struct{ method, path, body, field string }{
		{"PUT", "/api/agents/pc1/groups", `{"groups":["ok","no.dots"]}`, "groups[1]"},
		{"PUT", "/api/agents/pc1/groups", `{"grups":["ok"]}`, "grups"},
		{"PUT", "/api/agents/pc1/groups", `{}`, "groups"},
		{"POST", "/api/agents/pc1/groups", `{"group":"a b"}`, "group"},
		{"PUT", "/api/agents/bad.pc/groups", `{"groups":[]}`, "pc_id"},
		{"PUT", "/api/config", `{"heartbeat_interval":"fast"}`, "heartbeat_interval"},
		{"PUT", "/api/config", `{"heartbeat_interval":30}`, "heartbeat_interval"},
		{"PUT", "/api/config", `{"hearbeat_interval":"30s"}`, "hearbeat_interval"},
		{"PATCH", "/api/config", `{"max_local_concurrent":0}`, "max_local_concurrent"},
		{"PATCH", "/api/config", `{"colour":"red"}`, "colour"},
		{"PUT", "/api/groups/a.b/config", `{}`, "group"},
		{"PUT", "/api/pcs/a*b/config", `{}`, "pc_id"},
		{"PUT", "/api/freeze", `{"until":"next week"}`, "until"},
		{"PUT", "/api/freeze", `{"until":"2001-01-01T00:00:00Z"}`, "until"},
		{"PUT", "/api/freeze", `{"reson":"typo"}`, "reson"},
	}
	for _, c := range others {
		r := must(t, call(t, b, c.method, c.path, "", c.body), 422)
		if f := r.field(t); f != c.field {
			t.Errorf("%s %s %s: field %q, want %q (%s)", c.method, c.path, c.body, f, c.field, r.body)
		}
	}
	for _, bucket := range []string{bus.KVAgentGroups, bus.KVAgentConfig, bus.KVFleetConfig} {
		if ks := keys(t, b, bucket); len(ks) != 0 {
			t.Fatalf("%s has %v after rejected input", bucket, ks)
		}
	}
}

// Concurrent edits of one PC's groups never lose one (compare-and-set).
func TestGroupEditsAreCompareAndSet(t *testing.T) {
	b := start(t, "", "")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			must(t, call(t, b, "POST", "/api/agents/pc-x/groups", "", map[string]string{"group": fmt.Sprintf("g%02d", i)}), 200)
		})
	}
	// Concurrent PATCHes of different config fields both land too.
	wg.Go(func() { must(t, call(t, b, "PATCH", "/api/config", "", `{"heartbeat_interval":"10s"}`), 200) })
	wg.Go(func() { must(t, call(t, b, "PATCH", "/api/config", "", `{"max_local_concurrent":3}`), 200) })
	wg.Go(func() { must(t, call(t, b, "PATCH", "/api/config", "", `{"outbox_max_entries":500}`), 200) })
	wg.Wait()
	var g wire.AgentGroups
	must(t, call(t, b, "GET", "/api/agents/pc-x/groups", "", nil), 200).json(t, &g)
	if len(g.Groups) != n {
		t.Fatalf("groups after %d concurrent adds: %v", n, g.Groups)
	}
	var s wire.ConfigScope
	must(t, call(t, b, "GET", "/api/config", "", nil), 200).json(t, &s)
	if s.HeartbeatInterval == nil || s.MaxLocalConcurrent == nil || s.OutboxMaxEntries == nil {
		t.Fatalf("a concurrent config patch was lost: %+v", s)
	}

	// Remove, replace, and the SQL mirror behind GET /api/groups.
	must(t, call(t, b, "DELETE", "/api/agents/pc-x/groups/g00", "", nil), 200).json(t, &g)
	if len(g.Groups) != n-1 {
		t.Fatalf("after remove: %v", g.Groups)
	}
	must(t, call(t, b, "PUT", "/api/agents/pc-x/groups", "", `{"groups":["web","db","web"]}`), 200).json(t, &g)
	if strings.Join(g.Groups, ",") != "db,web" {
		t.Fatalf("after replace: %v", g.Groups)
	}
	testenv.Eventually(t, 10*time.Second, "groups projected", func() bool {
		var gs []struct {
			Group   string   `json:"group"`
			Members []string `json:"members"`
		}
		must(t, call(t, b, "GET", "/api/groups", "", nil), 200).json(t, &gs)
		return len(gs) == 2 && gs[0].Group == "db" && gs[1].Group == "web"
	})
}

func TestLayeredConfigAndEffective(t *testing.T) {
	b := start(t, "", "")
	must(t, call(t, b, "PUT", "/api/config", "", `{"heartbeat_interval":"20s"}`), 200)
	must(t, call(t, b, "PUT", "/api/groups/alpha/config", "", `{"max_local_concurrent":2}`), 200)
	must(t, call(t, b, "PUT", "/api/groups/beta/config", "", `{"max_local_concurrent":5}`), 200)
	must(t, call(t, b, "PUT", "/api/pcs/pc-1/config", "", `{"outbox_max_entries":200}`), 200)
	must(t, call(t, b, "PUT", "/api/agents/pc-1/groups", "", `{"groups":["beta","alpha"]}`), 200)
	var v struct {
		Effective wire.EffectiveConfig `json:"effective"`
		Warnings  []string             `json:"warnings"`
		Groups    []string             `json:"groups"`
		Layers    map[string]any       `json:"layers"`
	}
	must(t, call(t, b, "GET", "/api/agents/pc-1/effective_config", "", nil), 200).json(t, &v)
	if v.Effective.HeartbeatInterval != "20s" || v.Effective.MaxLocalConcurrent != 5 || v.Effective.OutboxMaxEntries != 200 {
		t.Fatalf("effective %+v", v.Effective)
	}
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "max_local_concurrent") {
		t.Fatalf("warnings %v", v.Warnings)
	}
	for _, k := range []string{"defaults", "global", "groups", "pc"} {
		if _, ok := v.Layers[k]; !ok {
			t.Fatalf("layers lack %s: %v", k, v.Layers)
		}
	}
	// PATCH with null unsets; DELETE removes a scope.
	var s wire.ConfigScope
	must(t, call(t, b, "PATCH", "/api/config", "", `{"heartbeat_interval":null,"max_local_concurrent":4}`), 200).json(t, &s)
	if s.HeartbeatInterval != nil || s.MaxLocalConcurrent == nil || *s.MaxLocalConcurrent != 4 {
		t.Fatalf("patched %+v", s)
	}
	must(t, call(t, b, "DELETE", "/api/groups/beta/config", "", nil), 204)
	s = wire.ConfigScope{}
	must(t, call(t, b, "GET", "/api/groups/beta/config", "", nil), 200).json(t, &s)
	if s != (wire.ConfigScope{}) {
		t.Fatalf("deleted scope reads %+v", s)
	}
	must(t, call(t, b, "GET", "/api/agents/pc-1/effective_config", "", nil), 200).json(t, &v)
	if v.Effective.MaxLocalConcurrent != 2 || len(v.Warnings) != 0 || v.Effective.HeartbeatInterval != "30s" {
		t.Fatalf("after changes: %+v %v", v.Effective, v.Warnings)
	}
	testenv.Eventually(t, 20*time.Second, "config audited", func() bool {
		var rows []struct{ Action, Target string }
		must(t, call(t, b, "GET", "/api/audit?limit=1000", "", nil), 200).json(t, &rows)
		n := 0
		for _, r := range rows {
			if r.Action == "config.set" || r.Action == "config.delete" || r.Action == "groups.set" {
				n++
			}
		}
		return n == 7
	})
}

func TestFreeze(t *testing.T) {
	b := start(t, "", "")
	var f struct {
		Frozen bool       `json:"frozen"`
		Reason string     `json:"reason"`
		By     string     `json:"by"`
		Since  *time.Time `json:"since"`
		Until  *time.Time `json:"until"`
	}
	must(t, call(t, b, "GET", "/api/freeze", "", nil), 200).json(t, &f)
	if f.Frozen {
		t.Fatal("frozen at start")
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	must(t, call(t, b, "PUT", "/api/freeze", "", map[string]any{"reason": "year end", "until": until.Format(time.RFC3339)}), 200)
	must(t, call(t, b, "GET", "/api/freeze", "", nil), 200).json(t, &f)
	if !f.Frozen || f.Reason != "year end" || f.By == "" || f.Since == nil || f.Until == nil || !f.Until.Equal(until) {
		t.Fatalf("freeze %+v", f)
	}
	e, err := kv(t, b, bus.KVFleetConfig).Get(t.Context(), bus.FreezeKey)
	if err != nil {
		t.Fatal(err)
	}
	var stored wire.Freeze
	if err := json.Unmarshal(e.Value(), &stored); err != nil || !stored.Active(time.Now()) {
		t.Fatalf("stored freeze %s: %v", e.Value(), err)
	}
	// Indefinite freeze with an empty body, then thaw (idempotent).
	must(t, call(t, b, "PUT", "/api/freeze", "", nil), 200)
	f.Until = nil
	must(t, call(t, b, "GET", "/api/freeze", "", nil), 200).json(t, &f)
	if !f.Frozen || f.Until != nil {
		t.Fatalf("indefinite freeze %+v", f)
	}
	must(t, call(t, b, "DELETE", "/api/freeze", "", nil), 204)
	must(t, call(t, b, "DELETE", "/api/freeze", "", nil), 204)
	f.Frozen = true
	must(t, call(t, b, "GET", "/api/freeze", "", nil), 200).json(t, &f)
	if f.Frozen {
		t.Fatal("still frozen after DELETE")
	}
}
