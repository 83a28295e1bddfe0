package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/invtable"
)

// Inventory job rows (SPEC §14): tables inventory_rows, inventory_values
// (one row per column value, the index behind where=column:op:value) and
// inventory_sources (which result each PC's rows come from), written by
// the results projector through ApplyInventory.

// InventoryResult is one successful inventory job result to apply. Err
// set: the output was refused, the result is flagged and no row changes.
type InventoryResult struct {
	Table      string
	Columns    []string
	PCID       string
	ResultID   string
	Seq        uint64    // the RESULTS stream sequence of the result
	FinishedAt time.Time // the result's finished_at: history's "at"
	Rows       []invtable.Row
	Err        string
}

// StreamResults is inventory_history.stream for job rows.
const StreamResults = "RESULTS"

// maxSortBytes bounds the text a sort key is made of (index entries stay
// small; values that share 256 bytes compare equal).
const maxSortBytes = 256

// SortKey is the text stored in inventory_values.sort_value: string order
// of two keys is CompareVersions order of the values (cut to 256 bytes),
// so 1.10 > 1.9, 120.0.1 < 120.0.10 and 10 > 9. A run of digits becomes
// its length (two digits) and the digits without leading zeros; a run of
// anything else is kept and ends with a 0x00 byte, so a shorter run sorts
// first as in CompareVersions. The result is hex, so PostgreSQL's
// collation cannot reorder it.
func SortKey(s string) string {
	if len(s) > maxSortBytes {
		s = s[:maxSortBytes]
	}
	var b []byte
	for s != "" {
		var c string
		c, s = versionChunk(s)
		if isDigit(c[0]) {
			c = strings.TrimLeft(c, "0")
			if len(c) > 99 {
				c = c[:99]
			}
			b = append(b, byte('0'+len(c)/10), byte('0'+len(c)%10))
			b = append(b, c...)
		} else {
			b = append(b, c...)
			b = append(b, 0)
		}
	}
	return hex.EncodeToString(b)
}

