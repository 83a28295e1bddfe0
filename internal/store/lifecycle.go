package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Execution is an executions row.
type Execution struct {
	ExecID       string    `json:"exec_id"`
	JobID        string    `json:"job_id"`
	Version      string    `json:"version"`
	InitiatedBy  string    `json:"initiated_by"`
	InitiatedAt  time.Time `json:"initiated_at"`
	TargetCount  int       `json:"target_count"`
	SuccessCount int       `json:"success_count"`
	FailureCount int       `json:"failure_count"`
	SkippedCount int       `json:"skipped_count"`
	Status       string    `json:"status"`
	PendingWaves int       `json:"pending_waves"` // later waves not sent yet
}

// CreateExecution inserts a pending executions row (before any command is
// published, so a fast agent's result always finds its parent).
func (db *DB) CreateExecution(ctx context.Context, e Execution) error {
	if e.TargetCount < 1 {
		e.TargetCount = 1
	}
	if e.Status == "" {
		e.Status = "pending"
	}
	if e.InitiatedAt.IsZero() {
		e.InitiatedAt = time.Now()
	}
	_, err := db.Write.ExecContext(ctx, db.Q(`INSERT INTO executions
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
	_, err := db.Write.ExecContext(ctx, db.Q(`UPDATE executions SET `+settleStatus+`,
		target_count = target_count + CAST(? AS INTEGER), pending_waves = CASE WHEN pending_waves > 0 THEN pending_waves - 1 ELSE 0 END
		WHERE exec_id = ?`), n, 1, n, execID)
	if err != nil {
		return fmt.Errorf("wave sent exec_id=%s: %w", execID, err)
	}
	return nil
}

// WavesCancelled records that k pending waves of an execution will never go out.
func (db *DB) WavesCancelled(ctx context.Context, execID string, k int) error {
	_, err := db.Write.ExecContext(ctx, db.Q(`UPDATE executions SET `+settleStatus+`,
		pending_waves = CASE WHEN pending_waves > CAST(? AS INTEGER) THEN pending_waves - CAST(? AS INTEGER) ELSE 0 END
		WHERE exec_id = ?`), 0, k, k, k, execID)
	if err != nil {
		return fmt.Errorf("waves cancelled exec_id=%s: %w", execID, err)
	}
	return nil
}

// ReapOutcome summarises one reaper pass.
type ReapOutcome struct {
	Reaped     int
	Expired    int
	Deleted    map[string]int64
	Executions []ExecProgress
}

// Retention windows (SPEC §5; upstream defaults).
const (
	ResultRetention  = 90 * 24 * time.Hour
	AuditRetention   = 365 * 24 * time.Hour
	PendingExpiry    = time.Hour
	InflightFallback = 24 * time.Hour
	retentionBatch   = 10000
	retentionBatches = 10
	reapBatch        = 5000
)

// ReapNote is appended to the stderr of a reaped row.
const ReapNote = "\n[kanade backend: reaped — no result arrived before the run's deadline; the agent may have died or lost the result]"

// Reap marks in-flight rows past their deadline as failed (exit -1, reaped),
// counts them as failures on their execution, and expires pending
// executions older than an hour. All cutoffs come from one now.
func (db *DB) Reap(ctx context.Context, now time.Time) (ReapOutcome, error) {
	out := ReapOutcome{Deleted: map[string]int64{}}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin reap: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.Q(`SELECT result_id, exec_id FROM execution_results
		WHERE finished_at IS NULL AND ((expires_at IS NOT NULL AND expires_at < ?) OR (expires_at IS NULL AND started_at < ?))
		ORDER BY result_id LIMIT ?`), TS(now), TS(now.Add(-InflightFallback)), reapBatch)
	if err != nil {
		return out, fmt.Errorf("select orphans: %w", err)
	}
	type orphan struct{ result, exec string }
	var orphans []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.result, &o.exec); err != nil {
			rows.Close()
			return out, err
		}
		orphans = append(orphans, o)
	}
	rows.Close()
	deltas := map[string]*delta{}
	var order []string
	for _, o := range orphans {
		res, err := tx.ExecContext(ctx, db.Q(`UPDATE execution_results SET exit_code = -1, reaped = 1, finished_at = ?,
			stderr = stderr || ? WHERE result_id = ? AND finished_at IS NULL`), TS(now), ReapNote, o.result)
		if err != nil {
			return out, fmt.Errorf("reap result_id=%s: %w", o.result, err)
		}
		if n, _ := res.RowsAffected(); n == 0 || o.exec == "" {
			continue
		}
		out.Reaped++
		d := deltas[o.exec]
		if d == nil {
			d = &delta{}
			deltas[o.exec] = d
			order = append(order, o.exec)
		}
		d.failure++
	}
	// Rows are locked in result_id order and executions in exec_id order
	// on PostgreSQL, as the projectors do, so reapers on several replicas
	// and the projectors queue instead of deadlocking; each orphan is
	// reaped (and counted) by whichever UPDATE gets it first.
	bump := db.bumpCounters
	if db.Dialect == Postgres {
		bump = db.bumpCountersPG
	}
	if out.Executions, err = bump(ctx, tx, deltas, order); err != nil {
		return out, err
	}
	res, err := tx.ExecContext(ctx, db.Q(`UPDATE executions SET status = 'expired' WHERE status = 'pending' AND initiated_at < ?`),
		TS(now.Add(-PendingExpiry)))
	if err != nil {
		return out, fmt.Errorf("expire pending: %w", err)
	}
	n, _ := res.RowsAffected()
	out.Expired = int(n)
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit reap: %w", err)
	}
	return out, nil
}

// Retain deletes rows past retention in bounded batches, each its own
// transaction so the projectors are never blocked for long.
func (db *DB) Retain(ctx context.Context, now time.Time) (map[string]int64, error) {
	deleted := map[string]int64{}
	jobs := []struct{ table, key, col string }{
		{"execution_results", "result_id", "recorded_at"},
		{"executions", "exec_id", "initiated_at"},
		{"audit_log", "stream_seq", "occurred_at"},
	}
	for _, j := range jobs {
		cutoff := now.Add(-ResultRetention)
		if j.table == "audit_log" {
			cutoff = now.Add(-AuditRetention)
		}
		q := db.Q(fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s < ? LIMIT ?)`,
			j.table, j.key, j.key, j.table, j.col))
		for i := 0; i < retentionBatches; i++ {
			res, err := db.Write.ExecContext(ctx, q, TS(cutoff), retentionBatch)
			if err != nil {
				return deleted, fmt.Errorf("retention %s: %w", j.table, err)
			}
			n, _ := res.RowsAffected()
			deleted[j.table] += n
			if n < retentionBatch {
				break
			}
		}
	}
	return deleted, nil
}

// nullTime converts a nullable stored timestamp.
func nullTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := ParseTS(s.String)
	return &t
}
