package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/kanade-fleet/kanade/internal/cursor"
)

// Helpers shared by the tables' queries.

// Page is one list request's paging: limit with an offset or a keyset
// cursor (After, the sort key of the last row already served).
type Page = cursor.Page

// where accumulates conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

type scanner interface{ Scan(...any) error }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cleanText drops NUL bytes, which PostgreSQL TEXT refuses; scripts do print them.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// queryIDs runs a statement returning one text column and collects it.
func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func distinctSorted(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
