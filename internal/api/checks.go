package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/alerting"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Compliance checks and alerts (SPEC §15).

// Checks is what the check and alert routes need from the store (*store.DB).
type Checks interface {
	PageChecks(ctx context.Context, p store.Page) (store.Listing[apiv1.CheckSummary], error)
	PageCheckStatus(ctx context.Context, f store.CheckStatusFilter, p store.Page) (store.Listing[apiv1.CheckStatus], error)
	CheckTrend(ctx context.Context, checkID string, days int, now time.Time) (apiv1.CheckTrend, bool, error)
	PageAlerts(ctx context.Context, f store.AlertFilter, p store.Page) (store.Listing[apiv1.Alert], error)
	GetAlert(ctx context.Context, id string) (apiv1.Alert, bool, error)
	ApplyAlertEvents(ctx context.Context, evs []wire.AlertEvent) (store.AlertOutcome, error)
}

func (s *Server) checks(w http.ResponseWriter) (Checks, bool) {
	if s.d.Checks == nil {
		WriteError(w, http.StatusServiceUnavailable, "checks are not available", "")
		return nil, false
	}
	return s.d.Checks, true
}

func (s *Server) listChecks(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checks(w)
	if !ok {
		return
	}
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	l, err := c.PageChecks(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

func (s *Server) listCheckStatus(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checks(w)
	if !ok {
		return
	}
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	state, err := oneOf(r, "state", apiv1.CheckPassing, apiv1.CheckFailing, apiv1.CheckUnknown)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := c.PageCheckStatus(r.Context(), store.CheckStatusFilter{CheckID: q.Get("check_id"), PCID: q.Get("pc_id"), State: state,
		Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checks(w)
	if !ok {
		return
	}
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	state, err := oneOf(r, "state", apiv1.AlertOpen, apiv1.AlertResolved)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := oneOf(r, "kind", apiv1.AlertKindCheck, apiv1.AlertKindOffline)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := c.PageAlerts(r.Context(), store.AlertFilter{State: state, Kind: kind, CheckID: q.Get("check_id"), PCID: q.Get("pc_id"),
		Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

// ackAlert records an operator's ack: on stream ALERTS first (the source
// of truth a rebuild replays), then straight into SQL so the answer shows
// it (the projector's copy of the same event is then a no-op). The first
// ack wins; acking again answers the alert as it is.
func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checks(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	a, found, err := c.GetAlert(r.Context(), id)
	if err == nil && found {
		found, err = s.pcVisible(r, a.PCID) // out of scope: as if absent
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no such alert", "id")
		return
	}
	if a.AckedBy != nil {
		WriteJSON(w, http.StatusOK, a)
		return
	}
	if s.d.JS == nil {
		WriteError(w, http.StatusServiceUnavailable, "the broker is not available", "")
		return
	}
	e, err := alerting.PublishAck(r.Context(), s.d.JS, id, Actor(r), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := c.ApplyAlertEvents(r.Context(), []wire.AlertEvent{e}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditf(r, "alert.ack", id, map[string]any{"kind": a.Kind, "check_id": a.CheckID, "pc_id": a.PCID})
	if a, _, err = c.GetAlert(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, a)
}

// checkTrend is GET /api/checks/{id}/trend?days=N: per day, the PCs passing
// and failing the check (store.CheckTrend derives it from the alerts).
func (s *Server) checkTrend(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checks(w)
	if !ok {
		return
	}
	days := apiv1.DefaultTrendDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiv1.MaxTrendDays {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("must be an integer from 1 to %d", apiv1.MaxTrendDays), "days")
			return
		}
		days = n
	}
	tr, found, err := c.CheckTrend(r.Context(), r.PathValue("id"), days, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no such check", "id")
		return
	}
	WriteJSON(w, http.StatusOK, tr)
}
