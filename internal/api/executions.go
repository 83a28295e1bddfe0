package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
)

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "pending", "running", "completed", "expired")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	prefix, err := idPrefix(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	l, err := s.d.Store.PageExecutions(r.Context(), store.ExecFilter{JobID: r.URL.Query().Get("job_id"), Status: status, IDPrefix: prefix,
		Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("exec_id")
	e, ok, err := s.d.Store.GetExecution(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
		return
	}
	scope := scopeOf(r)
	results, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: id, Scope: scope}, store.Page{Limit: 100000})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A scoped caller sees an execution it started or one with a result in
	// its scope (as the list does), and only those results.
	if scope != nil && e.InitiatedBy != Actor(r) && len(results.Rows) == 0 {
		WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
		return
	}
	WriteJSON(w, http.StatusOK, apiv1.ExecutionDetail{Execution: e, Results: results.Rows})
}
