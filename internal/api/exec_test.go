package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	kanadekv "github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Exec to all / one group / two PCs reaches exactly those agents, with
// the right target_count and a completed execution.
func TestExecTargetsReachExactlyThoseAgents(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-a": {"canary"}, "pc-b": {"web"}, "pc-c": {"web", "db"}})
	must(t, call(t, b, "POST", "/api/jobs", "application/yaml", fmt.Sprintf(jobYAML, "hello", "1.0.0", "echo hi")), 201)

	cases := []struct {
		name     string
		plan     string
		subjects []string
		pcs      []string
	}{
		{"all", `{"target": {"all": true}}`, []string{"commands.all"}, []string{"pc-a", "pc-b", "pc-c"}},
		{"group", "target:\n  groups: [web]\n", []string{"commands.group.web"}, []string{"pc-b", "pc-c"}},
		{"two pcs", `{"target": {"pcs": ["pc-a", "pc-c"]}}`, []string{"commands.pc.pc-a", "commands.pc.pc-c"}, []string{"pc-a", "pc-c"}},
		// pc-c is in both web and db: it receives two commands of the same
		// execution and runs it once; the count is of PCs (a union).
		{"groups union", `{"target": {"groups": ["web", "db"]}}`, []string{"commands.group.web", "commands.group.db"}, []string{"pc-b", "pc-c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r apiv1.ExecResponse
			must(t, call(t, b, "POST", "/api/exec/hello", "", c.plan), 200).json(t, &r)
			if !slices.Equal(r.Subjects, c.subjects) || r.JobID != "hello" || r.Version != "1.0.0" || r.ExecID == "" {
				t.Fatalf("response %+v, want subjects %v", r, c.subjects)
			}
			want := len(c.pcs)
			if r.TargetCount != want {
				t.Fatalf("target_count %d, want %d", r.TargetCount, want)
			}
			e := waitExec(t, b, r.ExecID, func(e execution) bool { return completed(e) && len(e.Results) >= want })
			if e.SuccessCount != want || len(e.Results) != want || e.FailureCount != 0 || e.InitiatedBy == "" {
				t.Fatalf("execution %+v", e.Execution)
			}
			got := sorted(pcsOf(e.Results))
			if !slices.Equal(got, sorted(c.pcs)) {
				t.Fatalf("results from %v, want exactly %v", got, sorted(c.pcs))
			}
		})
	}
	// The pin was written before publishing and is what the list shows.
	var jobs []struct {
		ID            string  `json:"id"`
		Status        string  `json:"status"`
		PinnedVersion *string `json:"pinned_version"`
	}
	must(t, call(t, b, "GET", "/api/jobs", "", nil), 200).json(t, &jobs)
	if len(jobs) != 1 || jobs[0].PinnedVersion == nil || *jobs[0].PinnedVersion != "1.0.0" || jobs[0].Status != "ACTIVE" {
		t.Fatalf("jobs %+v", jobs)
	}
	testenv.Eventually(t, 20*time.Second, "exec audited", func() bool {
		var rows []map[string]any
		must(t, call(t, b, "GET", "/api/audit?action=exec", "", nil), 200).json(t, &rows)
		return len(rows) == len(cases)
	})
}

