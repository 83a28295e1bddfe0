package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kanade-fleet/kanade/internal/outgroup"
)

// migrationOutputGroups (23) adds what the execution summary and result
// lists need from a result's output (issue 20): stdout_hash, the
// outgroup.Hash of its stdout that GET /api/executions/{id}/summary groups
// by, and stderr_excerpt, the outgroup.StderrExcerpt shown in lists. Both
// are computed by the result projection (ApplyResults) from the message,
// so a rebuild reproduces them. A Go migration because existing rows are
// backfilled with the same Go functions, which SQL cannot express.
const migrationOutputGroups = 23

var outputGroupsUp = []string{
	`ALTER TABLE execution_results ADD COLUMN stdout_hash TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE execution_results ADD COLUMN stderr_excerpt TEXT NOT NULL DEFAULT ''`,
	// backfill runs here
	// The summary's grouping (exec_id = ? GROUP BY exit_code, stdout_hash)
	// and each group's first PCs (… ORDER BY pc_id LIMIT 20).
	`CREATE INDEX results_exec_groups ON execution_results (exec_id, exit_code, stdout_hash, pc_id)`,
}

var outputGroupsDown = []string{
	`DROP INDEX IF EXISTS results_exec_groups`,
	`ALTER TABLE execution_results DROP COLUMN stderr_excerpt`,
	`ALTER TABLE execution_results DROP COLUMN stdout_hash`,
}

func (db *DB) outputGroupsMigration(up bool) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := outputGroupsDown
		if up {
			stmts = outputGroupsUp
		}
		for i, s := range stmts {
			if up && i == 2 {
				if err := backfillOutputGroups(ctx, db, tx); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migration %d: %w", migrationOutputGroups, err)
			}
		}
		return nil
	}
}

// backfillBatch is how many rows the backfill reads at a time (bounded
// memory whatever the table's size; rows without output are skipped by
// the query).
const backfillBatch = 1000

func backfillOutputGroups(ctx context.Context, db *DB, tx *sql.Tx) error {
	upd, err := tx.PrepareContext(ctx, db.q(`UPDATE execution_results SET stdout_hash = ?, stderr_excerpt = ? WHERE result_id = ?`))
	if err != nil {
		return fmt.Errorf("migration %d: prepare backfill: %w", migrationOutputGroups, err)
	}
	defer upd.Close()
	type row struct{ id, hash, excerpt string }
	after := ""
	for {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT result_id, stdout, stderr FROM execution_results
			WHERE result_id > ? AND (stdout <> '' OR stderr <> '') ORDER BY result_id LIMIT ?`), after, backfillBatch)
		if err != nil {
			return fmt.Errorf("migration %d: read results: %w", migrationOutputGroups, err)
		}
		var batch []row
		for rows.Next() {
			var id, stdout, stderr string
			if err := rows.Scan(&id, &stdout, &stderr); err != nil {
				rows.Close()
				return fmt.Errorf("migration %d: %w", migrationOutputGroups, err)
			}
			batch = append(batch, row{id, outgroup.Hash(stdout), outgroup.StderrExcerpt(stderr)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("migration %d: %w", migrationOutputGroups, err)
		}
		for _, r := range batch {
			if _, err := upd.ExecContext(ctx, r.hash, r.excerpt, r.id); err != nil {
				return fmt.Errorf("migration %d: backfill result_id=%s: %w", migrationOutputGroups, r.id, err)
			}
		}
		if len(batch) < backfillBatch {
			return nil
		}
		after = batch[len(batch)-1].id
	}
}
