package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestRollout (SPEC §17, issue 20): 20 real agents, target all, waves
// [{group: canary}, {percent: 25}, {rest: true}].
//   - halt_on {failures: 2} with two canary PCs failing: no later wave is
//     sent and the execution says halted, with the reason;
//   - paused right after the canary, the backend restarted while paused,
//     then resumed: every PC runs exactly once, wave by wave (the 25 %
//     wave is the hash-chosen quarter of the 16 PCs the canary left).
func TestRollout(t *testing.T) {
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) {
		c.DataDir, c.NATSAddr = dir, natsAddr
		c.WavePoll = 50 * time.Millisecond
	}
	b := testenv.Backend(t, cfg)
	s := open(b)
	must(t, s.do(t, "PUT", "/api/config", map[string]any{"heartbeat_interval": "1s"}), 200)
	fleet := map[string][]string{}
	var pcs, canary, others []string
	for i := 1; i <= 20; i++ {
		pc := fmt.Sprintf("pc-%02d", i)
		pcs = append(pcs, pc)
		if i <= 4 {
			fleet[pc] = []string{"canary"}
			canary = append(canary, pc)
		} else {
			fleet[pc] = []string{"fleet"}
			others = append(others, pc)
		}
	}
	runAgents(t, s, t.TempDir(), true, fleet)
	testenv.Eventually(t, 60*time.Second, "twenty agents online", func() bool {
		online, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(online) == 20
	})
	job := func(id, script string) {
		must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": id, "version": "1.0.0",
			"execute": map[string]any{"shell": "sh", "script": script, "timeout": "30s"}}), 201)
	}
	job("flaky", `case "$KANADE_PC_ID" in pc-01|pc-02) echo broken >&2; exit 1;; esac; echo ok`)
	job("roll", `echo "$KANADE_PC_ID"`)
	rollout := func(delay1, delay2 string, haltOn any) map[string]any {
		ro := map[string]any{"waves": []any{map[string]any{"group": "canary"},
			map[string]any{"percent": 25, "delay": delay1}, map[string]any{"rest": true, "delay": delay2}}}
		if haltOn != nil {
			ro["halt_on"] = haltOn
		}
		return map[string]any{"target": map[string]any{"all": true}, "rollout": ro}
	}
	detail := func(s *secured, id string) apiv1.ExecutionDetail {
		var d apiv1.ExecutionDetail
		must(t, s.do(t, "GET", "/api/executions/"+id, nil), 200).json(t, &d)
		return d
	}
	ranOn := func(d apiv1.ExecutionDetail) []string {
		var out []string
		for _, r := range d.Results {
			out = append(out, r.PCID)
		}
		slices.Sort(out)
		return out
	}

	// 1. Halt: the canary fails twice; the 25 % wave, due 5 s later, is
	// never sent (the delay is the time the canary's results are given).
	var er apiv1.ExecResponse
	er0 := time.Now()
	must(t, s.do(t, "POST", "/api/exec/flaky", rollout("5s", "6s", map[string]any{"failures": 2})), 200).json(t, &er)
	if len(er.Subjects) != 4 || er.SubjectsSent != 4 || !strings.HasPrefix(er.Subjects[0], "commands.pc.") {
		t.Fatalf("first wave went to %v (sent %d), want the four canary PCs", er.Subjects, er.SubjectsSent)
	}
	var halted apiv1.ExecutionDetail
	testenv.Eventually(t, 60*time.Second, "the rollout halted and its canary finished", func() bool {
		halted = detail(s, er.ExecID)
		return halted.RolloutState == apiv1.RolloutHalted && halted.PendingWaves == 0 && halted.Status == apiv1.ExecCompleted
	})
	if halted.HaltReason != "2 failures ≥ halt_on.failures 2" || halted.TargetCount != 4 || halted.FailureCount != 2 {
		t.Fatalf("halted execution %+v", halted.Execution)
	}
	if got := ranOn(halted); !slices.Equal(got, canary) {
		t.Fatalf("ran on %v, want only the canary %v", got, canary)
	}
	var list []apiv1.Execution
	must(t, s.do(t, "GET", "/api/executions?job_id=flaky", nil), 200).json(t, &list)
	if len(list) != 1 || list[0].RolloutState != apiv1.RolloutHalted || list[0].HaltReason == "" {
		t.Fatalf("list shows %+v", list)
	}
	t.Logf("halted %v after the exec", time.Since(er0))
	for _, a := range []string{"pause", "resume", "cancel"} {
		r := must(t, s.do(t, "POST", "/api/executions/"+er.ExecID+"/"+a, nil), http.StatusConflict)
		if !strings.Contains(string(r.body), "halted") {
			t.Fatalf("%s of a halted rollout: %s", a, r.body)
		}
	}
	must(t, s.do(t, "POST", "/api/executions/no-such-exec/pause", nil), http.StatusNotFound)

	// 2. Pause right after the canary, restart the backend while paused,
	// resume: the rest goes out, each PC once, in wave order.
	must(t, s.do(t, "POST", "/api/exec/roll", rollout("3s", "6s", nil)), 200).json(t, &er)
	var act apiv1.RolloutActionResponse
	must(t, s.do(t, "POST", "/api/executions/"+er.ExecID+"/pause", nil), 200).json(t, &act)
	if act.Waves != 2 || act.State != apiv1.RolloutPaused {
		t.Fatalf("pause: %+v", act)
	}
	must(t, s.do(t, "POST", "/api/executions/"+er.ExecID+"/pause", nil), http.StatusConflict)
	testenv.Eventually(t, 60*time.Second, "the canary ran", func() bool {
		return slices.Equal(ranOn(detail(s, er.ExecID)), canary)
	})
	// Past the 25 % wave's original due time, nothing more was sent.
	time.Sleep(4 * time.Second)
	d := detail(s, er.ExecID)
	if !slices.Equal(ranOn(d), canary) || d.RolloutState != apiv1.RolloutPaused || d.PendingWaves != 2 {
		t.Fatalf("paused execution ran on %v: %+v", ranOn(d), d.Execution)
	}

	b.Stop(context.Background())
	b2 := testenv.Backend(t, cfg)
	s2 := open(b2)
	testenv.Eventually(t, 60*time.Second, "twenty agents back online", func() bool {
		online, err := b2.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(online) == 20
	})
	if d := detail(s2, er.ExecID); d.RolloutState != apiv1.RolloutPaused || d.PendingWaves != 2 || len(d.Results) != 4 {
		t.Fatalf("after the restart: %+v (%d results)", d.Execution, len(d.Results))
	}
	must(t, s2.do(t, "POST", "/api/executions/"+er.ExecID+"/resume", nil), 200).json(t, &act)
	if act.Waves != 2 || act.State != apiv1.RolloutWaiting {
		t.Fatalf("resume: %+v", act)
	}
	must(t, s2.do(t, "POST", "/api/executions/"+er.ExecID+"/resume", nil), http.StatusConflict)
	var done apiv1.ExecutionDetail
	testenv.Eventually(t, 90*time.Second, "every PC ran", func() bool {
		done = detail(s2, er.ExecID)
		return done.Status == apiv1.ExecCompleted && len(done.Results) == 20
	})
	if got := ranOn(done); !slices.Equal(got, pcs) {
		t.Fatalf("ran on %v, want each of %v once", got, pcs)
	}
	if done.TargetCount != 20 || done.SuccessCount != 20 || done.RolloutState != "" || done.PendingWaves != 0 {
		t.Fatalf("finished execution %+v", done.Execution)
	}
	quarter := manifest.PercentSlice(others, 25)
	if len(quarter) != 4 {
		t.Fatalf("25%% of %d = %v", len(others), quarter)
	}
	started := map[string]time.Time{}
	for _, r := range done.Results {
		started[r.PCID] = r.StartedAt
	}
	span := func(wave []string) (first, last time.Time) {
		for i, pc := range wave {
			if at := started[pc]; i == 0 || at.Before(first) {
				first = at
			}
			if at := started[pc]; at.After(last) {
				last = at
			}
		}
		return first, last
	}
	var rest []string
	for _, pc := range others {
		if !slices.Contains(quarter, pc) {
			rest = append(rest, pc)
		}
	}
	_, canaryEnd := span(canary)
	quarterStart, quarterEnd := span(quarter)
	restStart, _ := span(rest)
	if !canaryEnd.Before(quarterStart) || !quarterEnd.Before(restStart) {
		t.Fatalf("out of wave order: canary until %v, 25%% %v..%v, rest from %v", canaryEnd, quarterStart, quarterEnd, restStart)
	}
	// A cancelled rollout: nothing pending afterwards.
	must(t, s2.do(t, "POST", "/api/exec/roll", rollout("1h", "2h", nil)), 200).json(t, &er)
	must(t, s2.do(t, "POST", "/api/executions/"+er.ExecID+"/cancel", nil), 200).json(t, &act)
	if act.Waves != 2 {
		t.Fatalf("cancel: %+v", act)
	}
	must(t, s2.do(t, "POST", "/api/executions/"+er.ExecID+"/cancel", nil), http.StatusConflict)
	testenv.Eventually(t, 60*time.Second, "the cancelled rollout completes with its canary", func() bool {
		d := detail(s2, er.ExecID)
		return d.Status == apiv1.ExecCompleted && d.PendingWaves == 0 && d.RolloutState == "" && len(d.Results) == 4
	})
}

