package api

import (
	"fmt"
	"net/http"

	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Inventory job tables (SPEC §14).

func (s *Server) inventoryTables(w http.ResponseWriter, r *http.Request) {
	ts, err := s.d.Store.InventoryTables(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, ts)
}

// inventoryRows serves one table's rows: where=column:op:value
// (repeatable), q, pc_id, group, cursor paging. A table no job has filled
// is an empty list, like a filter that matches nothing.
func (s *Server) inventoryRows(w http.ResponseWriter, r *http.Request) {
	table := r.PathValue("table")
	if !manifest.ValidTableName(table) {
		s.fail(w, r, &cursor.ParamError{Field: "table", Msg: fmt.Sprintf("%.70q is not a table name ([a-z][a-z0-9_]{0,62})", table)})
		return
	}
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.InventoryRowFilter{Table: table, PCID: q.Get("pc_id"), Q: q.Get("q"), Group: q.Get("group"), Scope: scopeOf(r)}
	if len(q["where"]) > 16 {
		s.fail(w, r, &cursor.ParamError{Field: "where", Msg: "at most 16 conditions"})
		return
	}
	for _, raw := range q["where"] {
		c, err := store.ParseInventoryCond(raw)
		if err == nil && !manifest.ValidTableName(c.Column) {
			err = &cursor.ParamError{Field: "where", Msg: fmt.Sprintf("%.70q is not a column name", c.Column)}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f.Where = append(f.Where, c)
	}
	l, err := s.d.Store.PageInventoryRows(r.Context(), f, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}
