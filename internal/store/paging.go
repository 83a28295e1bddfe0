package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/kanade-fleet/kanade/internal/cursor"
)

// Keyset paging and totals that do not scan (SPEC §18; docs/architecture.md
// "Lists at any size").
//
// A page is read with LIMIT limit+1: the extra row only says whether a next
// page exists, and the last row served gives the next cursor's key. A
// cursor page replaces OFFSET by a WHERE on the sort key, so it costs the
// same whatever its depth.

// Listing is one page of a list and what the API says about it.
type Listing[T any] struct {
	Rows      []T
	Total     int
	Estimated bool       // Total is an estimate or a lower bound (see count)
	Next      cursor.Key // the last row's sort key when a next page exists
}

// ErrBadCursor is a cursor whose key does not fit the list (another
// list's, or forged): the API answers 400 naming cursor.
var ErrBadCursor = &cursor.ParamError{Field: "cursor", Msg: "cursor does not fit this list"}

// sortCol is one column of a list's ORDER BY.
type sortCol struct {
	col  string
	desc bool
	num  bool // an integer column: its key text is parsed
}

func (c sortCol) order() string {
	if c.desc {
		return c.col + " DESC"
	}
	return c.col + " ASC"
}

// orderBy renders ORDER BY for cols.
func orderBy(cols ...sortCol) string {
	s := " ORDER BY "
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += c.order()
	}
	return s
}

// seek adds the keyset condition "after key in the order of cols" (one
// column, or a sort column and a unique tiebreak). It is written as
// "a <= k AND (a < k OR b > t)" rather than a row comparison so both
// SQLite and PostgreSQL use the index on a as a range, whatever the
// direction of each column.
func (w *where) seek(key cursor.Key, cols ...sortCol) error {
	if len(key) != len(cols) || len(cols) < 1 || len(cols) > 2 {
		return ErrBadCursor
	}
	vals := make([]any, len(key))
	for i, c := range cols {
		vals[i] = key[i]
		if c.num {
			n, err := strconv.ParseInt(key[i], 10, 64)
			if err != nil {
				return ErrBadCursor
			}
			vals[i] = n
		}
	}
	op := func(c sortCol) string {
		if c.desc {
			return "<"
		}
		return ">"
	}
	if len(cols) == 1 {
		w.add(cols[0].col+" "+op(cols[0])+" ?", vals[0])
		return nil
	}
	a, b := cols[0], cols[1]
	w.add(fmt.Sprintf("%s %s= ? AND (%s %s ? OR %s %s ?)", a.col, op(a), a.col, op(a), b.col, op(b)), vals[0], vals[0], vals[1])
	return nil
}

// pageArgs returns LIMIT and OFFSET for p: one row more than the page, and
// no offset after a cursor (the WHERE has skipped already).
func pageArgs(p Page) (limit, offset int) {
	if p.After != nil {
		return p.Limit + 1, 0
	}
	return p.Limit + 1, p.Offset
}

// endKnown: a page read from the start or at an offset (not after a
// cursor) that came back without its probe row ends the list, so its total
// is known without a count — a search with few matches, a short table.
func (db *DB) endKnown(p Page, rows int) (int, bool) {
	if db.alwaysCount || p.After != nil || rows > p.Limit || (rows == 0 && p.Offset > 0) {
		return 0, false
	}
	return p.Offset + rows, true
}

// trim drops the probe row and sets Next from the last row kept.
func trim[T any](l *Listing[T], limit int, key func(T) cursor.Key) {
	if len(l.Rows) > limit {
		l.Rows = l.Rows[:limit]
		l.Next = key(l.Rows[limit-1])
	}
}

// CountCap is how many rows a filtered count of a large table reads at
// most: up to it the total is exact, beyond it the answer is CountCap+1,
// flagged estimated (a lower bound).
const CountCap = 10000

// countMode says how a list's total is found.
type countMode int

const (
	// countExact: the table is small (agents, users) or the filter is an
	// indexed key that bounds the rows (exec_id: the fleet; pc_id: one
	// PC's retained history).
	countExact countMode = iota
	// countBounded: a large table (results, executions, audit). Counted
	// up to CountCap; beyond, unfiltered lists report the table's row
	// estimate, filtered ones CountCap+1; both flagged.
	countBounded
)

// countSQL is the count statement of a list over table filtered by w.
func countSQL(table string, w where, mode countMode) string {
	if mode == countExact {
		return "SELECT COUNT(*) FROM " + table + w.sql()
	}
	return fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s%s LIMIT %d) capped", table, w.sql(), CountCap+1)
}

// count returns the total of "FROM table" + w for a list, and whether it
// is an estimate.
func (db *DB) count(ctx context.Context, table string, w where, mode countMode) (int, bool, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, db.q(countSQL(table, w, mode)), w.args...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count %s: %w", table, err)
	}
	if mode == countExact || n <= CountCap {
		return n, false, nil
	}
	if len(w.conds) > 0 {
		return n, true, nil
	}
	est, err := db.estimateRows(ctx, table)
	if err != nil {
		return 0, false, err
	}
	return max(n, int(est)), true, nil
}

// estimateRows is a table's row count from what the database keeps
// anyway, in constant time. SQLite: max(rowid) - min(rowid) + 1, two
// seeks at the ends of the table's b-tree; rowids only grow here (rows
// are inserted, upserts keep their rowid, retention deletes the oldest),
// so the gap is an overestimate only by rows deleted out of order.
// PostgreSQL: pg_class.reltuples, which VACUUM/ANALYZE (autovacuum) keep
// current; -1 before the first one, then the capped count stands.
func (db *DB) estimateRows(ctx context.Context, table string) (int64, error) {
	var n int64
	var err error
	if db.d == postgres {
		err = db.read.QueryRowContext(ctx, `SELECT COALESCE((SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)), -1)`,
			table).Scan(&n)
	} else {
		// Two subqueries: SQLite answers a lone MAX(rowid) or MIN(rowid)
		// with one seek, but both in one SELECT with a scan.
		err = db.read.QueryRowContext(ctx, fmt.Sprintf("SELECT COALESCE((SELECT MAX(rowid) FROM %[1]s) - (SELECT MIN(rowid) FROM %[1]s) + 1, 0)",
			table)).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("estimate rows of %s: %w", table, err)
	}
	return n, nil
}
