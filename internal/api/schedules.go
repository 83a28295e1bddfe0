package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/store"
)

// MaxScheduleBody caps a submitted schedule.
const MaxScheduleBody = 1 << 20

// Audit actions for schedule changes.
const (
	ActionScheduleApply   = "schedule.apply"
	ActionScheduleDelete  = "schedule.delete"
	ActionScheduleEnable  = "schedule.enable"
	ActionScheduleDisable = "schedule.disable"
)

// DefaultPreview is the preview count when none is asked for.
const DefaultPreview = 10

// scheduleRow is a schedule as listed: the document plus its fire
// bookkeeping (YAML is set by GET /api/schedules/{id} only).
func (s *Server) scheduleRow(ctx context.Context, sc schedule.Schedule, now time.Time) (apiv1.ScheduleRow, error) {
	row := apiv1.ScheduleRow{Schedule: scheduleView(sc)}
	if sc.Enabled {
		if t, ok := sc.Next(now); ok {
			t = t.UTC()
			row.NextFire = &t
		}
	}
	st, _, err := s.d.Schedules.State(ctx, sc.ID)
	if err != nil {
		return row, err
	}
	row.LastFire, row.LastExecID = st.LastFire, st.LastExecID
	return row, nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := page(r)
	if err == nil {
		err = keyLen(p, 1)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ids, err := s.d.Schedules.IDs(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	rows := []apiv1.ScheduleRow{}
	// IDs are sorted and unique: the cursor is the last id served.
	l := window(ids, p, func(id string) cursor.Key { return cursor.Key{id} }, func(id string, k cursor.Key) bool { return id > k[0] })
	for _, id := range l.Rows {
		sc, _, ok, err := s.d.Schedules.Get(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			continue // deleted meanwhile
		}
		row, err := s.scheduleRow(ctx, sc, now)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	listed(w, r, store.Listing[apiv1.ScheduleRow]{Rows: rows, Total: l.Total, Next: l.Next})
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	sc, _, ok, err := s.d.Schedules.Get(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	row, err := s.scheduleRow(ctx, sc, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if y, ok := s.d.Schedules.Text(ctx, id); ok {
		row.YAML = &y
	}
	WriteJSON(w, http.StatusOK, row)
}

// unprocessable writes a 422 naming the field of a parse/validation error.
func unprocessable(w http.ResponseWriter, err error) {
	var fe *manifest.FieldError
	if errors.As(err, &fe) {
		WriteError(w, http.StatusUnprocessableEntity, fe.Error(), fe.Field)
		return
	}
	WriteError(w, http.StatusUnprocessableEntity, err.Error(), "")
}

func (s *Server) applySchedule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxScheduleBody))
	if err != nil {
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxScheduleBody), "")
		return
	}
	sc, err := schedule.Parse(body)
	if err != nil {
		unprocessable(w, err)
		return
	}
	exists, err := s.d.Jobs.Exists(ctx, sc.JobID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !exists {
		WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("job_id: job %q does not exist", sc.JobID), "job_id")
		return
	}
	existed, err := s.d.Schedules.Put(ctx, sc, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditf(r, ActionScheduleApply, sc.ID, map[string]any{"schedule": sc, "created": !existed})
	row, err := s.scheduleRow(ctx, sc, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, row)
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	sc, _, ok, err := s.d.Schedules.Get(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	// The document, its text and its bookkeeping: a schedule re-created
	// under the same id starts afresh (per_pc: once runs again).
	if err := s.d.Schedules.Delete(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.d.Dispatches != nil {
		if err := s.d.Dispatches.DeleteScheduleDispatches(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.auditf(r, ActionScheduleDelete, id, map[string]any{"job_id": sc.JobID})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) enableSchedule(on bool) http.HandlerFunc {
	action := ActionScheduleDisable
	if on {
		action = ActionScheduleEnable
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		// Compare-and-set so a concurrent apply is never overwritten with
		// the old document.
		for attempt := 0; ; attempt++ {
			sc, rev, ok, err := s.d.Schedules.Get(ctx, id)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if !ok {
				WriteError(w, http.StatusNotFound, "no such schedule", "id")
				return
			}
			if sc.Enabled != on {
				sc.Enabled = on
				if err := s.d.Schedules.Update(ctx, sc, rev); err != nil {
					if kv.IsConflict(err) && attempt < 5 {
						continue
					}
					s.fail(w, r, err)
					return
				}
				s.auditf(r, action, id, map[string]any{"enabled": on})
			}
			row, err := s.scheduleRow(ctx, sc, time.Now())
			if err != nil {
				s.fail(w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, row)
			return
		}
	}
}

func (s *Server) previewSchedule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n := DefaultPreview
	if v := r.URL.Query().Get("count"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 || c > schedule.MaxPreview {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("must be an integer from 1 to %d", schedule.MaxPreview), "count")
			return
		}
		n = c
	}
	sc, _, ok, err := s.d.Schedules.Get(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	fires := []time.Time{}
	for _, t := range sc.Preview(time.Now(), n) {
		fires = append(fires, t.UTC())
	}
	WriteJSON(w, http.StatusOK, apiv1.Preview{Fires: fires})
}
