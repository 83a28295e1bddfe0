package projector_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/projector"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

var t0 = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)

func started(result, exec, pc, job string) wire.EventStarted {
	return wire.EventStarted{ResultID: result, RequestID: "req-" + exec, ExecID: exec, PCID: pc, StartedAt: t0,
		ManifestID: job, Version: "1.0.0"}
}

func result(resultID, exec, pc string, code int) wire.ExecResult {
	return wire.ExecResult{ResultID: resultID, RequestID: "req-" + exec, ExecID: exec, PCID: pc, ManifestID: "inv-hw",
		Version: "1.0.0", ExitCode: code, Stdout: "out-" + resultID, StartedAt: t0, FinishedAt: t0.Add(5 * time.Second)}
}

type env struct {
	t *testing.T
	b *server.Server
}

func start(t *testing.T) *env {
	return &env{t: t, b: testenv.Backend(t, nil)}
}

func (e *env) publish(subject string, v any) {
	e.t.Helper()
	var data []byte
	switch x := v.(type) {
	case []byte:
		data = x
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.b.JS.Publish(context.Background(), subject, data); err != nil {
		e.t.Fatalf("publish %s: %v", subject, err)
	}
}

func (e *env) started(s wire.EventStarted) { e.publish(bus.EventStarted(s.ExecID, s.PCID), s) }
func (e *env) result(r wire.ExecResult)    { e.publish(bus.ResultFrom(r.PCID, r.RequestID), r) }

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := store.TestQueryRow(e.t, e.b.DB, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) waitCount(want int, q string, args ...any) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, q, func() bool { return e.count(q, args...) == want })
}

// waitProjected waits until every message of every projected stream has
// been acknowledged by its consumer.
func (e *env) waitProjected() {
	e.t.Helper()
	ctx := context.Background()
	testenv.Eventually(e.t, 15*time.Second, "projectors caught up", func() bool {
		for _, c := range [][2]string{{bus.StreamEvents, bus.ConsumerEvents}, {bus.StreamResults, bus.ConsumerResults}, {bus.StreamAudit, bus.ConsumerAudit},
			{bus.StreamExecs, bus.ConsumerExecs}, {bus.StreamInventory, bus.ConsumerInventory}} {
			cons, err := e.b.JS.Consumer(ctx, c[0], c[1])
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
			// A message NAKed for a later retry counts as neither pending
			// nor ack-pending: require the ack floor to reach the stream's end.
			st, err := e.b.JS.Stream(ctx, c[0])
			if err != nil {
				return false
			}
			si, err := st.Info(ctx)
			if err != nil || info.AckFloor.Stream < si.State.LastSeq {
				return false
			}
		}
		return true
	})
}

