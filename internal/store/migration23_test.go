package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/kanade-fleet/kanade/internal/outgroup"
)

// The backfill of migration 23 computes what the projection would have
// (rows written before it have empty stdout_hash and stderr_excerpt), over
// more rows than one batch.
func TestOutputGroupsBackfill(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := backfillBatch + 7
	for i := range n {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO execution_results (result_id, exec_id, pc_id, exit_code, stdout, stderr,
			started_at, finished_at, recorded_at) VALUES (?, 'e', ?, 1, ?, ?, 't', 't', 't')`,
			fmt.Sprintf("r-%05d", i), fmt.Sprintf("pc-%05d", i), fmt.Sprintf("out %d\r\n", i%3), "warn\nfailed here\n"); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := backfillOutputGroups(ctx, db, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, backfillBatch - 1, backfillBatch, n - 1} {
		var hash, excerpt string
		if err := db.read.QueryRowContext(ctx, `SELECT stdout_hash, stderr_excerpt FROM execution_results WHERE result_id = ?`,
			fmt.Sprintf("r-%05d", i)).Scan(&hash, &excerpt); err != nil {
			t.Fatal(err)
		}
		if hash != outgroup.Hash(fmt.Sprintf("out %d\n", i%3)) || excerpt != "failed here" {
			t.Errorf("row %d: hash %q excerpt %q", i, hash, excerpt)
		}
	}
}
