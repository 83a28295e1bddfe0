package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/store"
)

// killExecution is POST /api/executions/{exec_id}/kill: the backend signs
// and publishes kill.<exec_id> for the caller (kanade kill without a
// signing key) and audits it with the caller's account.
func (s *Server) killExecution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("exec_id")
	if err := s.checkKillScope(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if known, err := s.execKnown(r, id); err != nil || !known {
		if err == nil {
			WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
			return
		}
		s.fail(w, r, err)
		return
	}
	resp, err := s.d.Fanout.KillExecution(r.Context(), id, Actor(r), ClientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

// checkKillScope: kill.<exec_id> reaches every PC running the execution,
// so a scoped caller may kill only an execution it started itself (its
// target was checked against its scope then) and whose results all lie in
// its scope (the scope may have narrowed since).
func (s *Server) checkKillScope(r *http.Request, id string) error {
	scope := scopeOf(r)
	if scope == nil {
		return nil
	}
	refused := scopeFailure{"execution " + id + " is outside your scope (" + scopeList(scope) +
		"): a scoped caller may kill only executions it started on its own PCs", "exec_id"}
	e, ok, err := s.d.Store.GetExecution(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok || e.InitiatedBy != Actor(r) {
		return refused
	}
	all, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: id}, store.Page{Limit: 100000})
	if err != nil {
		return err
	}
	mine, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: id, Scope: scope}, store.Page{Limit: 100000})
	if err != nil {
		return err
	}
	if len(mine.Rows) != len(all.Rows) {
		return refused
	}
	return nil
}

// execKnown: a kill of an id the backend never saw would report success
// and kill nothing (a typo, or a run long gone). An execution row, or a
// result of a direct `kanade run` (which has none), makes it known.
func (s *Server) execKnown(r *http.Request, id string) (bool, error) {
	if _, ok, err := s.d.Store.GetExecution(r.Context(), id); err != nil || ok {
		return ok, err
	}
	l, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: id}, store.Page{Limit: 1})
	return len(l.Rows) > 0, err
}