func (e *env) execution(id string, target int, status apiv1.ExecutionStatus) {
	e.t.Helper()
	if err := e.b.DB.CreateExecution(context.Background(), apiv1.Execution{ExecID: id, JobID: "inv-hw", Version: "1.0.0",
		InitiatedBy: "tester", TargetCount: target, Status: status}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) execRow(id string) apiv1.Execution {
	e.t.Helper()
	x, ok, err := e.b.DB.GetExecution(context.Background(), id)
	if err != nil || !ok {
		e.t.Fatalf("execution %s: ok=%v err=%v", id, ok, err)
	}
	return x
}

func TestStartedCreatesInflightRow(t *testing.T) {
	e := start(t)
	e.started(started("r1", "e1", "pc1", "inv-hw"))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'r1'")
	r, ok, err := e.b.DB.GetResult(context.Background(), "r1")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if r.ExitCode != nil || r.FinishedAt != nil || r.Status != "running" {
		t.Fatalf("in-flight row must have no exit_code/finished_at: %+v", r)
	}
	if r.RecordedAt.IsZero() || r.ExpiresAt != nil {
		t.Fatalf("recorded_at must be set and expires_at NULL for an unknown job: %+v", r)
	}
}

func TestStartedRedeliveryIdempotent(t *testing.T) {
	e := start(t)
	s := started("r1", "e1", "pc1", "inv-hw")
	e.started(s)
	e.started(s)
	e.waitProjected()
	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id = 'r1'"); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
}

func TestStartedAfterResultLeavesFinishedRow(t *testing.T) {
	e := start(t)
	e.execution("e1", 1, "pending")
	e.result(result("r1", "e1", "pc1", 0))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'r1' AND finished_at IS NOT NULL")
	e.started(started("r1", "e1", "pc1", "inv-hw"))
	e.waitProjected()
	r, _, _ := e.b.DB.GetResult(context.Background(), "r1")
	if r.FinishedAt == nil || r.ExitCode == nil || *r.ExitCode != 0 || *r.Stdout != "out-r1" {
		t.Fatalf("finished row was clobbered: %+v", r)
	}
	if x := e.execRow("e1"); x.Status != "completed" || x.SuccessCount != 1 {
		t.Fatalf("execution = %+v, want completed with 1 success (a late started must not demote it)", x)
	}
}

func TestBroadcastOneRowPerPC(t *testing.T) {
	e := start(t)
	for _, pc := range []string{"pc1", "pc2", "pc3"} {
		e.started(started("r-"+pc, "e1", pc, "inv-hw"))
	}
	e.waitCount(3, "SELECT COUNT(*) FROM execution_results WHERE exec_id = 'e1'")
}

func putJob(t *testing.T, b *server.Server, id, timeout string) {
	t.Helper()
	kv, err := b.JS.KeyValue(context.Background(), bus.KVJobs)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"id": id, "version": "1", "execute": map[string]any{"shell": "sh", "script": "true", "timeout": timeout}}
	data, _ := json.Marshal(doc)
	if _, err := kv.Put(context.Background(), id, data); err != nil {
		t.Fatal(err)
	}
}

func TestExpiresAtFromJobTimeout(t *testing.T) {
	e := start(t)
	// Registered after the backend started: the watched cache must see them.
	putJob(t, e.b, "short", "20s")
	putJob(t, e.b, "long", "1h")
	testenv.Eventually(t, 5*time.Second, "job cache", func() bool {
		_, a := e.b.Jobs.Timeout("short")
		_, b := e.b.Jobs.Timeout("long")
		return a && b
	})
	e.started(started("r-short", "e1", "pc1", "short"))
	e.started(started("r-long", "e2", "pc1", "long"))
	e.waitCount(2, "SELECT COUNT(*) FROM execution_results WHERE expires_at IS NOT NULL")
	for id, want := range map[string]time.Duration{"r-short": 140 * time.Second, "r-long": 90 * time.Minute} {
		r, _, _ := e.b.DB.GetResult(context.Background(), id)
		if got := r.ExpiresAt.Sub(r.RecordedAt); got != want {
			t.Errorf("%s: expires_at - recorded_at = %s, want %s", id, got, want)
		}
	}
}

func TestReapDeadline(t *testing.T) {
	cases := []struct {
		timeout, want time.Duration
	}{
		{20 * time.Second, 140 * time.Second},
		{time.Hour, 90 * time.Minute},
		{time.Duration(1<<63 - 1), 365 * 24 * time.Hour}, // overflow clamps
		{-time.Second, 365 * 24 * time.Hour},
	}
	for _, c := range cases {
		if got := projector.ReapDeadline(c.timeout, t0).Sub(t0); got != c.want {
			t.Errorf("ReapDeadline(%s) = +%s, want +%s", c.timeout, got, c.want)
		}
	}
}

func TestPromotionOnlyFromPending(t *testing.T) {
	e := start(t)
	e.execution("pend", 2, "pending")
	e.execution("done", 1, "completed")
	e.execution("gone", 1, "expired")
	e.started(started("r1", "pend", "pc1", "inv-hw"))
	e.started(started("r2", "done", "pc1", "inv-hw"))
	e.started(started("r3", "gone", "pc1", "inv-hw"))
	e.started(started("r4", "nope", "pc1", "inv-hw")) // no executions row: harmless
	e.waitProjected()
	for id, want := range map[string]apiv1.ExecutionStatus{"pend": "running", "done": "completed", "gone": "expired"} {
		if got := e.execRow(id).Status; got != want {
			t.Errorf("%s: status %s, want %s", id, got, want)
		}
	}
}

