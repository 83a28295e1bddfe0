package api

import "net/http"

// killExecution is POST /api/executions/{exec_id}/kill: the backend signs
// and publishes kill.<exec_id> for the caller (kanade kill without a
// signing key) and audits it with the caller's account.
func (s *Server) killExecution(w http.ResponseWriter, r *http.Request) {
	resp, err := s.d.Fanout.KillExecution(r.Context(), r.PathValue("exec_id"), Actor(r), ClientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}
