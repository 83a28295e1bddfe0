package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

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

// Summarizer groups an execution's results (*store.DB).
type Summarizer interface {
	ExecSummary(ctx context.Context, f store.SummaryFilter) ([]apiv1.ResultGroup, int, error)
}

// Bounds of ?limit= of the summary (groups, largest first).
const (
	summaryDefaultLimit = 100
	summaryMaxLimit     = 1000
)

// executionSummary is GET /api/executions/{exec_id}/summary: the
// execution's finished results grouped by outcome, exit code and
// normalised stdout (store.ExecSummary). A scoped caller's groups count
// only its PCs' results; an execution it neither started nor has a result
// of in scope is a 404, as for GET /api/executions/{exec_id}.
func (s *Server) executionSummary(w http.ResponseWriter, r *http.Request) {
	sum, ok := s.d.Store.(Summarizer)
	if !ok {
		WriteError(w, http.StatusServiceUnavailable, "execution summaries are not available", "")
		return
	}
	limit := summaryDefaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > summaryMaxLimit {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("must be an integer from 1 to %d", summaryMaxLimit), "limit")
			return
		}
		limit = n
	}
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
	groups, total, err := sum.ExecSummary(r.Context(), store.SummaryFilter{ExecID: id, Scope: scope, Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if scope != nil && e.InitiatedBy != Actor(r) && total == 0 {
		// Nothing of it in scope may still be a result in flight: look
		// the way GET /api/executions/{exec_id} does before refusing.
		l, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: id, Scope: scope}, store.Page{Limit: 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(l.Rows) == 0 {
			WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
			return
		}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	WriteJSON(w, http.StatusOK, groups)
}
