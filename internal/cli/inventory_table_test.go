package cli

import (
	"context"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/store"
)

// TestInventoryTable: inventory tables and inventory table with where,
// q and pc filters, over rows applied to the backend's real store.
func TestInventoryTable(t *testing.T) {
	e := newEnv(t, nil)
	spec := invtable.Spec{Table: "software", Key: []string{"name"}, Columns: []string{"name", "version", "publisher"}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	apply := func(pc string, seq uint64, out string) store.InventoryResult {
		rows, err := invtable.Parse(out, spec)
		if err != nil {
			t.Fatal(err)
		}
		return store.InventoryResult{Table: "software", Columns: spec.Columns, PCID: pc, ResultID: "r-" + pc, Seq: seq, FinishedAt: at, Rows: rows}
	}
	if err := e.b.DB.ApplyInventory(context.Background(), []store.InventoryResult{
		apply("pc-1", 1, `[{"name":"Google Chrome","version":"120.0.10","publisher":"Google"},{"name":"7-Zip","version":"23.01"}]`),
		apply("pc-2", 2, `[{"name":"Google Chrome","version":"99.0.1","publisher":"Google"}]`),
	}); err != nil {
		t.Fatal(err)
	}
	golden(t, "inventory_tables", e.ok("inventory", "tables"))
	golden(t, "inventory_table_where", e.ok("inventory", "table", "software", "--where", "name:eq:Google Chrome", "--where", "version:lt:120.0.1"))
	golden(t, "inventory_table_pc", e.ok("inventory", "table", "software", "--pc", "pc-1", "--q", "zip"))
}
