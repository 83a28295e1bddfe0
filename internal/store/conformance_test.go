package store_test

// The store conformance suite: every projection semantic (SPEC §5) and
// every query the API uses, run against SQLite and — when
// KANADE_TEST_POSTGRES holds an admin DSN (.ci/postgres.sh) — against a
// fresh PostgreSQL database per test, through both PostgreSQL projection
// paths (set-based and per-row).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

var ctx = context.Background()

var t0 = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)

type dbCase struct {
	name   string
	dsn    func(t *testing.T) string // "" = a SQLite file in a temp dir
	pg     bool
	perRow bool
}

func (c dbCase) open(t *testing.T) *store.DB {
	return c.openDSN(t, c.dsn(t))
}

func (c dbCase) openDSN(t *testing.T, dsn string) *store.DB {
	db := open(t, dsn)
	db.PGPerRow = c.perRow
	return db
}

func cases(projection bool) []dbCase {
	// The PostgreSQL cases are always listed: without KANADE_TEST_POSTGRES
	// testdb.NewPostgres skips them visibly (and fails them when
	// KANADE_TEST_REQUIRE_POSTGRES=1, as in .ci/run).
	out := []dbCase{{name: "sqlite", dsn: func(t *testing.T) string { return "" }}}
	out = append(out, dbCase{name: "postgres", pg: true, dsn: func(t *testing.T) string { return testdb.NewPostgres(t) }})
	if projection {
		out = append(out, dbCase{name: "postgres-per-row", pg: true, perRow: true,
			dsn: func(t *testing.T) string { return testdb.NewPostgres(t) }})
	}
	return out
}

func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, dsn, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open %s: %v", testdb.Describe(dsn), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eachDB runs fn on every database (projection=true adds the per-row
// PostgreSQL path).
func eachDB(t *testing.T, projection bool, fn func(t *testing.T, db *store.DB)) {
	for _, c := range cases(projection) {
		t.Run(c.name, func(t *testing.T) { fn(t, c.open(t)) })
	}
}

func st(result, exec, pc string, recorded time.Time) store.Started {
	return store.Started{EventStarted: wire.EventStarted{ResultID: result, RequestID: "req-" + exec, ExecID: exec, PCID: pc,
		StartedAt: t0, ManifestID: "inv-hw", Version: "1.0.0"}, RecordedAt: recorded}
}

func res(result, exec, pc string, code int, recorded time.Time) store.Result {
	return store.Result{ExecResult: wire.ExecResult{ResultID: result, RequestID: "req-" + exec, ExecID: exec, PCID: pc,
		ManifestID: "inv-hw", Version: "1.0.0", ExitCode: code, Stdout: "out-" + result, StartedAt: t0,
		FinishedAt: t0.Add(5 * time.Second)}, RecordedAt: recorded}
}

func must[T any](t *testing.T, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func execution(t *testing.T, db *store.DB, id string, target int, status apiv1.ExecutionStatus) {
	t.Helper()
	ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: id, JobID: "inv-hw", Version: "1.0.0", InitiatedBy: "tester",
		InitiatedAt: t0, TargetCount: target, Status: status}))
}

func execRow(t *testing.T, db *store.DB, id string) apiv1.Execution {
	t.Helper()
	x, found, err := db.GetExecution(ctx, id)
	if err != nil || !found {
		t.Fatalf("execution %s: found=%v err=%v", id, found, err)
	}
	return x
}

func result(t *testing.T, db *store.DB, id string) apiv1.Result {
	t.Helper()
	r, found, err := db.GetResult(ctx, id)
	if err != nil || !found {
		t.Fatalf("result %s: found=%v err=%v", id, found, err)
	}
	return r
}

func count(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := store.TestQueryRow(t, db, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func ids(s []store.Started) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.ResultID)
	}
	return out
}

func TestStartedInflightAndRedelivery(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		exp := t0.Add(140 * time.Second)
		a := st("r1", "e1", "pc1", t0)
		a.ExpiresAt = &exp
		// Duplicates within one batch and across batches insert once.
		got := mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{a, st("r2", "e1", "pc2", t0), a}))
		if !slices.Equal(ids(got), []string{"r1", "r2"}) {
			t.Fatalf("inserted %v, want [r1 r2]", ids(got))
		}
		if got := mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{a})); len(got) != 0 {
			t.Fatalf("redelivery inserted %v", ids(got))
		}
		r := result(t, db, "r1")
		if r.ExitCode != nil || r.FinishedAt != nil || r.Status != "running" || r.ExpiresAt == nil || !r.ExpiresAt.Equal(exp) {
			t.Fatalf("in-flight row: %+v", r)
		}
		if r2 := result(t, db, "r2"); r2.ExpiresAt != nil {
			t.Fatalf("unknown timeout must leave expires_at NULL: %+v", r2)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM execution_results"); n != 2 {
			t.Fatalf("rows = %d", n)
		}
	})
}

// must returns a checker for a (value, error) pair.
func mustT[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T { t.Helper(); return must(t, v, err) }
}