// ApplyInventory applies inventory results in one transaction, in batch
// order. A result applies only if it is newer (finished_at, then stream
// sequence) than the one the PC's rows of that table come from, so a
// redelivery, a replay or a late older result changes nothing; history
// rows are keyed by the result's sequence and inserted once.
func (db *DB) ApplyInventory(ctx context.Context, batch []InventoryResult) error {
	if len(batch) == 0 {
		return nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for _, r := range batch {
		if err := db.applyInventory(ctx, tx, r); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit inventory batch: %w", err)
	}
	return nil
}

func (db *DB) applyInventory(ctx context.Context, tx *sql.Tx, r InventoryResult) error {
	if r.Err != "" {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE execution_results SET inventory_error = ? WHERE result_id = ?`),
			cleanText(r.Err), r.ResultID); err != nil {
			return fmt.Errorf("flag inventory error result_id=%s: %w", r.ResultID, err)
		}
		return nil
	}
	at := TS(r.FinishedAt)
	var curAt string
	var curSeq int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT finished_at, stream_seq FROM inventory_sources WHERE table_name = ? AND pc_id = ?`),
		r.Table, r.PCID).Scan(&curAt, &curSeq)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return fmt.Errorf("read inventory source %s/%s: %w", r.Table, r.PCID, err)
	case curAt > at || (curAt == at && uint64(curSeq) >= r.Seq):
		return nil // older than (or the same as) what is there
	}
	old := map[string]string{}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT item_key, row FROM inventory_rows WHERE table_name = ? AND pc_id = ?`), r.Table, r.PCID)
	if err != nil {
		return fmt.Errorf("read inventory rows %s/%s: %w", r.Table, r.PCID, err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return fmt.Errorf("scan inventory row: %w", err)
		}
		old[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read inventory rows %s/%s: %w", r.Table, r.PCID, err)
	}
	hist := func(key, change string, oldV, newV *string) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory_history
			(stream, stream_seq, table_name, item_key, field, pc_id, change, old_value, new_value, at)
			VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			StreamResults, int64(r.Seq), r.Table, key, r.PCID, change, oldV, newV, at)
		if err != nil {
			return fmt.Errorf("insert inventory history %s/%s/%s: %w", r.Table, r.PCID, key, err)
		}
		return nil
	}
	delValues := func(key string) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM inventory_values WHERE table_name = ? AND pc_id = ? AND item_key = ?`),
			r.Table, r.PCID, key)
		if err != nil {
			return fmt.Errorf("delete inventory values %s/%s/%s: %w", r.Table, r.PCID, key, err)
		}
		return nil
	}
	insValues := func(row invtable.Row) error {
		for i, c := range r.Columns {
			v, sv := strings.ToLower(cleanText(row.Values[i])), SortKey(row.Values[i])
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory_values (table_name, column_name, pc_id, item_key, value, sort_value)
				VALUES (?, ?, ?, ?, ?, ?)`), r.Table, c, r.PCID, row.Key, v, sv); err != nil {
				return fmt.Errorf("insert inventory value %s/%s/%s: %w", r.Table, r.PCID, row.Key, err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory_terms (table_name, column_name, value, sort_value)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`), r.Table, c, v, sv); err != nil {
				return fmt.Errorf("insert inventory term %s/%s: %w", r.Table, c, err)
			}
		}
		return nil
	}
	seen := map[string]bool{}
	for _, row := range r.Rows {
		row.Key, row.JSON = cleanText(row.Key), cleanText(row.JSON)
		seen[row.Key] = true
		prev, had := old[row.Key]
		switch {
		case had && prev == row.JSON:
			continue
		case had:
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE inventory_rows SET row = ?, search = ?, result_id = ?, updated_at = ?
				WHERE table_name = ? AND pc_id = ? AND item_key = ?`), row.JSON, searchText(row), r.ResultID, at, r.Table, r.PCID, row.Key); err != nil {
				return fmt.Errorf("update inventory row %s/%s/%s: %w", r.Table, r.PCID, row.Key, err)
			}
			if err := delValues(row.Key); err != nil {
				return err
			}
			if err := hist(row.Key, ChangeChanged, &prev, &row.JSON); err != nil {
				return err
			}
		default:
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory_rows (table_name, pc_id, item_key, row, search, result_id, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`), r.Table, r.PCID, row.Key, row.JSON, searchText(row), r.ResultID, at); err != nil {
				return fmt.Errorf("insert inventory row %s/%s/%s: %w", r.Table, r.PCID, row.Key, err)
			}
			if err := hist(row.Key, ChangeAdded, nil, &row.JSON); err != nil {
				return err
			}
		}
		if err := insValues(row); err != nil {
			return err
		}
	}
	gone := make([]string, 0)
	for k := range old {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM inventory_rows WHERE table_name = ? AND pc_id = ? AND item_key = ?`),
			r.Table, r.PCID, k); err != nil {
			return fmt.Errorf("delete inventory row %s/%s/%s: %w", r.Table, r.PCID, k, err)
		}
		if err := delValues(k); err != nil {
			return err
		}
		prev := old[k]
		if err := hist(k, ChangeRemoved, &prev, nil); err != nil {
			return err
		}
	}
	cols, _ := json.Marshal(r.Columns)
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory_sources (table_name, pc_id, result_id, stream_seq, finished_at, row_count, columns)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (table_name, pc_id) DO UPDATE SET result_id = excluded.result_id,
		stream_seq = excluded.stream_seq, finished_at = excluded.finished_at, row_count = excluded.row_count, columns = excluded.columns`),
		r.Table, r.PCID, r.ResultID, int64(r.Seq), at, len(seen), string(cols)); err != nil {
		return fmt.Errorf("record inventory source %s/%s: %w", r.Table, r.PCID, err)
	}
	return nil
}

func searchText(row invtable.Row) string {
	return strings.ToLower(cleanText(strings.Join(row.Values, "\x1f")))
}