func TestResultWithoutExecutionRow(t *testing.T) {
	e := start(t)
	// An ad-hoc run sent by the CLI straight to NATS has no executions row.
	e.result(result("adhoc-1", "cli-exec", "pc1", 3))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'adhoc-1' AND exit_code = 3")
}

func TestCountersExactlyOnceAndCompletion(t *testing.T) {
	e := start(t)
	e.execution("e1", 3, "pending")
	e.started(started("r1", "e1", "pc1", "inv-hw"))
	r1 := result("r1", "e1", "pc1", 0)
	e.result(r1)
	e.result(r1) // redelivered
	r2 := result("r2", "e1", "pc2", 2)
	e.result(r2)
	skip := result("r3", "e1", "pc3", wire.ExitRevoked)
	skip.Skipped = true
	e.waitProjected()
	if x := e.execRow("e1"); x.Status != "running" || x.SuccessCount != 1 || x.FailureCount != 1 {
		t.Fatalf("after 2 of 3: %+v", x)
	}
	e.result(skip)
	e.started(started("r1", "e1", "pc1", "inv-hw")) // late duplicate start
	e.waitProjected()
	x := e.execRow("e1")
	if x.Status != "completed" || x.SuccessCount != 1 || x.FailureCount != 1 || x.SkippedCount != 1 {
		t.Fatalf("after 3 of 3: %+v", x)
	}
	list, total, err := e.b.DB.ListResults(context.Background(), store.ResultFilter{ExecID: "e1", Status: "skipped"}, store.Page{Limit: 10})
	if err != nil || total != 1 || list[0].ResultID != "r3" {
		t.Fatalf("skipped filter: %v %d %+v", err, total, list)
	}
}

func TestMalformedBetweenGoodOnes(t *testing.T) {
	e := start(t)
	e.result(result("good-1", "e1", "pc1", 0))
	e.publish("results.bad", []byte("{not json"))
	e.publish("results.bad2", []byte(`{"result_id": ""}`))
	e.result(result("good-2", "e1", "pc2", 0))
	e.started(started("s1", "e1", "pc1", "x"))
	e.publish("events.started.e1.pc9", []byte("\x00\x01garbage"))
	e.started(started("s2", "e1", "pc2", "x"))
	e.publish("audit.x.y", []byte(`[]`))
	e.waitProjected()
	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id IN ('good-1', 'good-2', 's1', 's2')"); n != 4 {
		t.Fatalf("good rows = %d, want 4", n)
	}
}

func TestReaperThenLateResult(t *testing.T) {
	e := start(t)
	putJob(t, e.b, "short", "20s")
	testenv.Eventually(t, 5*time.Second, "job cache", func() bool { _, ok := e.b.Jobs.Timeout("short"); return ok })
	e.execution("e1", 1, "pending")
	s := started("r1", "e1", "pc1", "short")
	e.started(s)
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE expires_at IS NOT NULL")
	ctx := context.Background()
	// Not yet due.
	if out, err := e.b.DB.Reap(ctx, time.Now()); err != nil || out.Reaped != 0 {
		t.Fatalf("early reap: %+v %v", out, err)
	}
	out, err := e.b.DB.Reap(ctx, time.Now().Add(3*time.Minute))
	if err != nil || out.Reaped != 1 {
		t.Fatalf("reap: %+v %v", out, err)
	}
	r, _, _ := e.b.DB.GetResult(ctx, "r1")
	if !r.Reaped || r.ExitCode == nil || *r.ExitCode != -1 || r.Status != "failure" {
		t.Fatalf("reaped row: %+v", r)
	}
	if x := e.execRow("e1"); x.FailureCount != 1 || x.Status != "completed" {
		t.Fatalf("reaped row must count as a failure: %+v", x)
	}
	// Reaping again changes nothing.
	if out, _ := e.b.DB.Reap(ctx, time.Now().Add(time.Hour)); out.Reaped != 0 {
		t.Fatalf("second reap reaped %d", out.Reaped)
	}
	// The late real result replaces the placeholder, without a second count.
	late := result("r1", "e1", "pc1", 0)
	e.result(late)
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'r1' AND reaped = 0 AND exit_code = 0")
	if x := e.execRow("e1"); x.FailureCount != 1 || x.SuccessCount != 0 {
		t.Fatalf("late result must not be counted again: %+v", x)
	}
}

