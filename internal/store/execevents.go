package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// ApplyExecEvents projects ExecRequested messages (stream EXECS, SPEC §11)
// into executions in one transaction, in order. Every message changes a
// row at most once, so the API (which applies its own messages at once for
// read-your-writes), the executions projector and a replay after a wipe
// can all apply the same messages in any number:
//
//   - requested inserts the row unless it exists; a new row takes its
//     counters from the results already projected (a replay may project
//     RESULTS before EXECS) and its per_pc schedule dispatch rows;
//   - wave_sent / wave_cancelled apply once per wave (waves_done);
//   - fanout applies once (fanout_done) and forgets the dispatch rows of
//     PCs whose command never left;
//   - paused / resumed set rollout_paused when newer (seq) than the last
//     one applied; halted sets halt_reason once.
//
// A message for an execution whose row does not exist (its requested
// message is gone from the stream) changes nothing.
func (db *DB) ApplyExecEvents(ctx context.Context, evs []wire.ExecRequested) ([]ExecProgress, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ExecID)
	}
	if err := db.lockExecs(ctx, tx, ids); err != nil {
		return nil, err
	}
	var touched []string
	for _, e := range evs {
		changed, err := db.applyExecEvent(ctx, tx, e)
		if err != nil {
			return nil, fmt.Errorf("apply %s exec_id=%s: %w", e.Kind, e.ExecID, err)
		}
		if changed && !slices.Contains(touched, e.ExecID) {
			touched = append(touched, e.ExecID)
		}
	}
	var out []ExecProgress
	for _, id := range touched {
		var p ExecProgress
		err := tx.QueryRowContext(ctx, db.q(`SELECT exec_id, job_id, status, target_count, success_count, failure_count, skipped_count
			FROM executions WHERE exec_id = ?`), id).
			Scan(&p.ExecID, &p.JobID, &p.Status, &p.TargetCount, &p.SuccessCount, &p.FailureCount, &p.SkippedCount)
		if err != nil {
			return nil, fmt.Errorf("read execution exec_id=%s: %w", id, err)
		}
		out = append(out, p)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit exec events: %w", err)
	}
	return out, nil
}

// settleOne recomputes an execution's status after a change (see
// settleStatus): pending and expired stay, otherwise completed once every
// counted target reported and no wave is left.
const settleOne = `UPDATE executions SET status = CASE WHEN status IN ('pending', 'expired') THEN status
		WHEN success_count + failure_count + skipped_count >= target_count AND pending_waves <= 0 THEN 'completed'
		ELSE 'running' END WHERE exec_id = ?`

