package api

import (
	"context"
	"net/http"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// pauseExecution, resumeExecution and cancelExecution are POST
// /api/executions/{exec_id}/pause|resume|cancel: an operator's hold on an
// execution's pending rollout waves (SPEC §17), audited as exec.pause,
// exec.resume and exec.cancel. 404 for an unknown execution, 409 when no
// wave is pending or the rollout is already in that state. Resuming moves
// each wave's due time later by as long as it was paused; halt_on is
// checked when a wave is due, against the failures projected by then.
func (s *Server) pauseExecution(w http.ResponseWriter, r *http.Request) {
	s.rolloutAction(w, r, s.d.Fanout.PauseExecution)
}

func (s *Server) resumeExecution(w http.ResponseWriter, r *http.Request) {
	s.rolloutAction(w, r, s.d.Fanout.ResumeExecution)
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	s.rolloutAction(w, r, s.d.Fanout.CancelExecution)
}

func (s *Server) rolloutAction(w http.ResponseWriter, r *http.Request,
	act func(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error)) {
	resp, err := act(r.Context(), r.PathValue("exec_id"), Actor(r), ClientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}
