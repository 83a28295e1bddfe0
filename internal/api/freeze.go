package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (s *Server) getFreeze(w http.ResponseWriter, r *http.Request) {
	out := apiv1.FreezeView{}
	f, ok, err := s.d.Freeze.Get(r.Context())
	switch {
	case errors.Is(err, kv.ErrInvalid):
		s.d.Log.Warn("undecodable fleet_config.freeze; treated as frozen", "error", err)
		out.Frozen, out.Reason = true, "unreadable freeze record"
	case err != nil:
		s.fail(w, r, err)
		return
	case ok:
		since := f.Since
		out = apiv1.FreezeView{Frozen: f.Active(time.Now()), Reason: f.Reason, By: f.By, Since: &since, Until: f.Until}
	}
	WriteJSON(w, http.StatusOK, out)
}

// putFreeze sets a freeze: {reason, until?}; no until = until cleared.
func (s *Server) putFreeze(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req apiv1.FreezeRequest
	if len(body) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	now := time.Now().UTC()
	f := wire.Freeze{Reason: req.Reason, By: Actor(r), Since: now}
	if req.Until != nil && *req.Until != "" {
		t, err := time.Parse(time.RFC3339Nano, *req.Until)
		if err != nil {
			fieldErr(w, "until", "must be an RFC 3339 time (e.g. 2027-01-05T09:00:00Z)")
			return
		}
		if !t.After(now) {
			fieldErr(w, "until", "must be in the future")
			return
		}
		t = t.UTC()
		f.Until = &t
	}
	if len(f.Reason) > 1024 {
		fieldErr(w, "reason", "must be at most 1024 bytes")
		return
	}
	if err := s.d.Freeze.Set(r.Context(), f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("fleet frozen", "by", f.By, "reason", f.Reason, "until", f.Until)
	s.auditf(r, "freeze.set", kv.FreezeTarget, f)
	since := f.Since
	WriteJSON(w, http.StatusOK, apiv1.FreezeView{Frozen: true, Reason: f.Reason, By: f.By, Since: &since, Until: f.Until})
}

func (s *Server) deleteFreeze(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Freeze.Clear(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("fleet freeze cleared", "by", Actor(r))
	s.auditf(r, "freeze.clear", kv.FreezeTarget, map[string]any{})
	w.WriteHeader(http.StatusNoContent)
}
