package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/store"
)

// Built-in facts and inventory history (SPEC §14).

func (s *Server) listInventoryFacts(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := s.d.Store.PageFacts(r.Context(), store.FactsFilter{PCID: q.Get("pc_id"), Q: q.Get("q"), Group: q.Get("group"), Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

func (s *Server) listInventoryHistory(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	since, err := sinceParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := s.d.Store.PageHistory(r.Context(), store.HistoryFilter{PCID: q.Get("pc_id"), Table: q.Get("table"), Since: since, Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}