func TestRecordedAtKeepsEarliest(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		late, early := t0.Add(time.Minute), t0
		// The result was projected first (a replay after a wipe)…
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, late)}))
		// …then its earlier started event: it dates the row, nothing else.
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r1", "e1", "pc1", early)}))
		r := result(t, db, "r1")
		if !r.RecordedAt.Equal(early) || r.FinishedAt == nil || *r.Stdout != "out-r1" {
			t.Fatalf("row: %+v", r)
		}
		// A later started event never moves it forward; in-batch duplicates
		// keep the earliest.
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r1", "e1", "pc1", late),
			st("r2", "e1", "pc2", late), st("r2", "e1", "pc2", early)}))
		if r := result(t, db, "r1"); !r.RecordedAt.Equal(early) {
			t.Fatalf("recorded_at moved to %s", r.RecordedAt)
		}
		if r := result(t, db, "r2"); !r.RecordedAt.Equal(early) {
			t.Fatalf("in-batch duplicate: recorded_at %s, want %s", r.RecordedAt, early)
		}
	})
}

func TestStartedAfterResultLeavesFinishedRow(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		execution(t, db, "e1", 1, "pending")
		out := mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, t0)}))
		if len(out.Changed) != 1 || len(out.Executions) != 1 || out.Executions[0].Status != "completed" {
			t.Fatalf("outcome %+v", out)
		}
		if got := mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r1", "e1", "pc1", t0)})); len(got) != 0 {
			t.Fatalf("late started inserted %v", ids(got))
		}
		r := result(t, db, "r1")
		if r.FinishedAt == nil || r.ExitCode == nil || *r.ExitCode != 0 || *r.Stdout != "out-r1" {
			t.Fatalf("finished row clobbered: %+v", r)
		}
		if x := execRow(t, db, "e1"); x.Status != "completed" || x.SuccessCount != 1 {
			t.Fatalf("execution %+v", x)
		}
	})
}

func TestBroadcastAndPromotion(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		execution(t, db, "pend", 3, "pending")
		execution(t, db, "done", 1, "completed")
		execution(t, db, "gone", 1, "expired")
		batch := []store.Started{st("a", "pend", "pc1", t0), st("b", "pend", "pc2", t0), st("c", "pend", "pc3", t0),
			st("d", "done", "pc1", t0), st("e", "gone", "pc1", t0), st("f", "nope", "pc1", t0)}
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, batch))
		if n := count(t, db, "SELECT COUNT(*) FROM execution_results WHERE exec_id = ?", "pend"); n != 3 {
			t.Fatalf("broadcast rows = %d", n)
		}
		for id, want := range map[string]apiv1.ExecutionStatus{"pend": "running", "done": "completed", "gone": "expired"} {
			if got := execRow(t, db, id).Status; got != want {
				t.Errorf("%s: %s, want %s", id, got, want)
			}
		}
	})
}

func TestCountersExactlyOnceAndCompletion(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		execution(t, db, "e1", 3, "pending")
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r1", "e1", "pc1", t0)}))
		r1, r2 := res("r1", "e1", "pc1", 0, t0), res("r2", "e1", "pc2", 2, t0)
		// r1 twice in one batch (redelivery) and again in the next.
		out := mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{r1, r2, r1}))
		if len(out.Changed) != 2 || len(out.Executions) != 1 {
			t.Fatalf("outcome %+v", out)
		}
		if p := out.Executions[0]; p.Status != "running" || p.SuccessCount != 1 || p.FailureCount != 1 {
			t.Fatalf("progress %+v", p)
		}
		out = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{r1, r2}))
		if len(out.Changed) != 0 || len(out.Executions) != 0 {
			t.Fatalf("redelivery changed something: %+v", out)
		}
		skip := res("r3", "e1", "pc3", wire.ExitRevoked, t0)
		skip.Skipped = true
		out = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{skip}))
		x := execRow(t, db, "e1")
		if x.Status != "completed" || x.SuccessCount != 1 || x.FailureCount != 1 || x.SkippedCount != 1 {
			t.Fatalf("after 3 of 3: %+v", x)
		}
		if len(out.Changed) != 1 || out.Changed[0].Status != "skipped" {
			t.Fatalf("outcome %+v", out)
		}
		// The in-flight row was filled, and kept its started_at.
		r := result(t, db, "r1")
		if r.Status != "success" || *r.Stdout != "out-r1" || !r.StartedAt.Equal(t0) {
			t.Fatalf("filled row %+v", r)
		}
	})
}

func TestResultFillsMissingFields(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		s := st("r1", "", "pc1", t0) // started without exec_id
		s.ManifestID, s.Version = "old-job", "0.9"
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{s}))
		r := res("r1", "e1", "pc1", 1, t0)
		r.ManifestID, r.Version = "", ""
		r.Stdout, r.Stderr = "a\x00b", "err\x00"
		r.TimedOut, r.Killed = true, true
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{r}))
		got := result(t, db, "r1")
		if got.JobID != "old-job" || got.Version != "0.9" || got.ExecID != "e1" || *got.Stdout != "ab" || *got.Stderr != "err" ||
			!got.TimedOut || !got.Killed || got.Status != "failure" {
			t.Fatalf("row %+v stdout=%q stderr=%q", got, *got.Stdout, *got.Stderr)
		}
	})
}

