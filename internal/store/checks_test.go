package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// checkRes is result n of check "disk" on pc with verdict v.
func checkRes(pc string, n int, v check.Verdict, thr int) store.Result {
	code := 0
	if v == check.Fail {
		code = 1
	}
	r := res(fmt.Sprintf("r-%s-%d", pc, n), "", pc, code, t0.Add(time.Duration(n)*time.Minute))
	r.ManifestID = "disk"
	r.Check = &store.CheckEval{Verdict: v, Severity: "critical", FlapThreshold: thr}
	return r
}

func applyRes(t *testing.T, db *store.DB, rs ...store.Result) store.ResultOutcome {
	t.Helper()
	return mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, rs))
}

func statusOf(t *testing.T, db *store.DB, pc string) apiv1.CheckStatus {
	t.Helper()
	l := mustT[store.Listing[apiv1.CheckStatus]](t)(db.PageCheckStatus(ctx, store.CheckStatusFilter{CheckID: "disk", PCID: pc}, store.Page{Limit: 10}))
	if len(l.Rows) != 1 {
		t.Fatalf("status rows of %s: %+v", pc, l.Rows)
	}
	return l.Rows[0]
}

func transitions(t *testing.T, db *store.DB) []store.AlertTransition {
	t.Helper()
	return mustT[[]store.AlertTransition](t)(db.AlertTransitionsSince(ctx, "", "", 1000))
}

// Flap suppression, reserved results, resolution and the outbox; every
// result applied twice (redelivery) and the whole history re-applied.
func TestCheckStatusFlapAndAlerts(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		var all []store.Result
		step := func(r store.Result) store.ResultOutcome {
			t.Helper()
			all = append(all, r)
			out := applyRes(t, db, r)
			if again := applyRes(t, db, r); len(again.Transitions) != 0 || len(again.Changed) != 0 {
				t.Fatalf("redelivery changed %+v", again)
			}
			return out
		}
		step(checkRes("pc1", 1, check.Fail, 2))
		if s := statusOf(t, db, "pc1"); s.State != apiv1.CheckUnknown || s.Consecutive != 1 {
			t.Fatalf("after one failure: %+v", s)
		}
		// A skip and a reserved exit code change nothing.
		skip := checkRes("pc1", 2, check.None, 2)
		skip.Skipped, skip.ExitCode = true, wire.ExitVersionPin
		step(skip)
		if s := statusOf(t, db, "pc1"); s.Consecutive != 1 || s.LastResultID != "r-pc1-1" {
			t.Fatalf("after a skip: %+v", s)
		}
		out := step(checkRes("pc1", 3, check.Fail, 2))
		s := statusOf(t, db, "pc1")
		if s.State != apiv1.CheckFailing || s.Consecutive != 2 || !s.Since.Equal(t0.Add(3*time.Minute)) {
			t.Fatalf("after two failures: %+v", s)
		}
		if len(out.Transitions) != 1 || out.Transitions[0].Key != "chk-r-pc1-3:opened" || out.Transitions[0].Severity != "critical" {
			t.Fatalf("transitions %+v", out.Transitions)
		}
		step(checkRes("pc1", 4, check.Fail, 2)) // still failing: no second alert
		open := mustT[store.Listing[apiv1.Alert]](t)(db.PageAlerts(ctx, store.AlertFilter{State: "open"}, store.Page{Limit: 10}))
		if len(open.Rows) != 1 || open.Rows[0].ID != "chk-r-pc1-3" || open.Rows[0].CheckID != "disk" || open.Rows[0].Kind != "check" {
			t.Fatalf("open alerts %+v", open.Rows)
		}
		// An ack, applied twice (the second actor loses).
		for _, who := range []string{"alice", "bob"} {
			_ = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{{Kind: wire.AlertAck, AlertID: "chk-r-pc1-3", At: t0, Actor: who}}))
		}
		if a, _, _ := db.GetAlert(ctx, "chk-r-pc1-3"); a.AckedBy == nil || *a.AckedBy != "alice" {
			t.Fatalf("ack %+v", a)
		}
		out = step(checkRes("pc1", 5, check.Pass, 2))
		if s := statusOf(t, db, "pc1"); s.State != apiv1.CheckPassing || s.Consecutive != 0 {
			t.Fatalf("after a pass: %+v", s)
		}
		if len(out.Transitions) != 1 || out.Transitions[0].Key != "chk-r-pc1-3:resolved" {
			t.Fatalf("resolve transitions %+v", out.Transitions)
		}
		// One failure after a pass is suppressed again.
		step(checkRes("pc1", 6, check.Fail, 2))
		if s := statusOf(t, db, "pc1"); s.State != apiv1.CheckPassing || s.Consecutive != 1 {
			t.Fatalf("one failure after a pass: %+v", s)
		}
		step(checkRes("pc2", 1, check.Pass, 2))
		step(checkRes("pc3", 1, check.Fail, 1))
		ts := transitions(t, db)
		if len(ts) != 3 {
			t.Fatalf("transitions %+v", ts)
		}
		// Paging the outbox by (at, key).
		first := mustT[[]store.AlertTransition](t)(db.AlertTransitionsSince(ctx, "", "", 1))
		rest := mustT[[]store.AlertTransition](t)(db.AlertTransitionsSince(ctx, store.TS(first[0].At), first[0].Key, 10))
		if len(first) != 1 || len(rest) != 2 || rest[0].Key == first[0].Key {
			t.Fatalf("paging: %+v then %+v", first, rest)
		}
		checks := mustT[store.Listing[apiv1.CheckSummary]](t)(db.PageChecks(ctx, store.Page{Limit: 10}))
		if len(checks.Rows) != 1 {
			t.Fatalf("checks %+v", checks.Rows)
		}
		if c := checks.Rows[0]; c.ID != "disk" || c.Passing != 2 || c.Failing != 1 || c.Unknown != 0 || c.CompliancePct != 66.7 || c.Severity != "critical" {
			t.Fatalf("summary %+v", c)
		}
		// Everything again, in one batch: nothing changes.
		if again := applyRes(t, db, all...); len(again.Transitions) != 0 {
			t.Fatalf("replay over the same rows wrote %+v", again.Transitions)
		}
		if n := len(transitions(t, db)); n != 3 {
			t.Fatalf("transitions after replay: %d", n)
		}
	})
}

