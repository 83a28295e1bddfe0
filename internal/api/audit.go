package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/store"
)

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
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
	l, err := s.d.Store.PageAudit(r.Context(), store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Since: since}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}