// InventoryTables lists the tables inventory jobs have filled, by name.
func (db *DB) InventoryTables(ctx context.Context) ([]apiv1.InventoryTable, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT table_name, COUNT(*), COALESCE(SUM(row_count), 0), MAX(columns)
		FROM inventory_sources GROUP BY table_name ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("list inventory tables: %w", err)
	}
	defer rows.Close()
	out := []apiv1.InventoryTable{}
	for rows.Next() {
		var t apiv1.InventoryTable
		var cols string
		if err := rows.Scan(&t.Table, &t.PCs, &t.Rows, &cols); err != nil {
			return nil, fmt.Errorf("scan inventory table: %w", err)
		}
		if err := json.Unmarshal([]byte(cols), &t.Columns); err != nil {
			return nil, fmt.Errorf("decode columns of %s: %w", t.Table, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// InventoryCond is one where=column:op:value.
type InventoryCond struct {
	Column, Op, Value string
}

// Inventory where operators.
var InventoryOps = []string{"eq", "ne", "lt", "le", "gt", "ge", "contains"}

// ParseInventoryCond parses column:op:value (the value may contain ':').
func ParseInventoryCond(s string) (InventoryCond, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] == "" {
		return InventoryCond{}, &cursor.ParamError{Field: "where", Msg: fmt.Sprintf("%.80q is not column:op:value", s)}
	}
	c := InventoryCond{Column: parts[0], Op: parts[1], Value: parts[2]}
	if !slices.Contains(InventoryOps, c.Op) {
		return c, &cursor.ParamError{Field: "where", Msg: fmt.Sprintf("%.40q is not one of %s", c.Op, strings.Join(InventoryOps, ", "))}
	}
	return c, nil
}

// InventoryRowFilter filters GET /api/inventory/tables/{table}.
type InventoryRowFilter struct {
	Table string
	PCID  string
	Q     string // substring of any column, case-insensitive
	Group string
	Where []InventoryCond
	Scope []string // a scoped caller's groups (scope.go); nil = all
}

var invSQLOps = map[string]string{"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

// termsCap is how many distinct values a substring may match and still
// be searched through inventory_terms; past it the search is dense
// enough that walking rows fills a page (and the capped count) quickly.
const termsCap = 10000

// DB.invMode values.
const (
	invModeScan = 1 + iota
	invModeTerms
)

// invTerm is one sort key of a column with a value that contains a
// search text.
type invTerm struct{ column, sort string }

// invTerms are the terms of a search. exact: every value of every term
// contains the text, so the rows need no second look at their value
// (a sort key is shared by values that differ only in leading zeros,
// 1.01 and 1.1, or past 256 bytes) and the index alone answers.
type invTerms struct {
	terms []invTerm
	exact bool
}

// invQuery is one way of answering a filter: the page and count
// statements with their arguments.
type invQuery struct {
	list      string
	listArgs  []any
	count     string
	countArgs []any
	// probe, for q through terms, counts matching values (a row once per
	// matching column) up to CountCap+1: it tells sparse from dense.
	probe     string
	probeArgs []any
}

// driving reorders the conditions so the first drives the query: the
// first eq if any (the most selective as a rule), else the first.
func driving(conds []InventoryCond) []InventoryCond {
	conds = slices.Clone(conds)
	if i := slices.IndexFunc(conds, func(c InventoryCond) bool { return c.Op == "eq" }); i > 0 {
		conds[0], conds[i] = conds[i], conds[0]
	}
	return conds
}

// substring is the substring search a filter's query is driven by (the
// driving contains condition, or q without where), if any.
func substring(f InventoryRowFilter) (column, text string, ok bool) {
	if len(f.Where) == 0 {
		return "", f.Q, f.Q != ""
	}
	c := driving(f.Where)[0]
	return c.Column, c.Value, c.Op == "contains"
}

// placeholders is "?, ?, ..." n times.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// inventoryRowQueries builds the page and count queries. Without where
// the rows are in (pc_id, item_key) order, the primary key's. With where
// the driving condition reads the index on inventory_values (table,
// column, sort_value, pc_id, item_key) and the rows come in that order,
// so a page is an index range and an eq is already in PC order; the other
// conditions are primary-key probes of inventory_values per row.
//
// terms (non-nil for a driving substring search): the distinct values
// that contain the text, looked up first in inventory_terms; only their
// rows are read, by index, instead of testing every row of the table.
func inventoryRowQueries(f InventoryRowFilter, p Page, ts *invTerms) (invQuery, error) {
	if len(f.Where) == 0 && ts != nil && f.Q != "" {
		return qTermsQueries(f, p, ts)
	}
	var w where
	from := "inventory_rows r"
	countFrom := from
	// t is the alias the PC and row conditions name: the driving table,
	// so a count over inventory_values needs no join (every value has its
	// row: ApplyInventory writes both in one transaction).
	t := "r"
	var order []sortCol
	conds := driving(f.Where)
	q := f.Q
	switch {
	case len(conds) == 0:
		w.add("r.table_name = ?", f.Table)
		order = []sortCol{{col: "r.pc_id"}, {col: "r.item_key"}}
	default:
		t = "v0"
		from = "inventory_values v0 JOIN inventory_rows r ON r.table_name = v0.table_name AND r.pc_id = v0.pc_id AND r.item_key = v0.item_key"
		countFrom = "inventory_values v0"
		if q != "" {
			countFrom = from
		}
		w.add("v0.table_name = ?", f.Table)
		w.add("v0.column_name = ?", conds[0].Column)
		if ts != nil && conds[0].Op == "contains" {
			// The index walks the matching values in order: the page
			// needs no sort, and the capped count stops early.
			args := make([]any, len(ts.terms))
			for i, tm := range ts.terms {
				args[i] = tm.sort
			}
			w.add("v0.sort_value IN ("+placeholders(len(ts.terms))+")", args...)
		}
		if ts == nil || !ts.exact || conds[0].Op != "contains" {
			cond, args := condSQL("v0", conds[0])
			w.add(cond, args...)
		}
		order = []sortCol{{col: "v0.sort_value"}, {col: "v0.pc_id"}, {col: "v0.item_key"}}
		for i, c := range conds[1:] {
			a := fmt.Sprintf("v%d", i+1)
			// "|| ''" keeps the planner off the sort index here: each
			// row is one primary-key probe, never a range walk per row.
			cond, args := condSQL(a, c)
			cond = strings.Replace(cond, a+".sort_value ", "("+a+".sort_value || '') ", 1)
			w.add(fmt.Sprintf("EXISTS (SELECT 1 FROM inventory_values %[1]s WHERE %[1]s.table_name = v0.table_name AND %[1]s.column_name = ? AND %[1]s.pc_id = v0.pc_id AND %[1]s.item_key = v0.item_key AND %[2]s)", a, cond),
				append([]any{c.Column}, args...)...)
		}
	}
	if f.PCID != "" {
		w.add(t+".pc_id = ?", f.PCID)
	}
	if f.Group != "" {
		w.add(t+".pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", f.Group)
	}
	w.addScope(t+".pc_id", f.Scope)
	if q != "" {
		w.add(`r.search LIKE ? ESCAPE '\'`, likeEscape(strings.ToLower(q)))
	}
	var out invQuery
	out.count = fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s%s LIMIT %d) capped", countFrom, w.sql(), CountCap+1)
	out.countArgs = slices.Clone(w.args)
	if p.After != nil {
		if err := seekN(&w, p.After, order); err != nil {
			return out, err
		}
	}
	limit, offset := pageArgs(p)
	sortCol := "''"
	if len(order) == 3 {
		sortCol = "v0.sort_value"
	}
	out.list = "SELECT " + inventoryRowCols + ", " + sortCol + " FROM " + from + w.sql() + orderBy(order...) + " LIMIT ? OFFSET ?"
	out.listArgs = append(slices.Clone(w.args), limit, offset)
	return out, nil
}

// qTermsQueries answers q without where through its terms: the matching
// terms' values, by index (CROSS JOIN keeps SQLite in that order; left
// to itself it may walk every row and probe the matches), grouped by row
// — in (pc_id, item_key) order, which is the page's — and only the page's
// rows are read. Every statement's PC conditions name qv.
func qTermsQueries(f InventoryRowFilter, p Page, ts *invTerms) (invQuery, error) {
	vals := make([]string, len(ts.terms))
	var fromArgs []any
	column := ts.terms[0].column
	oneColumn := true
	for i, tm := range ts.terms {
		vals[i] = "(?, ?)"
		fromArgs = append(fromArgs, tm.column, tm.sort)
		oneColumn = oneColumn && tm.column == column
	}
	from := "(VALUES " + strings.Join(vals, ", ") + ") qt CROSS JOIN inventory_values qv"
	var w where
	w.add("qv.table_name = ? AND qv.column_name = qt.column1 AND qv.sort_value = qt.column2", f.Table)
	if !ts.exact {
		w.add(`qv.value LIKE ? ESCAPE '\'`, likeEscape(strings.ToLower(f.Q)))
	}
	if f.PCID != "" {
		w.add("qv.pc_id = ?", f.PCID)
	}
	if f.Group != "" {
		w.add("qv.pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", f.Group)
	}
	var out invQuery
	out.probe = fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s%s LIMIT %d) capped", from, w.sql(), CountCap+1)
	out.probeArgs = append(slices.Clone(fromArgs), w.args...)
	// A row has one value per column: matches in one column are rows.
	out.count, out.countArgs = out.probe, out.probeArgs
	if !oneColumn {
		out.count = fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s%s GROUP BY qv.pc_id, qv.item_key LIMIT %d) capped", from, w.sql(), CountCap+1)
	}
	order := []sortCol{{col: "qv.pc_id"}, {col: "qv.item_key"}}
	if p.After != nil {
		if err := w.seek(p.After, order...); err != nil {
			return out, err
		}
	}
	limit, offset := pageArgs(p)
	out.list = "SELECT " + inventoryRowCols + ", '' FROM (SELECT qv.pc_id, qv.item_key FROM " + from + w.sql() +
		" GROUP BY qv.pc_id, qv.item_key" + orderBy(order...) + " LIMIT ? OFFSET ?) m CROSS JOIN inventory_rows r" +
		" WHERE r.table_name = ? AND r.pc_id = m.pc_id AND r.item_key = m.item_key ORDER BY r.pc_id, r.item_key"
	out.listArgs = append(append(slices.Clone(fromArgs), w.args...), limit, offset, f.Table)
	return out, nil
}