// A rollout: the canary goes out now; wave1 is stored, survives a backend
// restart (same data dir and JetStream store) and is sent exactly once.
func TestWaveSurvivesRestartAndIsSentOnce(t *testing.T) {
	dir, addr := t.TempDir(), testenv.FreeAddr(t)
	b1 := start(t, dir, addr)
	fleet(t, b1, map[string][]string{"pc-a": {"canary"}, "pc-b": {"wave1"}})
	must(t, call(t, b1, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "roll", "2", "echo rolled")), 201)

	var r apiv1.ExecResponse
	must(t, call(t, b1, "POST", "/api/exec/roll", "", `{"rollout": {"waves": [{"group": "canary"}, {"group": "wave1", "delay": "4s"}]}}`), 200).json(t, &r)
	if r.TargetCount != 1 || !slices.Equal(r.Subjects, []string{"commands.group.canary", "commands.group.wave1"}) {
		t.Fatalf("response %+v", r)
	}
	// The canary reports, but the execution is not completed while wave1 is
	// still to come.
	e := waitExec(t, b1, r.ExecID, func(e execution) bool { return e.SuccessCount == 1 })
	if !slices.Equal(pcsOf(e.Results), []string{"pc-a"}) || e.Status != "running" {
		t.Fatalf("canary: status %s, results %v", e.Status, pcsOf(e.Results))
	}
	ks := slices.DeleteFunc(keys(t, b1, bus.KVWaves), kanadekv.IsMarker) // the counted set is not a wave
	if len(ks) != 1 {
		t.Fatalf("pending waves before restart: %v (the test needs wave1 still pending; machine too slow?)", ks)
	}
	ctx, cancel := contextTimeout()
	b1.Stop(ctx)
	cancel()

	b2 := start(t, dir, addr)
	e = waitExec(t, b2, r.ExecID, func(e execution) bool { return completed(e) && e.TargetCount == 2 })
	if e.SuccessCount != 2 || !slices.Equal(pcsOf(e.Results), []string{"pc-a", "pc-b"}) {
		t.Fatalf("after wave1: %+v results %v", e.Execution, pcsOf(e.Results))
	}
	testenv.Eventually(t, 10*time.Second, "wave record deleted", func() bool { return len(keys(t, b2, bus.KVWaves)) == 0 })
	// Exactly two commands were ever stored in EXEC: the canary and wave1.
	if n := execLastSeq(t, b2); n != 2 {
		t.Fatalf("EXEC stored %d commands, want 2 (wave sent twice?)", n)
	}
	testenv.Eventually(t, 20*time.Second, "wave audited", func() bool {
		var rows []map[string]any
		must(t, call(t, b2, "GET", "/api/audit?action=exec.wave", "", nil), 200).json(t, &rows)
		return len(rows) == 1
	})
}

// A PC in the canary group and in wave1 runs the execution once and is one
// target; the execution completes when both PCs have reported.
func TestOverlappingWavesRunOncePerPC(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-a": {"canary", "wave1"}, "pc-b": {"wave1"}})
	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "overlap", "1", "echo once")), 201)
	var r apiv1.ExecResponse
	must(t, call(t, b, "POST", "/api/exec/overlap", "", `{"rollout": {"waves": [{"group": "canary"}, {"group": "wave1", "delay": "1s"}]}}`), 200).json(t, &r)
	if r.TargetCount != 1 {
		t.Fatalf("canary targets %d, want 1", r.TargetCount)
	}
	e := waitExec(t, b, r.ExecID, func(e execution) bool { return completed(e) && e.TargetCount == 2 })
	if e.SuccessCount != 2 || len(e.Results) != 2 || !slices.Equal(sorted(pcsOf(e.Results)), []string{"pc-a", "pc-b"}) {
		t.Fatalf("execution %+v results %v", e.Execution, pcsOf(e.Results))
	}
}

// Kill during the delay: the running canary is killed, and wave1 is never
// sent.
func TestKillCancelsPendingWave(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-a": {"canary"}, "pc-b": {"wave1"}})
	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "slow", "1", "sleep 30")), 201)
	var r apiv1.ExecResponse
	must(t, call(t, b, "POST", "/api/exec/slow", "", `{"rollout": {"waves": [{"group": "canary"}, {"group": "wave1", "delay": "2s"}]}}`), 200).json(t, &r)
	due := time.Now().Add(2 * time.Second)
	waitExec(t, b, r.ExecID, func(e execution) bool { return e.Status == "running" })

	var k apiv1.KillResponse
	must(t, call(t, b, "POST", "/api/jobs/slow/kill", "", nil), 200).json(t, &k)
	if k.CancelledWaves != 1 || !slices.Equal(k.KilledExecIDs, []string{r.ExecID}) {
		t.Fatalf("kill response %+v", k)
	}
	e := waitExec(t, b, r.ExecID, completed)
	if e.FailureCount != 1 || len(e.Results) != 1 || !e.Results[0].Killed {
		t.Fatalf("killed canary: %+v %+v", e.Execution, e.Results)
	}
	if len(keys(t, b, bus.KVWaves)) != 0 {
		t.Fatal("wave record left after kill")
	}
	// Asserting an absence: let the due time and a few dispatcher polls pass.
	time.Sleep(time.Until(due) + 500*time.Millisecond)
	if n := subjectCount(t, b, "commands.group.wave1"); n != 0 {
		t.Fatalf("wave1 was sent after kill (%d)", n)
	}
	if e := getExec(t, b, r.ExecID); e.TargetCount != 1 || len(e.Results) != 1 {
		t.Fatalf("after due time: %+v", e.Execution)
	}
}

