// Package sched serves /api/schedules (SPEC §7): schedules are stored in
// KV schedules (canonical JSON, which the scheduler watches) with the
// submitted text kept in KV schedules_yaml for editing. Any backend replica
// serves these routes; only the leader fires (package scheduler).
package sched

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/scheduler"
)

// MaxBody caps a submitted schedule.
const MaxBody = 1 << 20

// Audit actions for schedule changes.
const (
	ActionApply   = "schedule.apply"
	ActionDelete  = "schedule.delete"
	ActionEnable  = "schedule.enable"
	ActionDisable = "schedule.disable"
)

// DefaultPreview is the preview count when none is asked for.
const DefaultPreview = 10

// Row is a schedule as listed: the document plus its fire bookkeeping.
type Row struct {
	schedule.Schedule
	NextFire   *time.Time `json:"next_fire"`
	LastFire   *time.Time `json:"last_fire"`
	LastExecID string     `json:"last_exec_id"`
	YAML       *string    `json:"yaml,omitempty"` // GET /api/schedules/{id} only
}

// Dispatches is the store method used to forget a deleted schedule's
// per_pc history (*store.DB).
type Dispatches interface {
	DeleteScheduleDispatches(ctx context.Context, scheduleID string) error
}

type handler struct {
	js    jetstream.JetStream
	db    Dispatches
	audit api.Auditor
	log   *slog.Logger

	mu  sync.Mutex
	kvs map[string]jetstream.KeyValue
}

// Register returns the route registration for the given collaborators.
func Register(js jetstream.JetStream, db Dispatches, audit api.Auditor, log *slog.Logger) func(m *auth.Mux) {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{js: js, db: db, audit: audit, log: log, kvs: map[string]jetstream.KeyValue{}}
	return func(m *auth.Mux) {
		m.HandleFunc("GET /api/schedules", auth.RoleViewer, h.list)
		m.HandleFunc("POST /api/schedules", auth.RoleOperator, h.apply)
		m.HandleFunc("GET /api/schedules/{id}", auth.RoleViewer, h.get)
		m.HandleFunc("DELETE /api/schedules/{id}", auth.RoleOperator, h.delete)
		m.HandleFunc("POST /api/schedules/{id}/enable", auth.RoleOperator, h.enable(true))
		m.HandleFunc("POST /api/schedules/{id}/disable", auth.RoleOperator, h.enable(false))
		m.HandleFunc("GET /api/schedules/{id}/preview", auth.RoleViewer, h.preview)
	}
}

func (h *handler) kv(ctx context.Context, name string) (jetstream.KeyValue, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if kv := h.kvs[name]; kv != nil {
		return kv, nil
	}
	kv, err := h.js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", name, err)
	}
	h.kvs[name] = kv
	return kv, nil
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	h.log.Error("schedules api request failed", "route", r.Pattern, "error", err)
	api.WriteError(w, http.StatusInternalServerError, "internal error", "")
}

// load reads one stored schedule; ok false when absent.
func (h *handler) load(ctx context.Context, id string) (schedule.Schedule, uint64, bool, error) {
	kv, err := h.kv(ctx, bus.KVSchedules)
	if err != nil {
		return schedule.Schedule{}, 0, false, err
	}
	ent, err := kv.Get(ctx, id)
	if err != nil {
		if bus.IsNotFound(err) {
			return schedule.Schedule{}, 0, false, nil
		}
		return schedule.Schedule{}, 0, false, fmt.Errorf("read schedule %s: %w", id, err)
	}
	sc, err := schedule.Parse(ent.Value())
	if err != nil {
		return schedule.Schedule{}, 0, false, fmt.Errorf("stored schedule %s does not parse: %w", id, err)
	}
	return sc, ent.Revision(), true, nil
}

