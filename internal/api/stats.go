package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Fleet history for the dashboard charts (SPEC §17 "Dashboard").

// Stats is what the stats routes need from the store (*store.DB).
type Stats interface {
	ExecutionStats(ctx context.Context, days int, now time.Time) (apiv1.ExecStats, error)
	AgentsOnlineHistory(ctx context.Context, hours int, now time.Time) (apiv1.AgentsOnline, error)
}

func (s *Server) stats(w http.ResponseWriter) (Stats, bool) {
	st, ok := s.d.Store.(Stats)
	if !ok {
		WriteError(w, http.StatusServiceUnavailable, "stats are not available", "")
	}
	return st, ok
}

// statsIntParam reads ?name= as an integer from 1 to most (def when absent).
func statsIntParam(w http.ResponseWriter, r *http.Request, name string, def, most int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("must be an integer from 1 to %d", most), name)
		return 0, false
	}
	return n, true
}

// executionStats is GET /api/stats/executions?days=N.
func (s *Server) executionStats(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stats(w)
	if !ok {
		return
	}
	days, ok := statsIntParam(w, r, "days", apiv1.DefaultStatsDays, apiv1.MaxStatsDays)
	if !ok {
		return
	}
	out, err := st.ExecutionStats(r.Context(), days, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// agentsOnlineStats is GET /api/stats/agents-online?hours=N.
func (s *Server) agentsOnlineStats(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stats(w)
	if !ok {
		return
	}
	hours, ok := statsIntParam(w, r, "hours", apiv1.DefaultStatsHours, apiv1.MaxStatsHours)
	if !ok {
		return
	}
	out, err := st.AgentsOnlineHistory(r.Context(), hours, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}