// A batch replayed into an empty database rebuilds the same rows, and an
// ack projected before its alert is kept.
func TestCheckReplayRebuilds(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		_ = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{{Kind: wire.AlertAck, AlertID: "chk-r-pc1-1", At: t0, Actor: "alice"}}))
		applyRes(t, db, checkRes("pc1", 1, check.Fail, 1), checkRes("pc1", 2, check.Fail, 1), checkRes("pc1", 3, check.Pass, 1),
			checkRes("pc1", 4, check.Fail, 1))
		alerts := mustT[store.Listing[apiv1.Alert]](t)(db.PageAlerts(ctx, store.AlertFilter{}, store.Page{Limit: 10}))
		if len(alerts.Rows) != 2 || alerts.Rows[0].ID != "chk-r-pc1-4" || alerts.Rows[1].AckedBy == nil || alerts.Rows[1].State != "resolved" {
			t.Fatalf("alerts %+v", alerts.Rows)
		}
		if n := len(transitions(t, db)); n != 3 {
			t.Fatalf("transitions %d", n)
		}
	})
}

func TestOfflineAlertEvents(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		id := store.OfflineAlertID("pc1", t0)
		open := wire.AlertEvent{Kind: wire.AlertOfflineOpened, AlertID: id, PCID: "pc1", At: t0.Add(10 * time.Minute)}
		done := wire.AlertEvent{Kind: wire.AlertOfflineResolved, AlertID: id, PCID: "pc1", At: t0.Add(20 * time.Minute)}
		out := mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{open, open}))
		if len(out.Transitions) != 1 {
			t.Fatalf("open twice: %+v", out)
		}
		// A second silence id while one is open: at most one open per PC.
		other := open
		other.AlertID = store.OfflineAlertID("pc1", t0.Add(time.Second))
		if out := mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{other})); len(out.Transitions) != 0 {
			t.Fatalf("second open alert: %+v", out)
		}
		out = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{done, done, open}))
		if len(out.Transitions) != 1 || out.Transitions[0].Transition != "resolved" {
			t.Fatalf("resolve: %+v", out)
		}
		a, found, err := db.GetAlert(ctx, id)
		if err != nil || !found || a.State != "resolved" || a.Kind != apiv1.AlertKindOffline || a.CheckID != "" || a.Severity != "warning" {
			t.Fatalf("alert %+v %v %v", a, found, err)
		}
		// A deleted PC: its open alert resolves, once; other PCs' stay open.
		id2 := store.OfflineAlertID("pc1", t0.Add(time.Hour))
		open2 := wire.AlertEvent{Kind: wire.AlertOfflineOpened, AlertID: id2, PCID: "pc1", At: t0.Add(time.Hour)}
		id3 := store.OfflineAlertID("pc2", t0.Add(time.Hour))
		open3 := wire.AlertEvent{Kind: wire.AlertOfflineOpened, AlertID: id3, PCID: "pc2", At: t0.Add(time.Hour)}
		forget := wire.AlertEvent{Kind: wire.AlertPCForgotten, AlertID: "forget-pc1-1", PCID: "pc1", At: t0.Add(2 * time.Hour)}
		out = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{open2, open3, forget, forget}))
		if len(out.Transitions) != 3 || out.Transitions[2].AlertID != id2 || out.Transitions[2].Transition != "resolved" {
			t.Fatalf("forget: %+v", out.Transitions)
		}
		if a, _, _ := db.GetAlert(ctx, id3); a.State != "open" {
			t.Fatalf("another PC's alert: %+v", a)
		}
	})
}