func TestResultWithoutExecutionRow(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		out := mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("adhoc", "cli-exec", "pc1", 3, t0)}))
		if len(out.Changed) != 1 || len(out.Executions) != 0 {
			t.Fatalf("outcome %+v", out)
		}
		if r := result(t, db, "adhoc"); r.ExitCode == nil || *r.ExitCode != 3 {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestReaperThenLateResult(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		execution(t, db, "e1", 1, "pending")
		s := st("r1", "e1", "pc1", now)
		exp := now.Add(140 * time.Second)
		s.ExpiresAt = &exp
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{s}))
		if out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now)); out.Reaped != 0 {
			t.Fatalf("early reap: %+v", out)
		}
		out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now.Add(3*time.Minute)))
		if out.Reaped != 1 || len(out.Executions) != 1 || out.Executions[0].Status != "completed" {
			t.Fatalf("reap: %+v", out)
		}
		r := result(t, db, "r1")
		if !r.Reaped || r.ExitCode == nil || *r.ExitCode != -1 || r.Status != "failure" || !strings.Contains(*r.Stderr, "reaped") {
			t.Fatalf("reaped row: %+v", r)
		}
		if x := execRow(t, db, "e1"); x.FailureCount != 1 || x.Status != "completed" {
			t.Fatalf("execution %+v", x)
		}
		if out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now.Add(time.Hour))); out.Reaped != 0 {
			t.Fatalf("second reap: %+v", out)
		}
		// The late real result replaces the placeholder without a second count.
		ro := mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, now)}))
		if len(ro.Changed) != 1 || len(ro.Executions) != 0 {
			t.Fatalf("late result outcome %+v", ro)
		}
		r = result(t, db, "r1")
		if r.Reaped || *r.ExitCode != 0 || r.Status != "success" {
			t.Fatalf("late result row %+v", r)
		}
		if x := execRow(t, db, "e1"); x.FailureCount != 1 || x.SuccessCount != 0 {
			t.Fatalf("late result counted again: %+v", x)
		}
		// And its redelivery changes nothing.
		if ro := mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, now)})); len(ro.Changed) != 0 {
			t.Fatalf("redelivered late result: %+v", ro)
		}
	})
}

func TestReaperFallbackAndPendingExpiry(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "old", JobID: "j", InitiatedAt: now.Add(-2 * time.Hour)}))
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "new", JobID: "j", InitiatedAt: now}))
		s := st("r1", "x", "pc1", now)
		s.StartedAt = now.Add(-25 * time.Hour)
		fresh := st("r2", "x", "pc2", now)
		fresh.StartedAt = now.Add(-23 * time.Hour)
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{s, fresh}))
		out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now))
		if out.Reaped != 1 || out.Expired != 1 {
			t.Fatalf("reap: %+v", out)
		}
		if x := execRow(t, db, "old"); x.Status != "expired" {
			t.Fatalf("old pending: %s", x.Status)
		}
		if x := execRow(t, db, "new"); x.Status != "pending" {
			t.Fatalf("new pending: %s", x.Status)
		}
		if r := result(t, db, "r2"); r.Reaped {
			t.Fatal("a run started 23 h ago was reaped")
		}
	})
}

// A pending execution whose later waves are still due is not expired after
// an hour; once its last wave is sent (or cancelled) it is.
func TestReaperLeavesExecutionsWithPendingWaves(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "waves", JobID: "j", InitiatedAt: now.Add(-2 * time.Hour),
			Status: "pending", PendingWaves: 2}))
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "plain", JobID: "j", InitiatedAt: now.Add(-2 * time.Hour), Status: "pending"}))
		if out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now)); out.Expired != 1 {
			t.Fatalf("reap: %+v, want only the execution without waves expired", out)
		}
		if x := execRow(t, db, "waves"); x.Status != "pending" {
			t.Fatalf("an execution with 2 pending waves became %s", x.Status)
		}
		if x := execRow(t, db, "plain"); x.Status != "expired" {
			t.Fatalf("plain pending: %s", x.Status)
		}
		ok(t, db.WavesCancelled(ctx, "waves", 1))
		if out := mustT[store.ReapOutcome](t)(db.Reap(ctx, now)); out.Expired != 0 {
			t.Fatalf("expired with one wave still due: %+v", out)
		}
		ok(t, db.WavesCancelled(ctx, "waves", 1))
		if x := execRow(t, db, "waves"); x.PendingWaves != 0 {
			t.Fatalf("pending_waves = %d after both waves were cancelled", x.PendingWaves)
		}
		_ = mustT[store.ReapOutcome](t)(db.Reap(ctx, now))
		if x := execRow(t, db, "waves"); x.Status != "expired" {
			t.Fatalf("no wave left, nothing reported, older than an hour: %s, want expired", x.Status)
		}
	})
}

