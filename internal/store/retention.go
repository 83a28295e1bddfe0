package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Work across tables: the reaper (orphaned runs, stale pending
// executions), retention, and wipe detection.

// ReapOutcome summarises one reaper pass.
type ReapOutcome struct {
	Reaped     int
	Expired    int
	Deleted    map[string]int64
	Executions []ExecProgress
}

// Retention windows (SPEC §5; upstream defaults).
const (
	ResultRetention = 90 * 24 * time.Hour
	AuditRetention  = 365 * 24 * time.Hour
	// NotifyLogRetention matches stream NOTIFY_LOG (30 d): older delivery
	// attempts could not be rebuilt anyway.
	NotifyLogRetention = 30 * 24 * time.Hour
	PendingExpiry      = time.Hour
	InflightFallback   = 24 * time.Hour
	retentionBatch     = 10000
	retentionBatches   = 10
	reapBatch          = 5000
)

// ReapNote is appended to the stderr of a reaped row.
const ReapNote = "\n[kanade backend: reaped — no result arrived before the run's deadline; the agent may have died or lost the result]"

// Reap marks in-flight rows past their deadline as failed (exit -1, reaped),
// counts them as failures on their execution, and expires pending
// executions older than an hour that have no wave left to send. All
// cutoffs come from one now.
func (db *DB) Reap(ctx context.Context, now time.Time) (ReapOutcome, error) {
	out := ReapOutcome{Deleted: map[string]int64{}}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin reap: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.q(`SELECT result_id, exec_id FROM execution_results
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
	var t tally
	var reap *sql.Stmt
	if len(orphans) > 0 {
		if reap, err = tx.PrepareContext(ctx, db.q(`UPDATE execution_results SET exit_code = -1, reaped = 1, finished_at = ?,
			stderr = stderr || ? WHERE result_id = ? AND finished_at IS NULL`)); err != nil {
			return out, fmt.Errorf("prepare reap: %w", err)
		}
		defer reap.Close()
	}
	for _, o := range orphans {
		res, err := reap.ExecContext(ctx, TS(now), ReapNote, o.result)
		if err != nil {
			return out, fmt.Errorf("reap result_id=%s: %w", o.result, err)
		}
		if n, _ := res.RowsAffected(); n == 0 || o.exec == "" {
			continue
		}
		out.Reaped++
		t.add(o.exec, apiv1.ResultFailure)
	}
	// Rows are locked in result_id order and executions in exec_id order
	// on PostgreSQL, as the projectors do, so reapers on several replicas
	// and the projectors queue instead of deadlocking; each orphan is
	// reaped (and counted) by whichever UPDATE gets it first.
	if out.Executions, err = db.d.reapCounters(ctx, db, tx, t.by, t.order); err != nil {
		return out, err
	}
	// An execution with waves still due is pending by design (its first
	// wave may have reached nobody yet): expiring it would hide the waves
	// that are about to go out, so only executions with none left expire.
	res, err := tx.ExecContext(ctx, db.q(`UPDATE executions SET status = 'expired'
		WHERE status = 'pending' AND pending_waves = 0 AND initiated_at < ?`),
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
	jobs := []struct {
		table, key, col string
		keep            time.Duration
	}{
		{"execution_results", "result_id", "recorded_at", ResultRetention},
		{"executions", "exec_id", "initiated_at", ResultRetention},
		{"audit_log", "stream_seq", "occurred_at", AuditRetention},
		{"notification_deliveries", "stream_seq", "at", NotifyLogRetention},
		// The dispatcher never sends a transition older than 24 h; kept
		// as long as the results they came from.
		{"alert_transitions", "key", "at", ResultRetention},
	}
	for _, j := range jobs {
		cutoff := now.Add(-j.keep)
		q := db.q(fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s < ? LIMIT ?)`,
			j.table, j.key, j.key, j.table, j.col))
		for i := 0; i < retentionBatches; i++ {
			res, err := db.write.ExecContext(ctx, q, TS(cutoff), retentionBatch)
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
	// Inventory history ages out with results (it is rebuilt from
	// INVENTORY and RESULTS, which keep 30 days); its key is composite.
	q := db.q(`DELETE FROM inventory_history WHERE (stream, stream_seq, table_name, item_key, field) IN
		(SELECT stream, stream_seq, table_name, item_key, field FROM inventory_history WHERE at < ? LIMIT ?)`)
	for i := 0; i < retentionBatches; i++ {
		res, err := db.write.ExecContext(ctx, q, TS(now.Add(-ResultRetention)), retentionBatch)
		if err != nil {
			return deleted, fmt.Errorf("retention inventory_history: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted["inventory_history"] += n
		if n < retentionBatch {
			break
		}
	}
	n, err := db.pruneTerms(ctx)
	if err != nil {
		return deleted, err
	}
	deleted["inventory_terms"] = n
	return deleted, nil
}

// pruneTerms deletes the inventory terms whose last value went (a version
// nobody runs any more). On PostgreSQL the table lock first waits for
// every projector transaction that has written a term (and so holds a
// conflicting lock) and keeps new ones out until the delete commits: a
// value committed by one of them is seen, so a term in use is never
// pruned. SQLite has one writer at a time.
func (db *DB) pruneTerms(ctx context.Context) (int64, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin prune inventory terms: %w", err)
	}
	defer tx.Rollback()
	if db.d == postgres {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE inventory_terms IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return 0, fmt.Errorf("lock inventory terms: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM inventory_terms WHERE NOT EXISTS (SELECT 1 FROM inventory_values v
		WHERE v.table_name = inventory_terms.table_name AND v.column_name = inventory_terms.column_name
		AND v.sort_value = inventory_terms.sort_value AND v.value = inventory_terms.value)`)
	if err != nil {
		return 0, fmt.Errorf("prune inventory terms: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit prune inventory terms: %w", err)
	}
	return n, nil
}

// TableEmpty reports whether a projection table has no rows (wipe detection).
func (db *DB) TableEmpty(ctx context.Context, table string) (bool, error) {
	switch table {
	case "execution_results", "audit_log", "agents", "executions", "agent_facts", "alerts", "notification_deliveries":
	default:
		return false, fmt.Errorf("table %q is not a projection table", table)
	}
	var one int
	err := db.read.QueryRowContext(ctx, "SELECT 1 FROM "+table+" LIMIT 1").Scan(&one)
	if err == sql.ErrNoRows {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe %s: %w", table, err)
	}
	return false, nil
}