// Revoke then exec: the agent skips with 126; unrevoke: it runs again.
func TestRevokeSkipsThenUnrevokeRuns(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-a": nil})
	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "rev", "1", "echo ran")), 201)
	var st map[string]any
	must(t, call(t, b, "POST", "/api/scripts/rev/revoke", "", nil), 200).json(t, &st)
	if st["status"] != "REVOKED" || st["id"] != "rev" {
		t.Fatalf("revoke: %v", st)
	}
	var r apiv1.ExecResponse
	must(t, call(t, b, "POST", "/api/exec/rev", "", `{"target": {"all": true}}`), 200).json(t, &r)
	e := waitExec(t, b, r.ExecID, completed)
	if e.SkippedCount != 1 || len(e.Results) != 1 || !e.Results[0].Skipped || *e.Results[0].ExitCode != wire.ExitRevoked {
		t.Fatalf("revoked run: %+v %+v", e.Execution, e.Results)
	}
	must(t, call(t, b, "POST", "/api/scripts/rev/unrevoke", "", nil), 200)
	must(t, call(t, b, "POST", "/api/exec/rev", "", `{"target": {"pcs": ["pc-a"]}}`), 200).json(t, &r)
	e = waitExec(t, b, r.ExecID, completed)
	if e.SuccessCount != 1 {
		t.Fatalf("unrevoked run: %+v", e.Execution)
	}
	must(t, call(t, b, "POST", "/api/scripts/nope/revoke", "", nil), 404)
	if f := must(t, call(t, b, "POST", "/api/scripts/a.b/revoke", "", nil), 422).field(t); f != "id" {
		t.Fatalf("field %q", f)
	}
}

// Version pin: v1 is queued for an offline agent, then v2 is exec'd; when
// the agent comes back, the replayed v1 command is skipped (124) and v2
// runs.
func TestVersionPinSkipsReplayedOldCommand(t *testing.T) {
	b := start(t, "", "")
	dataDir := t.TempDir()
	a, stop := startAgent(t, b.NATSURL(), "pc-p", dataDir)
	testenv.Eventually(t, 30*time.Second, "pc-p online", func() bool {
		online, _ := b.DB.OnlinePCs(t.Context(), time.Now(), "")
		return slices.Contains(online, "pc-p")
	})
	_ = a
	stop() // offline (still "live" by heartbeat age: the commands wait in EXEC)

	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "pin", "1", "echo v1")), 201)
	var r1, r2 apiv1.ExecResponse
	must(t, call(t, b, "POST", "/api/exec/pin", "", `{"target": {"pcs": ["pc-p"]}}`), 200).json(t, &r1)
	must(t, call(t, b, "POST", "/api/jobs", "", fmt.Sprintf(jobYAML, "pin", "2", "echo v2")), 201)
	must(t, call(t, b, "POST", "/api/exec/pin", "", `{"target": {"all": true}}`), 200).json(t, &r2)

	startAgent(t, b.NATSURL(), "pc-p", dataDir)
	e1 := waitExec(t, b, r1.ExecID, completed)
	if e1.SkippedCount != 1 || *e1.Results[0].ExitCode != wire.ExitVersionPin {
		t.Fatalf("replayed v1: %+v %+v", e1.Execution, e1.Results)
	}
	e2 := waitExec(t, b, r2.ExecID, completed)
	if e2.SuccessCount != 1 || e2.Version != "2" {
		t.Fatalf("v2: %+v", e2.Execution)
	}
}