func TestRetention(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		old, recent := now.Add(-91*24*time.Hour), now.Add(-time.Hour)
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("old", "e", "pc1", 0, old), res("new", "e", "pc1", 0, recent)}))
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "old", JobID: "j", InitiatedAt: old}))
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "new", JobID: "j", InitiatedAt: recent}))
		ok(t, db.InsertAudit(ctx, []store.Audit{
			{Seq: 1, AuditEvent: wire.AuditEvent{Actor: "a", Action: "x", OccurredAt: now.Add(-366 * 24 * time.Hour)}},
			{Seq: 2, AuditEvent: wire.AuditEvent{Actor: "a", Action: "x", OccurredAt: old}}}))
		att := func(seq uint64, at time.Time) store.NotifyAttempt {
			return store.NotifyAttempt{Seq: seq, NotifyAttempt: wire.NotifyAttempt{DeliveryID: fmt.Sprint("d", seq), ChannelID: "c",
				Event: "test", Attempt: 1, Status: "delivered", At: at}}
		}
		ok(t, db.InsertNotifyAttempts(ctx, []store.NotifyAttempt{att(1, now.Add(-31*24*time.Hour)), att(2, recent)}))
		_ = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{
			{Kind: wire.AlertOfflineOpened, AlertID: "off-old", PCID: "pc-old", At: old},
			{Kind: wire.AlertOfflineOpened, AlertID: "off-new", PCID: "pc-new", At: recent}}))
		deleted := mustT[map[string]int64](t)(db.Retain(ctx, now))
		want := map[string]int64{"execution_results": 1, "executions": 1, "audit_log": 1, "notification_deliveries": 1, "alert_transitions": 1}
		for k, v := range want {
			if deleted[k] != v {
				t.Errorf("%s: deleted %d, want %d", k, deleted[k], v)
			}
		}
		if n := count(t, db, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'new'"); n != 1 {
			t.Fatal("recent result deleted")
		}
	})
}

func TestAuditOnceBySequence(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		a := func(seq uint64, actor, action string, at time.Time, payload string) store.Audit {
			return store.Audit{Seq: seq, AuditEvent: wire.AuditEvent{Actor: actor, Action: action, Target: "t",
				Payload: json.RawMessage(payload), OccurredAt: at, SourceIP: "127.0.0.1"}}
		}
		batch := []store.Audit{a(1, "alice", "job.create", t0, `{"a":1}`), a(2, "bob", "freeze.set", t0.Add(time.Minute), ""),
			a(3, "alice", "job.delete", t0.Add(time.Minute), "null")}
		ok(t, db.InsertAudit(ctx, batch))
		ok(t, db.InsertAudit(ctx, batch[:2])) // redelivery
		rows, total, err := db.ListAudit(ctx, store.AuditFilter{}, store.Page{Limit: 10})
		if err != nil || total != 3 || len(rows) != 3 {
			t.Fatalf("list: %v %d %d", err, total, len(rows))
		}
		// Newest first; ties by sequence, descending.
		if rows[0].ID != 3 || rows[1].ID != 2 || rows[2].ID != 1 || string(rows[2].Payload) != `{"a":1}` || string(rows[1].Payload) != `{}` {
			t.Fatalf("order/payload: %+v", rows)
		}
		rows, total, _ = db.ListAudit(ctx, store.AuditFilter{Actor: "alice"}, store.Page{Limit: 1, Offset: 1})
		if total != 2 || len(rows) != 1 || rows[0].ID != 1 {
			t.Fatalf("actor filter page 2: %d %+v", total, rows)
		}
		rows, total, _ = db.ListAudit(ctx, store.AuditFilter{Action: "freeze.set", Since: t0.Add(time.Second)}, store.Page{Limit: 10})
		if total != 1 || rows[0].Actor != "bob" {
			t.Fatalf("action+since: %d %+v", total, rows)
		}
	})
}

func hb(pc, host string, at time.Time) store.Heartbeat {
	return store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: pc, Hostname: host, OSFamily: "linux", OSVersion: "12",
		Arch: "amd64", AgentVersion: "1.0", At: at, BootTime: t0, AgentRSSBytes: 1 << 40, AgentCPUPct: 0.25, Running: 2},
		ReceivedAt: at}
}

