package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/apiv1"
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
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Since: since}
	if scopeOf(r) != nil {
		// A scoped caller reads its own entries: the audit's targets are
		// not all PCs, so no PC filter could bound them.
		if f.Actor != "" && f.Actor != Actor(r) {
			listed(w, r, store.Listing[apiv1.AuditEntry]{})
			return
		}
		f.Actor = Actor(r)
	}
	l, err := s.d.Store.PageAudit(r.Context(), f, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}