// Ad-hoc run: synchronous result, an executions row with job id adhoc,
// and 408 when no agent answers.
func TestAdhocRun(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-r": nil})
	var res wire.ExecResult
	must(t, call(t, b, "POST", "/api/run", "", map[string]any{"pc_id": "pc-r", "shell": "sh", "script": "echo hello; exit 3", "timeout_secs": 20}), 200).json(t, &res)
	if res.ExitCode != 3 || strings.TrimSpace(res.Stdout) != "hello" || res.PCID != "pc-r" || res.ManifestID != wire.AdhocJobID {
		t.Fatalf("result %+v", res)
	}
	e := waitExec(t, b, res.ExecID, completed)
	if e.JobID != "adhoc" || e.FailureCount != 1 || e.TargetCount != 1 {
		t.Fatalf("adhoc execution %+v", e.Execution)
	}

	r := must(t, call(t, b, "POST", "/api/run", "", map[string]any{"pc_id": "ghost", "shell": "sh", "script": "true", "timeout_secs": 1}), 408)
	var body map[string]string
	r.json(t, &body)
	if body["exec_id"] == "" {
		t.Fatalf("408 body %s", r.body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"pc_id": "a.b", "shell": "sh", "script": "x"}, "pc_id"},
		{map[string]any{"pc_id": "pc-r", "shell": "zsh", "script": "x"}, "shell"},
		{map[string]any{"pc_id": "pc-r", "shell": "sh", "script": " "}, "script"},
		{map[string]any{"pc_id": "pc-r", "shell": "sh", "script": "x", "timeout_secs": -4}, "timeout_secs"},
		{map[string]any{"pc_id": "pc-r", "shell": "sh", "script": "x", "nope": 1}, "nope"},
	} {
		if f := must(t, call(t, b, "POST", "/api/run", "", c.body), 422).field(t); f != c.field {
			t.Errorf("%v: field %q, want %q", c.body, f, c.field)
		}
	}
}

func contextTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 20*time.Second)
}

// An ad-hoc run nobody answered does not fire when its PC comes back after
// the wait (deadline_at defaults to now + the wait); an explicit later
// deadline_at lets it run on return.
func TestAdhocRunToOfflinePCHonoursDeadline(t *testing.T) {
	b := start(t, "", "")
	marker := filepath.Join(t.TempDir(), "ran")
	dl := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	kept := must(t, call(t, b, "POST", "/api/run", "", map[string]any{"pc_id": "pc-away", "shell": "sh",
		"script": "echo later", "timeout_secs": 1, "exec_id": "kept-run", "deadline_at": dl}), 408)
	var body map[string]string
	kept.json(t, &body)
	if body["exec_id"] != "kept-run" {
		t.Fatalf("408 body %s", kept.body)
	}
	startAgent(t, b.NATSURL(), "pc-away", t.TempDir())
	e := waitExec(t, b, "kept-run", completed)
	if e.SuccessCount != 1 {
		t.Fatalf("run with a later deadline: %+v %+v", e.Execution, e.Results)
	}

	// A PC that comes back after the default deadline skips it (125).
	must(t, call(t, b, "POST", "/api/run", "", map[string]any{"pc_id": "pc-gone", "shell": "sh",
		"script": "touch " + marker, "timeout_secs": 1, "exec_id": "stale-run"}), 408)
	startAgent(t, b.NATSURL(), "pc-gone", t.TempDir())
	e = waitExec(t, b, "stale-run", completed)
	if e.SkippedCount != 1 || len(e.Results) != 1 || *e.Results[0].ExitCode != wire.ExitDeadline {
		t.Fatalf("stale run: %+v %+v", e.Execution, e.Results)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the stale script ran: %v", err)
	}
	for _, c := range []struct {
		dl    string
		field string
	}{{time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "deadline_at"}, {time.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339), "deadline_at"}, {"soon", "deadline_at"}} {
		r := call(t, b, "POST", "/api/run", "", map[string]any{"pc_id": "pc-away", "shell": "sh", "script": "x", "deadline_at": c.dl})
		if r.status != 422 && r.status != 400 {
			t.Fatalf("deadline_at %q: %d %s", c.dl, r.status, r.body)
		}
		if !strings.Contains(string(r.body), c.field) {
			t.Fatalf("deadline_at %q: %s", c.dl, r.body)
		}
	}
}