// Pausing is an operator's lever: another operator may pause or resume
// anyone's rollout, a viewer may not, and a scoped operator is refused
// (pending waves reach PCs resolved later).
func TestRolloutControlRoles(t *testing.T) {
	s := startSecured(t, nil)
	must(t, s.call(t, auth.RoleAdmin, "POST", "/api/jobs", map[string]any{"id": "j", "version": "1",
		"execute": map[string]any{"shell": "sh", "script": "true", "timeout": "30s"}}), 201)
	var er apiv1.ExecResponse
	must(t, s.call(t, auth.RoleAdmin, "POST", "/api/exec/j", map[string]any{"allow_empty": true,
		"target":  map[string]any{"all": true},
		"rollout": map[string]any{"waves": []any{map[string]any{"percent": 50, "delay": "1h"}, map[string]any{"rest": true, "delay": "2h"}}}}), 200).json(t, &er)
	path := "/api/executions/" + er.ExecID
	must(t, s.call(t, auth.RoleViewer, "POST", path+"/pause", nil), http.StatusForbidden)
	must(t, s.call(t, auth.RoleOperator, "POST", path+"/pause", nil), 200)
	var d apiv1.ExecutionDetail
	must(t, s.call(t, auth.RoleViewer, "GET", path, nil), 200).json(t, &d)
	if d.RolloutState != apiv1.RolloutPaused || d.PendingWaves != 2 {
		t.Fatalf("after pause: %+v", d.Execution)
	}
	must(t, s.call(t, auth.RoleViewer, "POST", path+"/resume", nil), http.StatusForbidden)
	must(t, s.call(t, auth.RoleOperator, "POST", path+"/resume", nil), 200)
	must(t, s.call(t, auth.RoleViewer, "POST", path+"/cancel", nil), http.StatusForbidden)

	// A scoped operator: refused even for its own account's executions.
	ctx := context.Background()
	if _, err := s.b.Auth.Users().Create(ctx, auth.NewUser{Username: "scoped-op", Password: "correct horse battery scoped",
		Role: auth.RoleOperator, Groups: []string{"canary"}}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.b.Auth.IssueToken(ctx, "scoped-op")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"pause", "resume", "cancel"} {
		must(t, s.callToken(t, tok, "POST", path+"/"+a, nil), http.StatusForbidden)
	}
	testenv.Eventually(t, 30*time.Second, "pause and resume audited with the operator", func() bool {
		var audit []apiv1.AuditEntry
		must(t, s.call(t, auth.RoleAdmin, "GET", "/api/audit", nil), 200).json(t, &audit)
		var actions []string
		for _, e := range audit {
			if e.Actor == "sweep-operator" && e.Target == er.ExecID {
				actions = append(actions, e.Action)
			}
		}
		return slices.Contains(actions, "exec.pause") && slices.Contains(actions, "exec.resume")
	})
	must(t, s.call(t, auth.RoleOperator, "POST", path+"/cancel", nil), 200)
}