// planInventoryRows picks how to answer f. A substring search whose text
// is in at most termsCap distinct values is answered through
// inventory_terms: a contains condition always (its page comes in index
// order straight from the matching values), q while it matches at most
// CountCap rows (its page is sorted by row, so every match is read); a
// denser q walks the rows, which fills a page quickly, and its total is
// the capped estimate. known is the total when deciding counted it (else
// -1); none: nothing can match.
func (db *DB) planInventoryRows(ctx context.Context, f InventoryRowFilter, p Page) (iq invQuery, known int, none bool, err error) {
	col, text, ok := substring(f)
	if !ok || db.invMode == invModeScan {
		iq, err := inventoryRowQueries(f, p, nil)
		return iq, -1, false, err
	}
	ts, err := db.searchTerms(ctx, f.Table, col, text)
	if err != nil {
		return iq, -1, false, err
	}
	if len(ts.terms) == 0 {
		return iq, 0, true, nil
	}
	if len(ts.terms) > termsCap && db.invMode != invModeTerms {
		iq, err := inventoryRowQueries(f, p, nil)
		return iq, -1, false, err
	}
	if iq, err = inventoryRowQueries(f, p, &ts); err != nil {
		return iq, -1, false, err
	}
	if iq.probe == "" || db.invMode == invModeTerms {
		return iq, -1, false, nil // contains: the count is index-driven too
	}
	var hits int
	if err := db.read.QueryRowContext(ctx, db.q(iq.probe), iq.probeArgs...).Scan(&hits); err != nil {
		return iq, -1, false, fmt.Errorf("probe inventory search: %w", err)
	}
	if hits <= CountCap {
		if iq.count == iq.probe {
			return iq, hits, false, nil
		}
		return iq, -1, false, nil
	}
	iq, err = inventoryRowQueries(f, p, nil)
	return iq, CountCap + 1, false, err
}

