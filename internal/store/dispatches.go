package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The schedule_dispatches table: which PCs each schedule dispatched to and
// how those runs ended, the scheduler's (internal/scheduler) standing per
// PC.

// DispatchKeep is how long unsettled and superseded dispatch rows are kept:
// the EXEC stream's retention (7 d) + 1 d, after which a command can no
// longer reach its PC.
const DispatchKeep = 8 * 24 * time.Hour

// PCStanding is one PC's standing for a per_pc schedule.
type PCStanding struct {
	LastSuccess time.Time // zero: never succeeded through this schedule
	InFlight    bool      // dispatched and not finished (see ScheduleStandings)
}

// RecordScheduleDispatch records that exec execID of a schedule targets
// pcs; call it before publishing, so a crash cannot lose the link.
func (db *DB) RecordScheduleDispatch(ctx context.Context, scheduleID, execID string, pcs []string, at time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin schedule dispatch: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, db.q(`INSERT INTO schedule_dispatches (schedule_id, pc_id, exec_id, dispatched_at)
		VALUES (?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("prepare schedule dispatch: %w", err)
	}
	defer stmt.Close()
	for _, pc := range pcs {
		if _, err := stmt.ExecContext(ctx, scheduleID, pc, execID, TS(at)); err != nil {
			return fmt.Errorf("record dispatch schedule=%s exec_id=%s pc_id=%s: %w", scheduleID, execID, pc, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit schedule dispatch: %w", err)
	}
	return nil
}

// ForgetScheduleDispatch removes the rows of a dispatch that failed before
// anything was published.
func (db *DB) ForgetScheduleDispatch(ctx context.Context, scheduleID, execID string) error {
	_, err := db.write.ExecContext(ctx, db.q(`DELETE FROM schedule_dispatches WHERE schedule_id = ? AND exec_id = ?`),
		scheduleID, execID)
	if err != nil {
		return fmt.Errorf("forget dispatch schedule=%s exec_id=%s: %w", scheduleID, execID, err)
	}
	return nil
}

// DeleteScheduleDispatches forgets a deleted schedule's history.
func (db *DB) DeleteScheduleDispatches(ctx context.Context, scheduleID string) error {
	_, err := db.write.ExecContext(ctx, db.q(`DELETE FROM schedule_dispatches WHERE schedule_id = ?`), scheduleID)
	if err != nil {
		return fmt.Errorf("delete dispatches schedule=%s: %w", scheduleID, err)
	}
	return nil
}

// SettleScheduleDispatches copies final results (success: exit 0 and not
// skipped; a reaped row is final and a failure) onto the schedule's open
// dispatch rows.
func (db *DB) SettleScheduleDispatches(ctx context.Context, scheduleID string, now time.Time) error {
	const match = `r.exec_id = schedule_dispatches.exec_id AND r.pc_id = schedule_dispatches.pc_id AND r.finished_at IS NOT NULL`
	_, err := db.write.ExecContext(ctx, db.q(`UPDATE schedule_dispatches SET
		finished_at = (SELECT MAX(r.finished_at) FROM execution_results r WHERE `+match+`),
		success = CASE WHEN EXISTS (SELECT 1 FROM execution_results r WHERE `+match+`
			AND r.exit_code = 0 AND r.skipped = 0) THEN 1 ELSE 0 END
		WHERE schedule_id = ? AND finished_at IS NULL AND dispatched_at >= ?
		AND EXISTS (SELECT 1 FROM execution_results r WHERE `+match+`)`), scheduleID, TS(now.Add(-DispatchKeep)))
	if err != nil {
		return fmt.Errorf("settle dispatches schedule=%s: %w", scheduleID, err)
	}
	return nil
}

// PruneScheduleDispatches deletes rows older than DispatchKeep except each
// PC's latest success, which per_pc needs forever.
func (db *DB) PruneScheduleDispatches(ctx context.Context, scheduleID string, now time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, db.q(`DELETE FROM schedule_dispatches WHERE schedule_id = ? AND dispatched_at < ?
		AND NOT (success = 1 AND finished_at = (SELECT MAX(d2.finished_at) FROM schedule_dispatches d2
			WHERE d2.schedule_id = schedule_dispatches.schedule_id AND d2.pc_id = schedule_dispatches.pc_id AND d2.success = 1))`),
		scheduleID, TS(now.Add(-DispatchKeep)))
	if err != nil {
		return 0, fmt.Errorf("prune dispatches schedule=%s: %w", scheduleID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ScheduleStandings returns, per PC ever dispatched by the schedule, its
// last success and whether a run is in flight: a dispatch not yet settled
// that is younger than inflightCutoff (the command may still be queued or
// jittering on the agent), or whose run has started and not finished (the
// reaper bounds those).
func (db *DB) ScheduleStandings(ctx context.Context, scheduleID string, inflightCutoff time.Time) (map[string]PCStanding, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT d.pc_id,
		MAX(CASE WHEN d.success = 1 THEN d.finished_at END),
		MAX(CASE WHEN d.finished_at IS NULL AND (d.dispatched_at >= ? OR EXISTS (SELECT 1 FROM execution_results r
			WHERE r.exec_id = d.exec_id AND r.pc_id = d.pc_id AND r.finished_at IS NULL)) THEN 1 ELSE 0 END)
		FROM schedule_dispatches d WHERE d.schedule_id = ? GROUP BY d.pc_id`), TS(inflightCutoff), scheduleID)
	if err != nil {
		return nil, fmt.Errorf("schedule standings schedule=%s: %w", scheduleID, err)
	}
	defer rows.Close()
	out := map[string]PCStanding{}
	for rows.Next() {
		var pc string
		var last sql.NullString
		var inflight int
		if err := rows.Scan(&pc, &last, &inflight); err != nil {
			return nil, err
		}
		st := PCStanding{InFlight: inflight != 0}
		if last.Valid {
			st.LastSuccess = ParseTS(last.String)
		}
		out[pc] = st
	}
	return out, rows.Err()
}

// JobSuccesses returns, per PC, the finish time of its last successful run
// of the job (exit 0, not skipped) from any source: a per_pc schedule with
// count_manual counts a manual exec's success as its own.
func (db *DB) JobSuccesses(ctx context.Context, jobID string) (map[string]time.Time, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT pc_id, MAX(finished_at) FROM execution_results
		WHERE job_id = ? AND exit_code = 0 AND skipped = 0 AND finished_at IS NOT NULL GROUP BY pc_id`), jobID)
	if err != nil {
		return nil, fmt.Errorf("job successes job=%s: %w", jobID, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var pc, at string
		if err := rows.Scan(&pc, &at); err != nil {
			return nil, fmt.Errorf("job successes job=%s: %w", jobID, err)
		}
		out[pc] = ParseTS(at)
	}
	return out, rows.Err()
}
