package apiv1

import "time"

// Inventory job tables (SPEC §14): GET /api/inventory/tables and
// GET /api/inventory/tables/{table}.

// InventoryTable is one table inventory jobs have filled.
type InventoryTable struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"` // as the last applied manifest declared them
	PCs     int      `json:"pcs"`     // PCs with an applied result
	Rows    int      `json:"rows"`
}

// InventoryRow is one row of one PC. Key is the key column's value (a JSON
// array of the key columns' values for a composite key); every value of
// Row is a string. ResultID and UpdatedAt (the result's finished_at) name
// the result that last added or changed the row.
type InventoryRow struct {
	Table     string            `json:"table"`
	PCID      string            `json:"pc_id"`
	Key       string            `json:"key"`
	Row       map[string]string `json:"row"`
	ResultID  string            `json:"result_id"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// InventoryRowQuery filters GET /api/inventory/tables/{table}. Where
// holds column:op:value conditions (repeatable, all must hold), op one of
// eq, ne, lt, le, gt, ge, contains; values compare as versions (1.10 >
// 1.9, 10 > 9), contains is a case-insensitive substring. Q is a
// case-insensitive substring of any column.
type InventoryRowQuery struct {
	PCID  string   `query:"pc_id"`
	Q     string   `query:"q"`
	Group string   `query:"group"`
	Where []string `query:"where"`
	Page
}
