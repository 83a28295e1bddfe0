package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/store"
)

func (s *Server) listResults(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "running", "success", "failure", "skipped")
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
	rows, total, err := s.d.Store.ListResults(r.Context(), store.ResultFilter{ExecID: q.Get("exec_id"), JobID: q.Get("job_id"),
		PCID: q.Get("pc_id"), Status: status, Since: since}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, rows, total)
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	row, ok, err := s.d.Store.GetResult(r.Context(), r.PathValue("result_id"))
	one(s, w, r, row, ok, err, "result", "result_id")
}