func (h *handler) row(ctx context.Context, sc schedule.Schedule, now time.Time) (Row, error) {
	row := Row{Schedule: sc}
	if sc.Enabled {
		if t, ok := sc.Next(now); ok {
			t = t.UTC()
			row.NextFire = &t
		}
	}
	kv, err := h.kv(ctx, bus.KVSchedState)
	if err != nil {
		return row, err
	}
	st, _, err := scheduler.ReadState(ctx, kv, sc.ID)
	if err != nil {
		return row, err
	}
	row.LastFire, row.LastExecID = st.LastFire, st.LastExecID
	return row, nil
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit, offset, field, err := page(r)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	kv, err := h.kv(ctx, bus.KVSchedules)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // a lister may repeat a key written meanwhile
	total := len(keys)
	keys = keys[min(offset, len(keys)):]
	keys = keys[:min(limit, len(keys))]
	now := time.Now()
	rows := []Row{}
	for _, k := range keys {
		sc, _, ok, err := h.load(ctx, k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !ok {
			continue // deleted meanwhile
		}
		row, err := h.row(ctx, sc, now)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	api.WriteJSON(w, http.StatusOK, rows)
}

func page(r *http.Request) (limit, offset int, field string, err error) {
	limit = 50
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, "limit", errors.New("must be a positive integer")
		}
		limit = min(n, 1000)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, "offset", errors.New("must be a non-negative integer")
		}
		offset = n
	}
	return limit, offset, "", nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	sc, _, ok, err := h.load(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		api.WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	row, err := h.row(ctx, sc, time.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ykv, err := h.kv(ctx, bus.KVSchedulesYAML); err == nil {
		if ent, err := ykv.Get(ctx, id); err == nil {
			y := string(ent.Value())
			row.YAML = &y
		}
	}
	api.WriteJSON(w, http.StatusOK, row)
}

// unprocessable writes a 422 naming the field of a parse/validation error.
func unprocessable(w http.ResponseWriter, err error) {
	var fe *manifest.FieldError
	if errors.As(err, &fe) {
		api.WriteError(w, http.StatusUnprocessableEntity, fe.Error(), fe.Field)
		return
	}
	api.WriteError(w, http.StatusUnprocessableEntity, err.Error(), "")
}

func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		api.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBody), "")
		return
	}
	sc, err := schedule.Parse(body)
	if err != nil {
		unprocessable(w, err)
		return
	}
	jobs, err := h.kv(ctx, bus.KVJobs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := jobs.Get(ctx, sc.JobID); err != nil {
		if bus.IsNotFound(err) {
			api.WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("job_id: job %q does not exist", sc.JobID), "job_id")
			return
		}
		h.fail(w, r, err)
		return
	}
	skv, err := h.kv(ctx, bus.KVSchedules)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ykv, err := h.kv(ctx, bus.KVSchedulesYAML)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, existed, err := getRev(ctx, skv, sc.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Text first: the scheduler reacts to the JSON put, and an editor
	// reading both must never see JSON newer than its text.
	if _, err := ykv.Put(ctx, sc.ID, body); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := skv.Put(ctx, sc.ID, sc.JSON()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit.Audit(ctx, api.Actor(r), ActionApply, sc.ID, map[string]any{"schedule": sc, "created": !existed}, api.ClientIP(r))
	row, err := h.row(ctx, sc, time.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, row)
}

func getRev(ctx context.Context, kv jetstream.KeyValue, key string) (uint64, bool, error) {
	ent, err := kv.Get(ctx, key)
	if err != nil {
		if bus.IsNotFound(err) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return ent.Revision(), true, nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	skv, err := h.kv(ctx, bus.KVSchedules)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, _, ok, err := h.load(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		api.WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	if err := skv.Delete(ctx, id); err != nil {
		h.fail(w, r, err)
		return
	}
	// Bookkeeping of a deleted schedule: a schedule re-created under the
	// same id starts afresh (per_pc: once runs again).
	for _, b := range []string{bus.KVSchedulesYAML, bus.KVSchedState} {
		if kv, err := h.kv(ctx, b); err == nil {
			if err := kv.Delete(ctx, id); err != nil && !bus.IsNotFound(err) {
				h.fail(w, r, err)
				return
			}
		}
	}
	if h.db != nil {
		if err := h.db.DeleteScheduleDispatches(ctx, id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.audit.Audit(ctx, api.Actor(r), ActionDelete, id, map[string]any{"job_id": sc.JobID}, api.ClientIP(r))
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) enable(on bool) http.HandlerFunc {
	action := ActionDisable
	if on {
		action = ActionEnable
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		skv, err := h.kv(ctx, bus.KVSchedules)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		// Compare-and-set so a concurrent apply is never overwritten with
		// the old document.
		for attempt := 0; ; attempt++ {
			sc, rev, ok, err := h.load(ctx, id)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if !ok {
				api.WriteError(w, http.StatusNotFound, "no such schedule", "id")
				return
			}
			changed := sc.Enabled != on
			if changed {
				sc.Enabled = on
				if _, err := skv.Update(ctx, id, sc.JSON(), rev); err != nil {
					if (errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)) && attempt < 5 {
						continue
					}
					h.fail(w, r, err)
					return
				}
				h.audit.Audit(ctx, api.Actor(r), action, id, map[string]any{"enabled": on}, api.ClientIP(r))
			}
			row, err := h.row(ctx, sc, time.Now())
			if err != nil {
				h.fail(w, r, err)
				return
			}
			api.WriteJSON(w, http.StatusOK, row)
			return
		}
	}
}

func (h *handler) preview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n := DefaultPreview
	if v := r.URL.Query().Get("count"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 || c > schedule.MaxPreview {
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("must be an integer from 1 to %d", schedule.MaxPreview), "count")
			return
		}
		n = c
	}
	sc, _, ok, err := h.load(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		api.WriteError(w, http.StatusNotFound, "no such schedule", "id")
		return
	}
	fires := []time.Time{}
	for _, t := range sc.Preview(time.Now(), n) {
		fires = append(fires, t.UTC())
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"fires": fires})
}