func (db *DB) applyExecEvent(ctx context.Context, tx *sql.Tx, e wire.ExecRequested) (bool, error) {
	var res sql.Result
	var err error
	switch e.Kind {
	case wire.ExecRequestedKind:
		res, err = tx.ExecContext(ctx, db.q(`INSERT INTO executions
			(exec_id, job_id, version, initiated_by, initiated_at, target_count, status, pending_waves)
			VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (exec_id) DO NOTHING`),
			e.ExecID, e.JobID, e.Version, e.InitiatedBy, TS(e.InitiatedAt), max(e.TargetCount, 1), e.PendingWaves)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
		// Counters from the results already there; any run started or
		// finished makes it running (as the started projector would have).
		const of = `FROM execution_results r WHERE r.exec_id = executions.exec_id AND r.finished_at IS NOT NULL`
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE executions SET
			success_count = (SELECT COUNT(*) `+of+` AND r.skipped = 0 AND r.exit_code = 0),
			failure_count = (SELECT COUNT(*) `+of+` AND r.skipped = 0 AND (r.exit_code IS NULL OR r.exit_code <> 0)),
			skipped_count = (SELECT COUNT(*) `+of+` AND r.skipped = 1),
			status = CASE WHEN EXISTS (SELECT 1 FROM execution_results r WHERE r.exec_id = executions.exec_id)
				THEN 'running' ELSE status END
			WHERE exec_id = ?`), e.ExecID); err != nil {
			return false, fmt.Errorf("count results: %w", err)
		}
		if sc := e.Schedule; sc != nil && len(sc.PCs) > 0 {
			stmt, err := tx.PrepareContext(ctx, db.q(`INSERT INTO schedule_dispatches (schedule_id, pc_id, exec_id, dispatched_at)
				VALUES (?, ?, ?, ?) ON CONFLICT (schedule_id, pc_id, exec_id) DO NOTHING`))
			if err != nil {
				return false, err
			}
			defer stmt.Close()
			for _, pc := range sc.PCs {
				if _, err := stmt.ExecContext(ctx, sc.ID, pc, e.ExecID, TS(sc.DispatchedAt)); err != nil {
					return false, fmt.Errorf("dispatch row pc_id=%s: %w", pc, err)
				}
			}
		}
	case wire.ExecWaveSentKind, wire.ExecWaveCancelledKind:
		sent := 0
		if e.Kind == wire.ExecWaveSentKind {
			sent = 1
		}
		w := strconv.Itoa(e.Wave)
		res, err = tx.ExecContext(ctx, db.q(`UPDATE executions SET
			target_count = target_count + CAST(? AS INTEGER),
			pending_waves = CASE WHEN pending_waves > 0 THEN pending_waves - 1 ELSE 0 END,
			wave_subjects = wave_subjects + CAST(? AS INTEGER),
			waves_done = waves_done || ?
			WHERE exec_id = ? AND waves_done NOT LIKE ?`),
			e.TargetsAdded*sent, sent, w+",", e.ExecID, "%,"+w+",%")
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
	case wire.ExecPausedKind, wire.ExecResumedKind:
		paused := 0
		if e.Kind == wire.ExecPausedKind {
			paused = 1
		}
		res, err = tx.ExecContext(ctx, db.q(`UPDATE executions SET rollout_paused = ?, rollout_seq = ?
			WHERE exec_id = ? AND rollout_seq < ?`), paused, e.Seq, e.ExecID, e.Seq)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
	case wire.ExecHaltedKind:
		res, err = tx.ExecContext(ctx, db.q(`UPDATE executions SET halt_reason = ?, rollout_paused = 0
			WHERE exec_id = ? AND halt_reason = ''`), e.Reason, e.ExecID)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
	case wire.ExecFanoutKind:
		failed := ""
		if len(e.SubjectsFailed) > 0 {
			b, _ := json.Marshal(e.SubjectsFailed)
			failed = string(b)
		}
		res, err = tx.ExecContext(ctx, db.q(`UPDATE executions SET
			subjects_sent = ?, subjects_failed = ?, fanout_done = 1,
			target_count = CASE WHEN target_count - CAST(? AS INTEGER) < 1 THEN 1 ELSE target_count - CAST(? AS INTEGER) END,
			pending_waves = CASE WHEN pending_waves > CAST(? AS INTEGER) THEN pending_waves - CAST(? AS INTEGER) ELSE 0 END
			WHERE exec_id = ? AND fanout_done = 0`),
			e.SubjectsSent, failed, e.TargetsLost, e.TargetsLost, e.WavesLost, e.WavesLost, e.ExecID)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
		// Reached nothing and nothing left to send: nobody will ever run it.
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE executions SET status = 'expired'
			WHERE exec_id = ? AND status = 'pending' AND subjects_sent + wave_subjects = 0 AND pending_waves = 0`), e.ExecID); err != nil {
			return false, err
		}
		var pcs []string
		for _, s := range e.SubjectsFailed {
			if pc, ok := strings.CutPrefix(s, bus.CommandsPC("")); ok {
				pcs = append(pcs, pc)
			}
		}
		if len(pcs) > 0 {
			stmt, err := tx.PrepareContext(ctx, db.q(`DELETE FROM schedule_dispatches WHERE exec_id = ? AND pc_id = ?`))
			if err != nil {
				return false, err
			}
			defer stmt.Close()
			for _, pc := range pcs {
				if _, err := stmt.ExecContext(ctx, e.ExecID, pc); err != nil {
					return false, fmt.Errorf("forget dispatch pc_id=%s: %w", pc, err)
				}
			}
		}
	default:
		return false, nil // the decoder admits no other kind
	}
	if _, err := tx.ExecContext(ctx, db.q(settleOne), e.ExecID); err != nil {
		return false, fmt.Errorf("settle: %w", err)
	}
	return true, nil
}

// lockExecs serialises, on PostgreSQL, the transactions that create an
// executions row with those that count results into it: without it a
// result committed while the row is being inserted would be counted by
// neither (the insert's count misses the uncommitted result, the result's
// UPDATE misses the uncommitted row). SQLite has one writer: nothing to do.
// Keys are taken in sorted order so two transactions never deadlock.
func (db *DB) lockExecs(ctx context.Context, tx *sql.Tx, ids []string) error {
	if db.d != postgres || len(ids) == 0 {
		return nil
	}
	keys := distinctSorted(ids)
	if len(keys) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1801, s.h)
		FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS u(k) ORDER BY h) s`, keys); err != nil {
		return fmt.Errorf("lock executions: %w", err)
	}
	return nil
}
