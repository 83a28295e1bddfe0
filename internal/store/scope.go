package store

import (
	"context"
	"fmt"
)

// Group scopes (SPEC §16): the lists of a scoped caller are limited to the
// PCs that are members of one of its groups. The condition goes into the
// list's SQL (not a filter over a fetched page), so totals, pages and
// cursors stay those of the scoped list; agent_groups_group (group_name,
// pc_id) serves the subquery.

// scopeCond is "col names a PC in one of groups" (groups not empty).
func scopeCond(col string, groups []string) (string, []any) {
	args := make([]any, len(groups))
	for i, g := range groups {
		args[i] = g
	}
	return col + " IN (SELECT pc_id FROM agent_groups WHERE group_name IN (" + placeholders(len(groups)) + "))", args
}

// addScope adds scopeCond to w when groups is not empty (nil = not
// limited).
func (w *where) addScope(col string, groups []string) {
	if len(groups) > 0 {
		c, args := scopeCond(col, groups)
		w.add(c, args...)
	}
}

// scopeBatch bounds the pc_ids of one PCsInScope query (SQLite's
// parameter limit is 32 766; PostgreSQL's 65 535).
const scopeBatch = 500

// PCsInScope returns those of pcs that are members of at least one of
// groups (agent_groups).
func (db *DB) PCsInScope(ctx context.Context, pcs, groups []string) (map[string]bool, error) {
	in := map[string]bool{}
	if len(groups) == 0 {
		return in, nil
	}
	for start := 0; start < len(pcs); start += scopeBatch {
		batch := pcs[start:min(start+scopeBatch, len(pcs))]
		args := make([]any, 0, len(batch)+len(groups))
		for _, pc := range batch {
			args = append(args, pc)
		}
		for _, g := range groups {
			args = append(args, g)
		}
		rows, err := db.read.QueryContext(ctx, db.q(`SELECT DISTINCT pc_id FROM agent_groups WHERE pc_id IN (`+
			placeholders(len(batch))+`) AND group_name IN (`+placeholders(len(groups))+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("pcs in scope: %w", err)
		}
		for rows.Next() {
			var pc string
			if err := rows.Scan(&pc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("pcs in scope: %w", err)
			}
			in[pc] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("pcs in scope: %w", err)
		}
	}
	return in, nil
}

// ScopePCs returns every PC that is a member of one of groups (the live
// event stream's filter of a scoped client).
func (db *DB) ScopePCs(ctx context.Context, groups []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(groups) == 0 {
		return out, nil
	}
	args := make([]any, len(groups))
	for i, g := range groups {
		args[i] = g
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT DISTINCT pc_id FROM agent_groups WHERE group_name IN (`+
		placeholders(len(groups))+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("scope pcs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pc string
		if err := rows.Scan(&pc); err != nil {
			return nil, fmt.Errorf("scope pcs: %w", err)
		}
		out[pc] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scope pcs: %w", err)
	}
	return out, nil
}
