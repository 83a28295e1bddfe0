package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// jobView is a catalog entry as the API shows it: the manifest and its
// stop-lever state (YAML is set by GET /api/jobs/{id} only).
func jobView(m manifest.Manifest, st kv.JobState) apiv1.Job {
	return apiv1.Job{Manifest: manifestView(m), Status: apiv1.JobStatus(st.Status), PinnedVersion: st.Pinned}
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err == nil {
		err = keyLen(p, 2)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	es, err := s.d.Jobs.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]apiv1.Job, 0, len(es))
	for _, e := range es {
		if e.Err != nil {
			s.d.Log.Warn("job in KV does not validate; listed by id only", "job_id", e.ID, "error", e.Err)
		}
		out = append(out, jobView(e.Manifest, e.JobState))
	}
	listed(w, r, jobsWindow(out, p))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	ctx := r.Context()
	m, err := s.d.Jobs.Get(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	j, err := s.view(ctx, m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	text, ok := s.d.Jobs.Text(ctx, id)
	if !ok || text == "" {
		b, _ := json.MarshalIndent(m, "", "  ")
		text = string(b) + "\n"
	}
	j.YAML = &text
	WriteJSON(w, http.StatusOK, j)
}

func (s *Server) view(ctx context.Context, m manifest.Manifest) (apiv1.Job, error) {
	st, err := s.d.Jobs.State(ctx, m.ID)
	if err != nil {
		return apiv1.Job{}, err
	}
	return jobView(m, st), nil
}

// putJob creates or replaces a job. The body is YAML or JSON (sniffed; the
// Content-Type is not needed) and is validated in full before anything is
// stored. The submitted text is kept for editing. A job re-created after a
// delete stays REVOKED until unrevoked: an operator must decide that old
// commands still in EXEC may run again.
func (s *Server) putJob(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(string(body)) == "" {
		fieldErr(w, "body", "a manifest (YAML or JSON) is required")
		return
	}
	m, err := manifest.Parse(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	created, err := s.d.Jobs.Put(ctx, m, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	action := "job.update"
	if created {
		action = "job.create"
	}
	s.d.Log.Info("job stored", "job_id", m.ID, "version", m.Version, "created", created)
	s.auditf(r, action, m.ID, map[string]any{"version": m.Version, "shell": m.Execute.Shell, "timeout": m.Execute.Timeout})
	j, err := s.view(ctx, m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, j)
}

// deleteJob refuses while a schedule references the job; otherwise it
// revokes the job first (so commands still in EXEC are skipped by agents
// that catch up later), cancels its pending waves, then deletes it.
func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	ctx := r.Context()
	if _, err := s.d.Jobs.Get(ctx, id); errors.Is(err, kv.ErrJobNotFound) {
		WriteError(w, http.StatusNotFound, "no such job", "id")
		return
	}
	users, err := s.d.Schedules.UsingJob(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(users) > 0 {
		WriteError(w, http.StatusConflict, "job is used by schedule(s) "+strings.Join(users, ", ")+"; delete them first", "id")
		return
	}
	waves, err := s.d.Fanout.SetScriptStatus(ctx, id, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.Jobs.Delete(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("job deleted (revoked first)", "job_id", id, "cancelled_waves", waves)
	s.auditf(r, "job.delete", id, map[string]any{"revoked": true, "cancelled_waves": waves})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) killJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidID(id) {
		fieldErr(w, "id", "invalid job id")
		return
	}
	resp, err := s.d.Fanout.Kill(r.Context(), id, Actor(r), ClientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) revoke(revoked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !wire.ValidID(id) || id == wire.AdhocJobID {
			fieldErr(w, "id", "invalid job id")
			return
		}
		ctx := r.Context()
		if _, err := s.d.Jobs.Get(ctx, id); errors.Is(err, kv.ErrJobNotFound) {
			// A deleted job keeps its REVOKED status; allow changing it only
			// while that status exists, so a typo does not create one.
			known, kerr := s.d.Jobs.HasStatus(ctx, id)
			if kerr == nil && !known {
				WriteError(w, http.StatusNotFound, "no such job", "id")
				return
			}
		}
		waves, err := s.d.Fanout.SetScriptStatus(ctx, id, revoked)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		status, action := wire.StatusActive, "script.unrevoke"
		if revoked {
			status, action = wire.StatusRevoked, "script.revoke"
		}
		s.d.Log.Info("script status changed", "job_id", id, "status", status, "cancelled_waves", waves)
		s.auditf(r, action, id, map[string]any{"status": status, "cancelled_waves": waves})
		WriteJSON(w, http.StatusOK, apiv1.RevokeResponse{ID: id, Status: apiv1.JobStatus(status), CancelledWaves: waves})
	}
}

// jobsWindow pages the catalog, which is in KV order (by last write, not
// by a key): a cursor names the last job served and its position; the
// next page starts after that job, or at the position when it has been
// deleted or rewritten meanwhile (moved to the end).
func jobsWindow(all []apiv1.Job, p store.Page) store.Listing[apiv1.Job] {
	start := p.Offset
	if p.After != nil {
		start, _ = strconv.Atoi(p.After[1])
		for i, j := range all {
			if j.ID == p.After[0] {
				start = i + 1
				break
			}
		}
		start = max(0, start)
	}
	l := window(all, store.Page{Limit: p.Limit, Offset: start}, func(j apiv1.Job) cursor.Key { return cursor.Key{j.ID} }, nil)
	if l.Next != nil {
		l.Next = append(l.Next, strconv.Itoa(start+len(l.Rows)))
	}
	return l
}
