package store_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func requested(id string, target, waves int) wire.ExecRequested {
	return wire.ExecRequested{Kind: wire.ExecRequestedKind, ExecID: id, JobID: "inv-hw", Version: "1.0.0", InitiatedBy: "tester",
		InitiatedAt: t0, TargetCount: target, PendingWaves: waves, Plan: json.RawMessage(`{"target":{"all":true}}`)}
}

func fanout(id string, sent int, failed ...string) wire.ExecRequested {
	return wire.ExecRequested{Kind: wire.ExecFanoutKind, ExecID: id, SubjectsSent: sent, SubjectsFailed: failed}
}

func applyExec(t *testing.T, db *store.DB, evs ...wire.ExecRequested) {
	t.Helper()
	_ = mustT[[]store.ExecProgress](t)(db.ApplyExecEvents(ctx, evs))
}

// Every ExecRequested message applies once however often it arrives, and
// the row it builds is the row the API wrote.
func TestExecEventsIdempotent(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		evs := []wire.ExecRequested{requested("e1", 2, 2), fanout("e1", 1),
			{Kind: wire.ExecWaveSentKind, ExecID: "e1", Wave: 1, TargetsAdded: 3},
			{Kind: wire.ExecWaveCancelledKind, ExecID: "e1", Wave: 2}}
		applyExec(t, db, evs...)
		first := execRow(t, db, "e1")
		want := apiv1.Execution{ExecID: "e1", JobID: "inv-hw", Version: "1.0.0", InitiatedBy: "tester", InitiatedAt: t0,
			TargetCount: 5, Status: apiv1.ExecPending, SubjectsSent: 2}
		if !equalExec(first, want) {
			t.Fatalf("row %+v, want %+v", first, want)
		}
		// Redelivery, one by one and all at once, in another order.
		for _, e := range evs {
			applyExec(t, db, e)
		}
		rev := slices.Clone(evs)
		slices.Reverse(rev)
		applyExec(t, db, rev...)
		// A wave's other fate after it was applied changes nothing either.
		applyExec(t, db, wire.ExecRequested{Kind: wire.ExecWaveCancelledKind, ExecID: "e1", Wave: 1},
			wire.ExecRequested{Kind: wire.ExecWaveSentKind, ExecID: "e1", Wave: 2, TargetsAdded: 9})
		if again := execRow(t, db, "e1"); !equalExec(again, first) {
			t.Fatalf("after redelivery %+v, want %+v", again, first)
		}
		// Messages of an execution without a row change nothing.
		applyExec(t, db, fanout("nobody", 1), wire.ExecRequested{Kind: wire.ExecWaveSentKind, ExecID: "nobody", Wave: 0})
		if n := count(t, db, "SELECT COUNT(*) FROM executions"); n != 1 {
			t.Fatalf("rows = %d", n)
		}
	})
}

func equalExec(a, b apiv1.Execution) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// A replay may project results before their execution: the row created
// later counts them, and a result arriving after still counts once.
func TestExecRowAfterItsResults(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		skip := res("r3", "e1", "pc3", wire.ExitDeadline, t0)
		skip.Skipped = true
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, t0),
			res("r2", "e1", "pc2", 2, t0), skip}))
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r4", "e1", "pc4", t0)}))
		applyExec(t, db, requested("e1", 4, 0), fanout("e1", 1))
		x := execRow(t, db, "e1")
		if x.SuccessCount != 1 || x.FailureCount != 1 || x.SkippedCount != 1 || x.Status != apiv1.ExecRunning {
			t.Fatalf("row from earlier results: %+v", x)
		}
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r4", "e1", "pc4", 0, t0), res("r1", "e1", "pc1", 0, t0)}))
		if x := execRow(t, db, "e1"); x.SuccessCount != 2 || x.Status != apiv1.ExecCompleted {
			t.Fatalf("after the last result: %+v", x)
		}
		// Requested again (the projector after the API): nothing recounted.
		applyExec(t, db, requested("e1", 4, 0))
		if x := execRow(t, db, "e1"); x.SuccessCount != 2 || x.FailureCount != 1 || x.Status != apiv1.ExecCompleted {
			t.Fatalf("after a second requested: %+v", x)
		}
	})
}

// A fan-out the broker cut short: the row says what was sent and what was
// not, the targets only the failed subjects reached are dropped, per_pc
// dispatch rows of PCs that never got the command are forgotten, and an
// execution that reached nothing is expired at once.
func TestExecPartialFanout(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		r := requested("e1", 3, 0)
		r.Schedule = &wire.ExecSchedule{ID: "s1", PCs: []string{"pc1", "pc2", "pc3"}, DispatchedAt: t0.Add(-time.Second)}
		f := fanout("e1", 1, "commands.pc.pc2", "commands.pc.pc3")
		f.TargetsLost = 2
		applyExec(t, db, r, f, r, f)
		x := execRow(t, db, "e1")
		if x.TargetCount != 1 || x.SubjectsSent != 1 || !slices.Equal(x.SubjectsFailed, []string{"commands.pc.pc2", "commands.pc.pc3"}) ||
			x.Status != apiv1.ExecPending {
			t.Fatalf("partial row: %+v", x)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM schedule_dispatches WHERE exec_id = 'e1' AND pc_id = 'pc1'"); n != 1 {
			t.Fatalf("dispatch row of the PC that got it: %d", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM schedule_dispatches WHERE exec_id = 'e1'"); n != 1 {
			t.Fatalf("dispatch rows left: %d", n)
		}
		applyExec(t, db, requested("e2", 5, 1), wire.ExecRequested{Kind: wire.ExecFanoutKind, ExecID: "e2",
			SubjectsFailed: []string{"commands.all"}, TargetsLost: 5, WavesLost: 1})
		if x := execRow(t, db, "e2"); x.Status != apiv1.ExecExpired || x.SubjectsSent != 0 || x.PendingWaves != 0 || x.TargetCount != 1 {
			t.Fatalf("fan-out that reached nothing: %+v", x)
		}
	})
}

// Results and the executions row arriving at the same moment (two
// projectors replaying side by side): every result is counted exactly once.
func TestExecRowRacingItsResults(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		const n = 40
		done := make(chan error, 2)
		go func() {
			for i := range n {
				id := fmt.Sprintf("e%02d", i)
				if _, err := db.ApplyResults(ctx, []store.Result{res(id+"-a", id, "pc1", 0, t0), res(id+"-b", id, "pc2", 1, t0)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		go func() {
			for i := range n {
				if _, err := db.ApplyExecEvents(ctx, []wire.ExecRequested{requested(fmt.Sprintf("e%02d", i), 2, 0)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		ok(t, <-done)
		ok(t, <-done)
		for i := range n {
			if x := execRow(t, db, fmt.Sprintf("e%02d", i)); x.SuccessCount != 1 || x.FailureCount != 1 || x.Status != apiv1.ExecCompleted {
				t.Fatalf("e%02d: %+v", i, x)
			}
		}
	})
}

// A started event projected after its result (live, or a replay in the
// other order) still dates the row's expiry: both orders give one row.
func TestStartedAfterResultFillsExpiry(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		exp := t0.Add(150 * time.Second)
		s := st("r1", "e1", "pc1", t0)
		s.ExpiresAt = &exp
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, t0.Add(time.Second))}))
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{s}))
		r := result(t, db, "r1")
		if r.ExpiresAt == nil || !r.ExpiresAt.Equal(exp) || !r.RecordedAt.Equal(t0) || r.Status != apiv1.ResultSuccess {
			t.Fatalf("row: %+v", r)
		}
	})
}
