package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Job is a catalog entry as the API shows it.
type Job struct {
	manifest.Manifest
	Status        string  `json:"status"`         // ACTIVE | REVOKED
	PinnedVersion *string `json:"pinned_version"` // script_current, null if never exec'd
	YAML          *string `json:"yaml,omitempty"` // GET /api/jobs/{id} only: the submitted text
}

func (h *handlers) jobStatus(ctx context.Context, id string) (status string, pinned *string, err error) {
	st, err := h.kv(ctx, bus.KVScriptStatus)
	if err != nil {
		return "", nil, err
	}
	status = wire.StatusActive
	if e, err := st.Get(ctx, id); err == nil {
		status = strings.TrimSpace(string(e.Value()))
	} else if !bus.IsNotFound(err) {
		return "", nil, err
	}
	cur, err := h.kv(ctx, bus.KVScriptCurrent)
	if err != nil {
		return "", nil, err
	}
	if e, err := cur.Get(ctx, id); err == nil {
		v := strings.TrimSpace(string(e.Value()))
		pinned = &v
	} else if !bus.IsNotFound(err) {
		return "", nil, err
	}
	return status, pinned, nil
}

func (h *handlers) listJobs(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := page(r)
	if err != nil {
		var fe *wire.FieldError
		errors.As(err, &fe)
		api.WriteError(w, http.StatusBadRequest, fe.Msg, fe.Field)
		return
	}
	ctx := r.Context()
	jobs, err := h.kv(ctx, bus.KVJobs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	es, err := bus.KVEntries(ctx, jobs, ">")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := map[string]string{}
	pins := map[string]string{}
	for bucket, into := range map[string]map[string]string{bus.KVScriptStatus: status, bus.KVScriptCurrent: pins} {
		kv, err := h.kv(ctx, bucket)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		vals, err := bus.KVEntries(ctx, kv, ">")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, e := range vals {
			into[e.Key()] = strings.TrimSpace(string(e.Value()))
		}
	}
	out := []Job{}
	for _, e := range es {
		m, err := manifest.Parse(e.Value())
		if err != nil {
			h.log.Warn("job in KV does not validate; listed by id only", "job_id", e.Key(), "error", err)
			m = manifest.Manifest{ID: e.Key()}
		}
		j := Job{Manifest: m, Status: wire.StatusActive}
		if s, ok := status[e.Key()]; ok {
			j.Status = s
		}
		if v, ok := pins[e.Key()]; ok {
			j.PinnedVersion = &v
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b Job) int { return strings.Compare(a.ID, b.ID) })
	w.Header().Set("X-Total-Count", strconv.Itoa(len(out)))
	out = out[min(offset, len(out)):]
	out = out[:min(limit, len(out))]
	api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) getJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	ctx := r.Context()
	m, err := h.f.LoadJob(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j, err := h.view(ctx, m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	text := ""
	if yk, err := h.kv(ctx, bus.KVJobsYAML); err == nil {
		if e, err := yk.Get(ctx, id); err == nil {
			text = string(e.Value())
		}
	}
	if text == "" {
		b, _ := json.MarshalIndent(m, "", "  ")
		text = string(b) + "\n"
	}
	j.YAML = &text
	api.WriteJSON(w, http.StatusOK, j)
}

func (h *handlers) view(ctx context.Context, m manifest.Manifest) (Job, error) {
	status, pinned, err := h.jobStatus(ctx, m.ID)
	if err != nil {
		return Job{}, err
	}
	return Job{Manifest: m, Status: status, PinnedVersion: pinned}, nil
}

// putJob creates or replaces a job. The body is YAML or JSON (sniffed; the
// Content-Type is not needed) and is validated in full before anything is
// stored. The submitted text is kept in KV jobs_yaml for editing. A job
// re-created after a delete stays REVOKED until unrevoked: an operator must
// decide that old commands still in EXEC may run again.
func (h *handlers) putJob(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.TrimSpace(string(body)) == "" {
		fieldErr(w, "body", "a manifest (YAML or JSON) is required")
		return
	}
	m, err := manifest.Parse(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	jobs, err := h.kv(ctx, bus.KVJobs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, gerr := jobs.Get(ctx, m.ID)
	created := bus.IsNotFound(gerr)
	if gerr != nil && !created {
		h.fail(w, r, gerr)
		return
	}
	if _, err := jobs.Put(ctx, m.ID, m.JSON()); err != nil {
		h.fail(w, r, err)
		return
	}
	if yk, err := h.kv(ctx, bus.KVJobsYAML); err != nil {
		h.fail(w, r, err)
		return
	} else if _, err := yk.Put(ctx, m.ID, body); err != nil {
		h.fail(w, r, err)
		return
	}
	action := "job.update"
	if created {
		action = "job.create"
	}
	h.log.Info("job stored", "job_id", m.ID, "version", m.Version, "created", created)
	h.auditf(r, action, m.ID, map[string]any{"version": m.Version, "shell": m.Execute.Shell, "timeout": m.Execute.Timeout})
	j, err := h.view(ctx, m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, j)
}

// schedulesUsing lists the schedules whose job_id is id (only the job_id
// field is read, so this does not depend on the schedule package).
func (h *handlers) schedulesUsing(ctx context.Context, id string) ([]string, error) {
	kv, err := h.kv(ctx, bus.KVSchedules)
	if err != nil {
		return nil, err
	}
	es, err := bus.KVEntries(ctx, kv, ">")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		var s struct {
			JobID string `json:"job_id"`
		}
		// An unreadable schedule might reference the job: refuse rather
		// than leave it pointing at nothing.
		if err := json.Unmarshal(e.Value(), &s); err != nil || s.JobID == id {
			out = append(out, e.Key())
		}
	}
	return out, nil
}

// deleteJob refuses while a schedule references the job; otherwise it
// revokes the job first (so commands still in EXEC are skipped by agents
// that catch up later), cancels its pending waves, then deletes it.
func (h *handlers) deleteJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	ctx := r.Context()
	if _, err := h.f.LoadJob(ctx, id); errors.Is(err, fanout.ErrJobNotFound) {
		api.WriteError(w, http.StatusNotFound, "no such job", "id")
		return
	}
	users, err := h.schedulesUsing(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(users) > 0 {
		api.WriteError(w, http.StatusConflict, "job is used by schedule(s) "+strings.Join(users, ", ")+"; delete them first", "id")
		return
	}
	waves, err := h.f.SetScriptStatus(ctx, id, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, bucket := range []string{bus.KVJobsYAML, bus.KVJobs} {
		kv, err := h.kv(ctx, bucket)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := kv.Delete(ctx, id); err != nil && !bus.IsNotFound(err) {
			h.fail(w, r, err)
			return
		}
	}
	h.log.Info("job deleted (revoked first)", "job_id", id, "cancelled_waves", waves)
	h.auditf(r, "job.delete", id, map[string]any{"revoked": true, "cancelled_waves": waves})
	w.WriteHeader(http.StatusNoContent)
}

func (h *handlers) killJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	resp, err := h.f.Kill(r.Context(), id, api.Actor(r), api.ClientIP(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

func (h *handlers) revoke(revoked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !wire.ValidID(id) || id == wire.AdhocJobID {
			fieldErr(w, "id", "invalid job id")
			return
		}
		ctx := r.Context()
		if _, err := h.f.LoadJob(ctx, id); errors.Is(err, fanout.ErrJobNotFound) {
			// A deleted job keeps its REVOKED status; allow changing it only
			// while that status exists, so a typo does not create one.
			st, kerr := h.kv(ctx, bus.KVScriptStatus)
			if kerr != nil {
				h.fail(w, r, kerr)
				return
			}
			if _, gerr := st.Get(ctx, id); bus.IsNotFound(gerr) {
				api.WriteError(w, http.StatusNotFound, "no such job", "id")
				return
			}
		}
		waves, err := h.f.SetScriptStatus(ctx, id, revoked)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		status, action := wire.StatusActive, "script.unrevoke"
		if revoked {
			status, action = wire.StatusRevoked, "script.revoke"
		}
		h.log.Info("script status changed", "job_id", id, "status", status, "cancelled_waves", waves)
		h.auditf(r, action, id, map[string]any{"status": status, "cancelled_waves": waves})
		api.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "status": status, "cancelled_waves": waves})
	}
}
