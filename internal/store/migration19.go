package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrationInventoryProbe (PostgreSQL only) lets a second where
// condition's per-row probe of inventory_values (table, pc, key, column)
// → sort_value read the index alone: the primary key has no sort_value,
// so each probe also fetched the heap row (issue 17: name eq + version lt
// over 10 000 PCs took 155 ms). INCLUDE is PostgreSQL syntax; on SQLite
// the same index measured no faster (each probe costs the b-tree
// descent, not the row fetch), so it is not built there.
const migrationInventoryProbe = 19

func (db *DB) inventoryProbeMigration(up bool) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		if db.d != postgres {
			return nil
		}
		q := `CREATE INDEX inventory_values_probe ON inventory_values (table_name, pc_id, item_key, column_name) INCLUDE (sort_value)`
		if !up {
			q = `DROP INDEX IF EXISTS inventory_values_probe`
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("inventory probe index: %w", err)
		}
		return nil
	}
}