func TestReaperFallbackAndPendingExpiry(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.execution("old", 1, "pending")
	e.started(started("r1", "x", "pc1", "unknown-job")) // no expires_at: 24 h fallback from started_at (t0, long ago)
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results")
	out, err := e.b.DB.Reap(ctx, time.Now().Add(2*time.Hour))
	if err != nil || out.Reaped != 1 || out.Expired != 1 {
		t.Fatalf("reap: %+v %v", out, err)
	}
	if x := e.execRow("old"); x.Status != "expired" {
		t.Fatalf("pending execution older than 1h: %s", x.Status)
	}
}

func TestRetentionDeletesOldRows(t *testing.T) {
	e := start(t)
	e.result(result("r1", "e1", "pc1", 0))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results")
	deleted, err := e.b.DB.Retain(context.Background(), time.Now().Add(91*24*time.Hour))
	if err != nil || deleted["execution_results"] != 1 {
		t.Fatalf("retain: %v %v", deleted, err)
	}
}

func TestAuditProjectedOnceBySequence(t *testing.T) {
	e := start(t)
	if err := e.b.Audit.Record(context.Background(), "alice@example.com", "job.create", "j1", map[string]any{"a": 1}, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	e.waitCount(1, "SELECT COUNT(*) FROM audit_log WHERE actor = 'alice@example.com' AND action = 'job.create'")
}

// TestReplayAfterWipe: wipe the database, restart on the same broker store,
// every row comes back with the same recorded_at.
func TestReplayAfterWipe(t *testing.T) {
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	mk := func(c *server.Config) { c.DataDir = dir; c.NATSAddr = natsAddr }
	b := testenv.Backend(t, mk)
	e := &env{t: t, b: b}
	for i, pc := range []string{"pc1", "pc2", "pc3"} {
		e.started(started("r"+pc, "e1", pc, "inv-hw"))
		if i < 2 {
			e.result(result("r"+pc, "e1", pc, i))
		}
	}
	e.result(result("only-result", "e2", "pc1", 0))
	if err := b.Audit.Record(context.Background(), "bob", "freeze.set", "", map[string]any{}, ""); err != nil {
		t.Fatal(err)
	}
	e.waitProjected()
	before := snapshot(t, b.DB)
	if len(before) != 4 {
		t.Fatalf("rows before wipe: %d", len(before))
	}
	b.Stop(context.Background())
	testenv.WipeDB(t, dir)
	b2 := testenv.Backend(t, mk)
	e2 := &env{t: t, b: b2}
	e2.waitCount(3, "SELECT COUNT(*) FROM execution_results WHERE finished_at IS NOT NULL")
	e2.waitCount(1, "SELECT COUNT(*) FROM audit_log")
	e2.waitProjected()
	after := snapshot(t, b2.DB)
	if len(after) != len(before) {
		t.Fatalf("rows after replay: %d, want %d", len(after), len(before))
	}
	for id, rec := range before {
		if after[id] != rec {
			t.Errorf("%s: recorded_at %s after replay, was %s", id, after[id], rec)
		}
	}
}

func snapshot(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	rows := store.TestQuery(t, db, "SELECT result_id, recorded_at || '|' || COALESCE(finished_at, '') || '|' || COALESCE(CAST(exit_code AS TEXT), '') FROM execution_results")
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}