// searchTerms returns (up to termsCap+1) the sort keys of the table's
// column (of any column when column is "") with a value that contains
// text: one LIKE per distinct value, then, by primary key, whether any
// other value shares a matched sort key without containing the text.
func (db *DB) searchTerms(ctx context.Context, table, column, text string) (invTerms, error) {
	l := likeEscape(strings.ToLower(text))
	w := where{}
	w.add("table_name = ?", table)
	if column != "" {
		w.add("column_name = ?", column)
	}
	w.add(`value LIKE ? ESCAPE '\'`, l)
	rows, err := db.read.QueryContext(ctx, db.q(fmt.Sprintf(`SELECT column_name, sort_value FROM inventory_terms%s LIMIT %d`,
		w.sql(), termsCap+1)), w.args...)
	if err != nil {
		return invTerms{}, fmt.Errorf("search inventory terms: %w", err)
	}
	defer rows.Close()
	var out invTerms
	seen := map[invTerm]bool{}
	for rows.Next() {
		var t invTerm
		if err := rows.Scan(&t.column, &t.sort); err != nil {
			return out, fmt.Errorf("scan inventory term: %w", err)
		}
		if !seen[t] {
			seen[t] = true
			out.terms = append(out.terms, t)
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("search inventory terms: %w", err)
	}
	rows.Close()
	if len(out.terms) == 0 || len(out.terms) > termsCap {
		return out, nil
	}
	vals := make([]string, len(out.terms))
	args := []any{table}
	for i, t := range out.terms {
		vals[i] = "(?, ?)"
		args = append(args, t.column, t.sort)
	}
	var other int
	err = db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM inventory_terms WHERE table_name = ?
		AND (column_name, sort_value) IN (VALUES `+strings.Join(vals, ", ")+`) AND NOT (value LIKE ? ESCAPE '\') LIMIT 1) t`),
		append(args, l)...).Scan(&other)
	if err != nil {
		return out, fmt.Errorf("check inventory terms: %w", err)
	}
	out.exact = other == 0
	return out, nil
}

const inventoryRowCols = "r.pc_id, r.item_key, r.row, r.result_id, r.updated_at"

// condSQL is one condition on the inventory_values alias a.
func condSQL(a string, c InventoryCond) (string, []any) {
	if c.Op == "contains" {
		return a + `.value LIKE ? ESCAPE '\'`, []any{likeEscape(strings.ToLower(c.Value))}
	}
	return a + ".sort_value " + invSQLOps[c.Op] + " ?", []any{SortKey(c.Value)}
}

// seekN is where.seek for keys of two or three ascending columns:
// "a >= k AND (a > k OR (b, c) after (t, u))", so the first column stays
// an index range on both databases.
func seekN(w *where, key cursor.Key, cols []sortCol) error {
	if len(cols) <= 2 {
		return w.seek(key, cols...)
	}
	if len(key) != 3 {
		return ErrBadCursor
	}
	a, b, c := cols[0].col, cols[1].col, cols[2].col
	w.add(fmt.Sprintf("%[1]s >= ? AND (%[1]s > ? OR (%[2]s >= ? AND (%[2]s > ? OR %[3]s > ?)))", a, b, c),
		key[0], key[0], key[1], key[1], key[2])
	return nil
}

// PageInventoryRows returns one page of a table's rows with the total
// (counted up to CountCap, then flagged estimated) and the next key.
func (db *DB) PageInventoryRows(ctx context.Context, f InventoryRowFilter, p Page) (Listing[apiv1.InventoryRow], error) {
	l := Listing[apiv1.InventoryRow]{Rows: []apiv1.InventoryRow{}}
	iq, known, none, err := db.planInventoryRows(ctx, f, p)
	if err != nil || none {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(iq.list), iq.listArgs...)
	if err != nil {
		return l, fmt.Errorf("list inventory rows: %w", err)
	}
	defer rows.Close()
	var sorts []string
	for rows.Next() {
		var r apiv1.InventoryRow
		var row, updated, sortV string
		if err := rows.Scan(&r.PCID, &r.Key, &row, &r.ResultID, &updated, &sortV); err != nil {
			return l, fmt.Errorf("scan inventory row: %w", err)
		}
		if r.Row, err = invtable.Decode(row); err != nil {
			return l, err
		}
		r.Table, r.UpdatedAt = f.Table, ParseTS(updated)
		l.Rows = append(l.Rows, r)
		sorts = append(sorts, sortV)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list inventory rows: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if known >= 0 {
		l.Total = known
		l.Estimated = l.Total > CountCap
	} else {
		if err := db.read.QueryRowContext(ctx, db.q(iq.count), iq.countArgs...).Scan(&l.Total); err != nil {
			return l, fmt.Errorf("count inventory rows: %w", err)
		}
		l.Estimated = l.Total > CountCap
	}
	if len(l.Rows) > p.Limit {
		l.Rows = l.Rows[:p.Limit]
		last := l.Rows[p.Limit-1]
		if len(f.Where) == 0 {
			l.Next = cursor.Key{last.PCID, last.Key}
		} else {
			l.Next = cursor.Key{sorts[p.Limit-1], last.PCID, last.Key}
		}
	}
	return l, nil
}