func TestHeartbeatsAndAgentQueries(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		stale := now.Add(-5 * time.Minute)
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{hb("pc-a", "alpha_1", now), hb("pc-b", "Beta%", now),
			hb("pc-c", "gamma", stale), hb("pc-a", "alpha-older", now.Add(-time.Second))}))
		// An older heartbeat never overwrites a newer one; an empty hostname
		// keeps the known one.
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{hb("pc-b", "beta-old", stale)}))
		empty := hb("pc-c", "", stale.Add(time.Second))
		empty.OSFamily = ""
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{empty}))
		a, found, err := db.GetAgent(ctx, "pc-a", now)
		if err != nil || !found || a.Hostname != "alpha_1" || !a.Online || a.AgentRSSBytes != 1<<40 || a.AgentCPUPct != 0.25 ||
			a.Running != 2 || a.BootTime == nil || !a.BootTime.Equal(t0) {
			t.Fatalf("pc-a: %v %v %+v", found, err, a)
		}
		if b, _, _ := db.GetAgent(ctx, "pc-b", now); b.Hostname != "Beta%" {
			t.Fatalf("older heartbeat won: %+v", b)
		}
		if c, _, _ := db.GetAgent(ctx, "pc-c", now); c.Hostname != "gamma" || c.OSFamily != "linux" || c.Online {
			t.Fatalf("empty fields overwrote: %+v", c)
		}
		if _, found, _ := db.GetAgent(ctx, "nope", now); found {
			t.Fatal("unknown agent found")
		}
		ok(t, db.ReplaceAgentGroups(ctx, "pc-a", []string{"web", "eu"}))
		ok(t, db.ReplaceAgentGroups(ctx, "pc-c", []string{"web"}))
		ok(t, db.ReplaceAgentGroups(ctx, "pc-c", []string{"web", "web"}))

		list := func(f store.AgentFilter, p store.Page) ([]string, int) {
			t.Helper()
			f.Now = now
			as, total, err := db.ListAgents(ctx, f, p)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, a := range as {
				out = append(out, a.PCID)
			}
			return out, total
		}
		check := func(name string, got []string, total int, want []string, wantTotal int) {
			t.Helper()
			if !slices.Equal(got, want) || total != wantTotal {
				t.Errorf("%s: %v (%d), want %v (%d)", name, got, total, want, wantTotal)
			}
		}
		g, n := list(store.AgentFilter{}, store.Page{Limit: 10})
		check("all", g, n, []string{"pc-a", "pc-b", "pc-c"}, 3)
		g, n = list(store.AgentFilter{Status: "online"}, store.Page{Limit: 10})
		check("online", g, n, []string{"pc-a", "pc-b"}, 2)
		g, n = list(store.AgentFilter{Status: "offline"}, store.Page{Limit: 10})
		check("offline", g, n, []string{"pc-c"}, 1)
		g, n = list(store.AgentFilter{Q: "ALPHA"}, store.Page{Limit: 10})
		check("q case-insensitive", g, n, []string{"pc-a"}, 1)
		g, n = list(store.AgentFilter{Q: "%"}, store.Page{Limit: 10})
		check("q % is literal", g, n, []string{"pc-b"}, 1)
		g, n = list(store.AgentFilter{Q: "a_"}, store.Page{Limit: 10})
		check("q _ is literal", g, n, []string{"pc-a"}, 1)
		g, n = list(store.AgentFilter{Q: `\`}, store.Page{Limit: 10})
		check(`q \ is literal`, g, n, nil, 0)
		g, n = list(store.AgentFilter{Group: "web"}, store.Page{Limit: 10})
		check("group", g, n, []string{"pc-a", "pc-c"}, 2)
		// Group scopes (SPEC §16): in the SQL, so totals and pages fit.
		g, n = list(store.AgentFilter{Scope: []string{"eu"}}, store.Page{Limit: 10})
		check("scope eu", g, n, []string{"pc-a"}, 1)
		g, n = list(store.AgentFilter{Scope: []string{"eu", "web"}}, store.Page{Limit: 1, Offset: 1})
		check("scope eu+web page 2", g, n, []string{"pc-c"}, 2)
		g, n = list(store.AgentFilter{Scope: []string{"nowhere"}}, store.Page{Limit: 10})
		check("scope of an empty group", g, n, nil, 0)
		if in, err := db.PCsInScope(ctx, []string{"pc-a", "pc-b", "pc-c", "nope"}, []string{"web"}); err != nil ||
			!in["pc-a"] || in["pc-b"] || !in["pc-c"] || in["nope"] {
			t.Errorf("PCsInScope: %v %v", in, err)
		}
		if in, err := db.ScopePCs(ctx, []string{"eu"}); err != nil || len(in) != 1 || !in["pc-a"] {
			t.Errorf("ScopePCs: %v %v", in, err)
		}
		g, n = list(store.AgentFilter{Sort: "hostname", Desc: true}, store.Page{Limit: 2})
		check("sort hostname desc", g, n, []string{"pc-c", "pc-a"}, 3)
		g, n = list(store.AgentFilter{Sort: "last_heartbeat"}, store.Page{Limit: 2, Offset: 1})
		check("sort heartbeat page 2", g, n, []string{"pc-a", "pc-b"}, 3)

		as, _, _ := db.ListAgents(ctx, store.AgentFilter{Now: now}, store.Page{Limit: 1})
		if !slices.Equal(as[0].Groups, []string{"eu", "web"}) {
			t.Fatalf("groups %v", as[0].Groups)
		}
		online := mustT[[]string](t)(db.OnlinePCs(ctx, now, ""))
		if !slices.Equal(online, []string{"pc-a", "pc-b"}) {
			t.Fatalf("online pcs %v", online)
		}
		if web := mustT[[]string](t)(db.OnlinePCs(ctx, now, "web")); !slices.Equal(web, []string{"pc-a"}) {
			t.Fatalf("online web %v", web)
		}
		groups := mustT[[]apiv1.GroupMembers](t)(db.ListGroups(ctx))
		if len(groups) != 2 || groups[0].Group != "eu" || !slices.Equal(groups[1].Members, []string{"pc-a", "pc-c"}) {
			t.Fatalf("groups %+v", groups)
		}
		live := mustT[map[string][]string](t)(db.LiveAgentGroups(ctx, now))
		if len(live) != 2 || len(live["pc-a"]) != 2 || live["pc-b"] != nil {
			t.Fatalf("live agent groups %v", live)
		}
		if gone := mustT[bool](t)(db.DeleteAgent(ctx, "pc-b")); !gone {
			t.Fatal("delete agent")
		}
		if gone := mustT[bool](t)(db.DeleteAgent(ctx, "pc-b")); gone {
			t.Fatal("deleted twice")
		}
		ok(t, db.ReplaceAllAgentGroups(ctx, map[string][]string{"pc-c": {"lab"}}))
		if groups := mustT[[]apiv1.GroupMembers](t)(db.ListGroups(ctx)); len(groups) != 1 || groups[0].Group != "lab" ||
			!slices.Equal(groups[0].Members, []string{"pc-c"}) {
			t.Fatalf("groups after a full resync %+v", groups)
		}
		fc := mustT[store.FleetCounts](t)(db.Fleet(ctx, now))
		if fc.Known != 2 || fc.Online != 1 {
			t.Fatalf("fleet %+v", fc)
		}
	})
}

func TestExecutionAndResultQueries(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range 5 {
			job := "job-a"
			if i%2 == 1 {
				job = "job-b"
			}
			ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: fmt.Sprintf("e%d", i), JobID: job,
				InitiatedAt: now.Add(time.Duration(i) * time.Minute), TargetCount: 2}))
		}
		ok(t, db.WaveSent(ctx, "e0", 3))
		if x := execRow(t, db, "e0"); x.TargetCount != 5 || x.Status != "pending" || x.PendingWaves != 0 {
			t.Fatalf("wave sent: %+v", x)
		}
		if _, found, err := db.GetExecution(ctx, "nope"); found || err != nil {
			t.Fatalf("unknown execution: %v %v", found, err)
		}
		list, total, err := db.ListExecutions(ctx, store.ExecFilter{JobID: "job-a"}, store.Page{Limit: 2})
		if err != nil || total != 3 || len(list) != 2 || list[0].ExecID != "e4" || list[1].ExecID != "e2" {
			t.Fatalf("executions by job: %v %d %+v", err, total, list)
		}
		// Results: e1 gets success, failure, skipped and one in flight.
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("run", "e1", "pc4", now)}))
		skip := res("skp", "e1", "pc3", 125, now.Add(3*time.Second))
		skip.Skipped = true
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("ok", "e1", "pc1", 0, now.Add(time.Second)),
			res("bad", "e1", "pc2", 7, now.Add(2*time.Second)), skip, res("other", "e3", "pc1", 0, now.Add(-48*time.Hour))}))
		x := execRow(t, db, "e1")
		if x.Status != "completed" || x.SuccessCount != 1 || x.FailureCount != 1 || x.SkippedCount != 1 {
			t.Fatalf("e1 %+v", x)
		}
		list, total, _ = db.ListExecutions(ctx, store.ExecFilter{Status: "completed"}, store.Page{Limit: 10})
		if total != 1 || list[0].ExecID != "e1" {
			t.Fatalf("executions by status: %d %+v", total, list)
		}
		q := func(f store.ResultFilter, p store.Page) ([]string, int) {
			t.Helper()
			rows, total, err := db.ListResults(ctx, f, p)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				out = append(out, r.ResultID)
				if r.Stdout != nil {
					t.Fatal("list must not carry output")
				}
			}
			return out, total
		}
		for _, c := range []struct {
			name  string
			f     store.ResultFilter
			p     store.Page
			want  []string
			total int
		}{
			{"exec newest first", store.ResultFilter{ExecID: "e1"}, store.Page{Limit: 10}, []string{"skp", "bad", "ok", "run"}, 4},
			{"page", store.ResultFilter{ExecID: "e1"}, store.Page{Limit: 2, Offset: 1}, []string{"bad", "ok"}, 4},
			{"running", store.ResultFilter{Status: "running"}, store.Page{Limit: 10}, []string{"run"}, 1},
			{"success", store.ResultFilter{Status: "success"}, store.Page{Limit: 10}, []string{"ok", "other"}, 2},
			{"failure", store.ResultFilter{Status: "failure"}, store.Page{Limit: 10}, []string{"bad"}, 1},
			{"skipped", store.ResultFilter{Status: "skipped"}, store.Page{Limit: 10}, []string{"skp"}, 1},
			{"pc", store.ResultFilter{PCID: "pc1"}, store.Page{Limit: 10}, []string{"ok", "other"}, 2},
			{"job+since", store.ResultFilter{JobID: "inv-hw", Since: now.Add(-time.Hour)}, store.Page{Limit: 10}, []string{"skp", "bad", "ok", "run"}, 4},
		} {
			got, total := q(c.f, c.p)
			if !slices.Equal(got, c.want) || total != c.total {
				t.Errorf("%s: %v (%d), want %v (%d)", c.name, got, total, c.want, c.total)
			}
		}
		r := result(t, db, "bad")
		if r.Status != "failure" || *r.ExitCode != 7 || *r.Stdout != "out-bad" || r.RecordedAt.Sub(now) != 2*time.Second {
			t.Fatalf("get result %+v", r)
		}
		fc := mustT[store.FleetCounts](t)(db.Fleet(ctx, now.Add(time.Minute)))
		if fc.Failures24h != 1 || fc.RunningExecutions != 4 {
			t.Fatalf("fleet %+v", fc)
		}
		for table, want := range map[string]bool{"execution_results": false, "audit_log": true, "agents": true, "executions": false} {
			if empty := mustT[bool](t)(db.TableEmpty(ctx, table)); empty != want {
				t.Errorf("TableEmpty(%s) = %v", table, empty)
			}
		}
		if _, err := db.TableEmpty(ctx, "users"); err == nil {
			t.Error("TableEmpty accepted a non-projection table")
		}
	})
}

func TestScheduleDispatches(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		ok(t, db.RecordScheduleDispatch(ctx, "s1", "e1", []string{"pc1", "pc2", "pc3"}, now.Add(-time.Hour)))
		ok(t, db.RecordScheduleDispatch(ctx, "s1", "gone", []string{"pc1"}, now))
		ok(t, db.ForgetScheduleDispatch(ctx, "s1", "gone"))
		_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r3", "e1", "pc3", now)}))
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("r1", "e1", "pc1", 0, now), res("r2", "e1", "pc2", 1, now)}))
		ok(t, db.SettleScheduleDispatches(ctx, "s1", now))
		sts := mustT[map[string]store.PCStanding](t)(db.ScheduleStandings(ctx, "s1", now.Add(-10*time.Minute)))
		if len(sts) != 3 || sts["pc1"].LastSuccess.IsZero() || sts["pc1"].InFlight || !sts["pc2"].LastSuccess.IsZero() ||
			sts["pc2"].InFlight || !sts["pc3"].InFlight {
			t.Fatalf("standings %+v", sts)
		}
		// Pruning after DispatchKeep keeps pc1's last success only.
		n := mustT[int64](t)(db.PruneScheduleDispatches(ctx, "s1", now.Add(store.DispatchKeep+time.Hour)))
		if n != 2 {
			t.Fatalf("pruned %d, want 2", n)
		}
		sts = mustT[map[string]store.PCStanding](t)(db.ScheduleStandings(ctx, "s1", now))
		if len(sts) != 1 || sts["pc1"].LastSuccess.IsZero() {
			t.Fatalf("after prune %+v", sts)
		}
		ok(t, db.DeleteScheduleDispatches(ctx, "s1"))
		if sts := mustT[map[string]store.PCStanding](t)(db.ScheduleStandings(ctx, "s1", now)); len(sts) != 0 {
			t.Fatalf("after delete %+v", sts)
		}
	})
}

// TestConcurrentProjectors: two projectors (as two backends would) apply
// overlapping batches — the same results twice, and started events racing
// their results — on separate connections. Every row exists once and every
// execution counts each result exactly once.
func TestConcurrentProjectors(t *testing.T) {
	for _, c := range cases(false) {
		// Not the per-row PostgreSQL path: it locks rows in arrival order,
		// so concurrent batches deadlock (PostgreSQL aborts one, which is
		// why production uses the set-based path).
		t.Run(c.name, func(t *testing.T) {
			// Two handles on one database = two backends.
			dsn := c.dsn(t)
			if dsn == "" {
				dsn = filepath.Join(t.TempDir(), "backend.db")
			}
			db, other := c.openDSN(t, dsn), c.openDSN(t, dsn)
			const execs, perExec = 4, 250
			for e := range execs {
				execution(t, db, fmt.Sprintf("e%d", e), perExec, "pending")
			}
			var all []store.Result
			var starts []store.Started
			for i := range execs * perExec {
				id, exec, pc := fmt.Sprintf("r%05d", i), fmt.Sprintf("e%d", i%execs), fmt.Sprintf("pc%04d", i/execs)
				all = append(all, res(id, exec, pc, i%3, t0))
				starts = append(starts, st(id, exec, pc, t0))
			}
			var wg sync.WaitGroup
			var retries atomic.Int64
			errs := make(chan error, 16)
			apply := func(d *store.DB, batch []store.Result) {
				defer wg.Done()
				for lo := 0; lo < len(batch); lo += 100 {
					var err error
					for try := 0; try < 20; try++ { // a projector retries a failed batch
						if _, err = d.ApplyResults(ctx, batch[lo:min(lo+100, len(batch))]); err == nil {
							break
						}
						retries.Add(1)
						t.Logf("retrying a results batch: %v", err)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			startAll := func(d *store.DB, batch []store.Started) {
				defer wg.Done()
				for lo := 0; lo < len(batch); lo += 100 {
					var err error
					for try := 0; try < 20; try++ {
						if _, err = d.ApplyStarted(ctx, batch[lo:min(lo+100, len(batch))]); err == nil {
							break
						}
						retries.Add(1)
						t.Logf("retrying a started batch: %v", err)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			reversed := slices.Clone(all)
			slices.Reverse(reversed)
			wg.Add(4)
			go apply(db, all)
			go apply(other, reversed)
			go startAll(other, starts)
			go startAll(db, starts)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if c.pg && retries.Load() > 0 {
				// Rows are locked in a global order: nothing to retry.
				t.Errorf("%d batches had to be retried", retries.Load())
			}
			if n := count(t, db, "SELECT COUNT(*) FROM execution_results WHERE finished_at IS NOT NULL"); n != execs*perExec {
				t.Fatalf("finished rows = %d, want %d", n, execs*perExec)
			}
			if n := count(t, db, "SELECT SUM(success_count + failure_count) FROM executions"); n != execs*perExec {
				t.Fatalf("counted %d results, want %d", n, execs*perExec)
			}
			if n := count(t, db, "SELECT COUNT(*) FROM executions WHERE status = 'completed'"); n != execs {
				t.Fatalf("completed executions = %d", n)
			}
		})
	}
}

// TestUsersOnStore: the account service (internal/auth) on the store's
// own migrations and connections, including the concurrent last-admin guard.
func TestUsersOnStore(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		u := auth.NewUsers(db, nil)
		created, err := u.BootstrapAdmin(ctx, "admin", "password-123")
		if err != nil || !created {
			t.Fatalf("bootstrap: %v %v", created, err)
		}
		if created, err := u.BootstrapAdmin(ctx, "admin2", "password-123"); err != nil || created {
			t.Fatalf("second bootstrap: %v %v", created, err)
		}
		if _, err := u.Create(ctx, auth.NewUser{Username: "admin", Password: "password-123", Role: auth.RoleViewer}); err != auth.ErrExists {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := u.Create(ctx, auth.NewUser{Username: "a2", Password: "password-123", Role: auth.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		// Group scopes round-trip, sorted and deduplicated; [] clears.
		sc, err := u.Create(ctx, auth.NewUser{Username: "scoped", Password: "password-123", Role: auth.RoleOperator,
			Groups: []string{"lab", "canary", "lab"}})
		if err != nil || !slices.Equal(sc.Groups, []string{"canary", "lab"}) {
			t.Fatalf("scoped account: %v %+v", err, sc)
		}
		none := []string{}
		if sc, err = u.Update(ctx, "scoped", auth.Patch{Groups: &none}); err != nil || len(sc.Groups) != 0 {
			t.Fatalf("clear scope: %v %+v", err, sc)
		}
		ok(t, u.Delete(ctx, "scoped"))
		for i := range auth.MaxFailedLogins {
			until, err := u.RecordLoginFailure(ctx, "a2")
			if err != nil || (i < auth.MaxFailedLogins-1) != until.IsZero() {
				t.Fatalf("failure %d: %v %v", i, until, err)
			}
		}
		ok(t, u.RecordLoginSuccess(ctx, "a2"))
		list, total, err := u.List(ctx, 10, 0)
		if err != nil || total != 2 || list[0].Username != "a2" || list[1].Username != "admin" || !list[1].MustChangePW {
			t.Fatalf("list: %v %d %+v", err, total, list)
		}
		// Two requests each removing one of the last two admins: one wins.
		op := auth.RoleOperator
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"admin", "a2"} {
			wg.Go(func() { _, errs[i] = u.Update(ctx, name, auth.Patch{Role: &op}) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("guard: %v / %v", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && err != auth.ErrLastAdmin {
				t.Fatal(err)
			}
		}
	})
}

func TestWaveGating(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		// An execution with a wave still to come is not completed when its
		// first targets have all reported; it is once the wave is settled.
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: "w1", JobID: "job-w", InitiatedAt: now, TargetCount: 1, PendingWaves: 2}))
		_ = mustT[store.ResultOutcome](t)(db.ApplyResults(ctx, []store.Result{res("w1-a", "w1", "pc1", 0, now)}))
		if x := execRow(t, db, "w1"); x.Status != "running" || x.PendingWaves != 2 {
			t.Fatalf("completed with waves pending: %+v", x)
		}
		ok(t, db.WaveSent(ctx, "w1", 0)) // a wave with no live target
		if x := execRow(t, db, "w1"); x.Status != "running" || x.PendingWaves != 1 {
			t.Fatalf("after the first wave: %+v", x)
		}
		ok(t, db.WavesCancelled(ctx, "w1", 1))
		if x := execRow(t, db, "w1"); x.Status != "completed" || x.PendingWaves != 0 || x.TargetCount != 1 {
			t.Fatalf("after the last wave was cancelled: %+v", x)
		}
	})
}

// TestConcurrentFirstOpen: replicas starting together on an empty
// PostgreSQL database all migrate it without tripping over each other.
// (SQLite is one backend per file.)
func TestConcurrentFirstOpen(t *testing.T) {
	for _, c := range cases(false) {
		if !c.pg {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			if dsn == "" {
				dsn = filepath.Join(t.TempDir(), "backend.db")
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					db, err := store.Open(ctx, dsn, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
					if err == nil {
						db.Close()
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestConcurrentReapers: the reaper of every replica runs on its own
// schedule; two at once reap and count each orphan once.
func TestConcurrentReapers(t *testing.T) {
	for _, c := range cases(false) {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			if dsn == "" {
				dsn = filepath.Join(t.TempDir(), "backend.db")
			}
			db, other := c.openDSN(t, dsn), c.openDSN(t, dsn)
			now := time.Now().UTC().Truncate(time.Microsecond)
			const n = 600
			var batch []store.Started
			for i := range n {
				exec := fmt.Sprintf("e%d", i%6)
				if i < 6 {
					execution(t, db, exec, n/6, "pending")
				}
				s := st(fmt.Sprintf("r%04d", i), exec, fmt.Sprintf("pc%04d", i), now)
				exp := now.Add(time.Minute)
				s.ExpiresAt = &exp
				batch = append(batch, s)
			}
			_ = mustT[[]store.Started](t)(db.ApplyStarted(ctx, batch))
			var wg sync.WaitGroup
			outs := make([]store.ReapOutcome, 4)
			errs := make([]error, 4)
			for i := range outs {
				d := db
				if i%2 == 1 {
					d = other
				}
				wg.Go(func() { outs[i], errs[i] = d.Reap(ctx, now.Add(time.Hour)) })
			}
			wg.Wait()
			reaped := 0
			for i := range outs {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				reaped += outs[i].Reaped
			}
			if reaped != n {
				t.Fatalf("reaped %d in all, want %d", reaped, n)
			}
			if got := count(t, db, "SELECT SUM(failure_count) FROM executions"); got != n {
				t.Fatalf("failures counted %d, want %d", got, n)
			}
			if got := count(t, db, "SELECT COUNT(*) FROM executions WHERE status = 'completed'"); got != 6 {
				t.Fatalf("completed %d", got)
			}
		})
	}
}
