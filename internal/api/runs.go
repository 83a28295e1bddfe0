package api

import (
	"errors"
	"net/http"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// exec is POST /api/exec/{job_id}: body {target, rollout, jitter,
// deadline_at} (JSON or YAML) → {exec_id, job_id, version, target_count,
// subjects}. A manual exec is not stopped by a fleet freeze (SPEC §4).
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job_id")
	if !wire.ValidID(id) {
		fieldErr(w, "job_id", "invalid job id: use 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)")
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	plan, err := manifest.ParsePlan(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var waves []string
	if plan.Rollout != nil {
		for _, wv := range plan.Rollout.Waves {
			if wv.Group != "" { // percent and rest waves slice the target
				waves = append(waves, wv.Group)
			}
		}
	}
	if err := s.checkTargetScope(r, plan.Target.All, plan.Target.Groups, plan.Target.PCs, waves); err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.d.Fanout.Exec(r.Context(), fanout.ExecRequest{JobID: id, Plan: plan,
		InitiatedBy: Actor(r), SourceIP: ClientIP(r)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

// run is POST /api/run: {pc_id, shell, script, timeout_secs} → the
// ExecResult, or 408 {"error", "exec_id"} when no result came in time.
func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req apiv1.RunRequest
	if err := decodeStrict(body, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.PCID != "" {
		if err := s.checkTargetScope(r, false, nil, []string{req.PCID}, nil); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	res, execID, err := s.d.Fanout.Run(r.Context(), req, Actor(r), ClientIP(r))
	if errors.Is(err, fanout.ErrTimeout) {
		WriteJSON(w, http.StatusRequestTimeout, apiv1.ErrorBody{
			Error: "no result from " + req.PCID + " in time (is the agent online?)", ExecID: execID})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, execResultView(res))
}
