package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
)

// The executions table: one row per exec (fan-out), with its counters.

// CreateExecution inserts a pending executions row (before any command is
// published, so a fast agent's result always finds its parent). Counters
// are the row's own; those of e are ignored.
func (db *DB) CreateExecution(ctx context.Context, e apiv1.Execution) error {
	if e.TargetCount < 1 {
		e.TargetCount = 1
	}
	if e.Status == "" {
		e.Status = apiv1.ExecPending
	}
	if e.InitiatedAt.IsZero() {
		e.InitiatedAt = time.Now()
	}
	_, err := db.write.ExecContext(ctx, db.q(`INSERT INTO executions
		(exec_id, job_id, version, initiated_by, initiated_at, target_count, status, pending_waves)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ExecID, e.JobID, e.Version, e.InitiatedBy, TS(e.InitiatedAt), e.TargetCount, e.Status, e.PendingWaves)
	if err != nil {
		return fmt.Errorf("insert execution exec_id=%s: %w", e.ExecID, err)
	}
	return nil
}

// settleStatus recomputes an execution's status after its targets or
// pending waves change by (dTargets, dWaves): completed once every target
// counted so far reported and no wave is left, running otherwise; pending
// and expired rows keep their status (nothing has reported yet).
const settleStatus = `status = CASE WHEN status IN ('pending', 'expired') THEN status
		WHEN success_count + failure_count + skipped_count >= target_count + CAST(? AS INTEGER)
			AND pending_waves - CAST(? AS INTEGER) <= 0 THEN 'completed'
		ELSE 'running' END`

// WaveSent records that one pending wave went out to n more targets.
func (db *DB) WaveSent(ctx context.Context, execID string, n int) error {
	_, err := db.write.ExecContext(ctx, db.q(`UPDATE executions SET `+settleStatus+`,
		target_count = target_count + CAST(? AS INTEGER), pending_waves = CASE WHEN pending_waves > 0 THEN pending_waves - 1 ELSE 0 END
		WHERE exec_id = ?`), n, 1, n, execID)
	if err != nil {
		return fmt.Errorf("wave sent exec_id=%s: %w", execID, err)
	}
	return nil
}

// WavesCancelled records that k pending waves of an execution will never go out.
func (db *DB) WavesCancelled(ctx context.Context, execID string, k int) error {
	_, err := db.write.ExecContext(ctx, db.q(`UPDATE executions SET `+settleStatus+`,
		pending_waves = CASE WHEN pending_waves > CAST(? AS INTEGER) THEN pending_waves - CAST(? AS INTEGER) ELSE 0 END
		WHERE exec_id = ?`), 0, k, k, k, execID)
	if err != nil {
		return fmt.Errorf("waves cancelled exec_id=%s: %w", execID, err)
	}
	return nil
}

// ExecProgress is an executions row after a counter change.
type ExecProgress struct {
	ExecID       string `json:"exec_id"`
	JobID        string `json:"job_id"`
	Status       string `json:"status"`
	TargetCount  int    `json:"target_count"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	SkippedCount int    `json:"skipped_count"`
}

// delta is one execution's counter changes in a batch.
type delta struct{ success, failure, skipped int }

// tally sums a batch's counted results per execution, in first-seen
// order, so each execution's counters take one UPDATE per transaction
// (the projectors and the reaper share it).
type tally struct {
	by    map[string]*delta
	order []string
}

// add counts one result of exec with status; results without an
// execution (ad-hoc runs) have no counters.
func (t *tally) add(exec string, status apiv1.ResultStatus) {
	if exec == "" {
		return
	}
	d := t.by[exec]
	if d == nil {
		if t.by == nil {
			t.by = map[string]*delta{}
		}
		d = &delta{}
		t.by[exec] = d
		t.order = append(t.order, exec)
	}
	switch status {
	case apiv1.ResultSuccess:
		d.success++
	case apiv1.ResultFailure:
		d.failure++
	default:
		d.skipped++
	}
}

// bumpCountersRows applies per-execution counter deltas (one UPDATE per
// execution per batch) and sets completed/running. SET expressions see the
// old column values on both SQLite and PostgreSQL.
func (db *DB) bumpCountersRows(ctx context.Context, tx *sql.Tx, deltas map[string]*delta, order []string) ([]ExecProgress, error) {
	if len(order) == 0 {
		return nil, nil
	}
	// Prepared once per transaction: a batch touches up to one row per
	// execution in it (100 in a broadcast replay), and parsing the
	// statement each time was half of the counters' cost (replay profile,
	// docs/benchmarks.md "Write path (issue 15)").
	bump, err := tx.PrepareContext(ctx, db.q(`UPDATE executions SET
			success_count = success_count + ?, failure_count = failure_count + ?, skipped_count = skipped_count + ?,
			status = CASE WHEN success_count + failure_count + skipped_count + ? >= target_count AND pending_waves = 0 THEN 'completed' ELSE 'running' END
			WHERE exec_id = ?
			RETURNING exec_id, job_id, status, target_count, success_count, failure_count, skipped_count`))
	if err != nil {
		return nil, fmt.Errorf("prepare counter update: %w", err)
	}
	defer bump.Close()
	var out []ExecProgress
	for _, id := range order {
		d := deltas[id]
		var p ExecProgress
		err := bump.QueryRowContext(ctx, d.success, d.failure, d.skipped, d.success+d.failure+d.skipped, id).
			Scan(&p.ExecID, &p.JobID, &p.Status, &p.TargetCount, &p.SuccessCount, &p.FailureCount, &p.SkippedCount)
		if err == sql.ErrNoRows {
			continue // ad-hoc run sent straight to NATS: no parent row
		}
		if err != nil {
			return nil, fmt.Errorf("bump counters exec_id=%s: %w", id, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// bumpCountersSets is bumpCountersRows in two statements: lock the executions in
// exec_id order (so concurrent backends queue, never deadlock), then apply
// every delta at once. Progress is returned in order.
func (db *DB) bumpCountersSets(ctx context.Context, tx *sql.Tx, deltas map[string]*delta, order []string) ([]ExecProgress, error) {
	if len(order) == 0 {
		return nil, nil
	}
	ids := slices.Clone(order)
	slices.Sort(ids)
	s, f, k := make([]int64, len(ids)), make([]int64, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		d := deltas[id]
		s[i], f[i], k[i] = int64(d.success), int64(d.failure), int64(d.skipped)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM executions WHERE exec_id = ANY($1::text[])
		ORDER BY exec_id FOR UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("lock executions: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE executions x SET
		success_count = x.success_count + d.s, failure_count = x.failure_count + d.f, skipped_count = x.skipped_count + d.k,
		status = CASE WHEN x.success_count + x.failure_count + x.skipped_count + d.s + d.f + d.k >= x.target_count
			AND x.pending_waves = 0 THEN 'completed' ELSE 'running' END
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS d(id, s, f, k)
		WHERE x.exec_id = d.id
		RETURNING x.exec_id, x.job_id, x.status, x.target_count, x.success_count, x.failure_count, x.skipped_count`,
		ids, s, f, k)
	if err != nil {
		return nil, fmt.Errorf("bump counters: %w", err)
	}
	defer rows.Close()
	byID := map[string]ExecProgress{}
	for rows.Next() {
		var p ExecProgress
		if err := rows.Scan(&p.ExecID, &p.JobID, &p.Status, &p.TargetCount, &p.SuccessCount, &p.FailureCount, &p.SkippedCount); err != nil {
			return nil, fmt.Errorf("bump counters: %w", err)
		}
		byID[p.ExecID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bump counters: %w", err)
	}
	var out []ExecProgress
	for _, id := range order {
		if p, ok := byID[id]; ok { // no row: an ad-hoc run without a parent
			out = append(out, p)
		}
	}
	return out, nil
}

// ExecFilter selects executions.
type ExecFilter struct {
	JobID, Status string
	// IDPrefix keeps the exec_ids that start with it (the CLI's short ids).
	IDPrefix string
	// Scope (a scoped caller's groups; nil = all) keeps the executions
	// that have a result (started or finished) on a PC of the scope: an
	// indexed semi-join through results_pc. (An "or started by the caller"
	// would make the count scan executions.)
	Scope []string
}

const execCols = `exec_id, job_id, version, initiated_by, initiated_at, target_count, success_count, failure_count, skipped_count, status, pending_waves,
	subjects_sent + wave_subjects, subjects_failed, rollout_paused, halt_reason`

func scanExec(s scanner) (apiv1.Execution, error) {
	var e apiv1.Execution
	var at, failed string
	var paused int
	err := s.Scan(&e.ExecID, &e.JobID, &e.Version, &e.InitiatedBy, &at, &e.TargetCount, &e.SuccessCount,
		&e.FailureCount, &e.SkippedCount, &e.Status, &e.PendingWaves, &e.SubjectsSent, &failed, &paused, &e.HaltReason)
	e.InitiatedAt = ParseTS(at)
	e.RolloutState = rolloutState(e.PendingWaves, paused != 0, e.HaltReason)
	if err == nil && failed != "" {
		if jerr := json.Unmarshal([]byte(failed), &e.SubjectsFailed); jerr != nil {
			return e, fmt.Errorf("subjects_failed of exec_id=%s: %w", e.ExecID, jerr)
		}
	}
	return e, err
}

// execOrder is the order of ListExecutions, newest first; exec_id breaks
// ties.
var execOrder = []sortCol{{col: "initiated_at", desc: true}, {col: "exec_id"}}

func execKey(e apiv1.Execution) cursor.Key { return cursor.Key{TS(e.InitiatedAt), e.ExecID} }

// execPageSQL is the page query of ListExecutions and its filter.
func execPageSQL(f ExecFilter, p Page) (w where, list string, args []any, err error) {
	if f.JobID != "" {
		w.add("job_id = ?", f.JobID)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	w.addIDPrefix("exec_id", f.IDPrefix)
	if len(f.Scope) > 0 {
		c, args := scopeCond("pc_id", f.Scope)
		w.add("exec_id IN (SELECT exec_id FROM execution_results WHERE "+c+")", args...)
	}
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		if err := seek.seek(p.After, execOrder...); err != nil {
			return w, "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return w, "SELECT " + execCols + " FROM executions" + seek.sql() + orderBy(execOrder...) + " LIMIT ? OFFSET ?",
		append(seek.args, limit, offset), nil
}

// ListExecutions returns one page of executions, newest first, and the
// total.
func (db *DB) ListExecutions(ctx context.Context, f ExecFilter, p Page) ([]apiv1.Execution, int, error) {
	l, err := db.PageExecutions(ctx, f, p)
	return l.Rows, l.Total, err
}

// PageExecutions returns one page of executions, newest first, with its
// total (bounded: executions grow with every run) and the next page's key.
func (db *DB) PageExecutions(ctx context.Context, f ExecFilter, p Page) (Listing[apiv1.Execution], error) {
	l := Listing[apiv1.Execution]{Rows: []apiv1.Execution{}}
	w, listQ, listArgs, err := execPageSQL(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(listQ), listArgs...)
	if err != nil {
		return l, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return l, fmt.Errorf("scan execution: %w", err)
		}
		l.Rows = append(l.Rows, e)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list executions: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "executions", w, countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, execKey)
	return l, nil
}

// GetExecution returns one execution.
func (db *DB) GetExecution(ctx context.Context, execID string) (apiv1.Execution, bool, error) {
	e, err := scanExec(db.read.QueryRowContext(ctx, db.q("SELECT "+execCols+" FROM executions WHERE exec_id = ?"), execID))
	if err == sql.ErrNoRows {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("get execution exec_id=%s: %w", execID, err)
	}
	return e, true, nil
}

// rolloutState is an execution's rollout state (apiv1.RolloutState): halted
// wins, then paused while waves are pending, then waiting.
func rolloutState(pending int, paused bool, haltReason string) apiv1.RolloutState {
	switch {
	case haltReason != "":
		return apiv1.RolloutHalted
	case pending > 0 && paused:
		return apiv1.RolloutPaused
	case pending > 0:
		return apiv1.RolloutWaiting
	}
	return ""
}
