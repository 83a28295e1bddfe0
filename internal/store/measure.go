package store

import (
	"context"
	"fmt"
)

// For measuring the projector (kanade-sim and the benchmarks): the
// physical ceiling of the same schema, and cheap progress probes. Nothing
// on a serving path uses them.

// InsertResultsRaw inserts finished rows with plain prepared INSERTs in one
// transaction: no conflict handling, no counters, nothing else. It is the
// ceiling the projector's rate is compared with.
func (db *DB) InsertResultsRaw(ctx context.Context, rs []Result) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, db.q(`INSERT INTO execution_results (result_id, request_id, exec_id, pc_id, job_id, version,
		exit_code, stdout, stderr, started_at, finished_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("prepare raw insert: %w", err)
	}
	defer st.Close()
	for _, r := range rs {
		if _, err := st.ExecContext(ctx, r.ResultID, r.RequestID, r.ExecID, r.PCID, r.ManifestID, r.Version, r.ExitCode,
			r.Stdout, r.Stderr, TS(r.StartedAt), TS(r.FinishedAt), TS(r.RecordedAt)); err != nil {
			return fmt.Errorf("raw insert result_id=%s: %w", r.ResultID, err)
		}
	}
	return tx.Commit()
}

// ResultsHighWater returns MAX(rowid) of execution_results on SQLite:
// O(log n), unlike COUNT(*), and the number of rows inserted as long as
// none was deleted. SQLite only (PostgreSQL has no rowid).
func (db *DB) ResultsHighWater(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT COALESCE(MAX(rowid), 0) FROM execution_results").Scan(&n); err != nil {
		return 0, fmt.Errorf("results high water: %w", err)
	}
	return n, nil
}

// ExecutionTotals returns the results counted over every execution
// (successes and failures) and the number of completed executions.
func (db *DB) ExecutionTotals(ctx context.Context) (counted, completed int, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(success_count + failure_count), 0),
		COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) FROM executions`).Scan(&counted, &completed)
	if err != nil {
		return 0, 0, fmt.Errorf("execution totals: %w", err)
	}
	return counted, completed, nil
}
