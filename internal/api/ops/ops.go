// Package ops serves the orchestration half of /api: the job catalog, exec
// and ad-hoc runs, the stop levers (kill, revoke, freeze), agent groups and
// layered agent config. Every route declares its minimum role (viewers
// read, operators change) and every change is audited with the caller.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Deps are the handlers' collaborators.
type Deps struct {
	JS    jetstream.JetStream
	Audit api.Auditor
	Log   *slog.Logger
}

type handlers struct {
	f     *fanout.Fanout
	js    jetstream.JetStream
	audit api.Auditor
	log   *slog.Logger
}

// Orchestration returns the route registrar for backend.Config.Extra.
func Orchestration(f *fanout.Fanout, d Deps) func(m *auth.Mux) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	h := &handlers{f: f, js: d.JS, audit: d.Audit, log: d.Log}
	return h.register
}

func (h *handlers) register(m *auth.Mux) {
	// Jobs and the stop levers.
	m.HandleFunc("GET /api/jobs", auth.RoleViewer, h.listJobs)
	m.HandleFunc("POST /api/jobs", auth.RoleOperator, h.putJob)
	m.HandleFunc("GET /api/jobs/{id}", auth.RoleViewer, h.getJob)
	m.HandleFunc("DELETE /api/jobs/{id}", auth.RoleOperator, h.deleteJob)
	m.HandleFunc("POST /api/jobs/{id}/kill", auth.RoleOperator, h.killJob)
	m.HandleFunc("POST /api/scripts/{id}/revoke", auth.RoleOperator, h.revoke(true))
	m.HandleFunc("POST /api/scripts/{id}/unrevoke", auth.RoleOperator, h.revoke(false))
	// Runs.
	m.HandleFunc("POST /api/exec/{job_id}", auth.RoleOperator, h.exec)
	m.HandleFunc("POST /api/run", auth.RoleOperator, h.run)
	// Freeze.
	m.HandleFunc("GET /api/freeze", auth.RoleViewer, h.getFreeze)
	m.HandleFunc("PUT /api/freeze", auth.RoleOperator, h.putFreeze)
	m.HandleFunc("DELETE /api/freeze", auth.RoleOperator, h.deleteFreeze)
	// Groups (GET /api/groups is served by the read API from SQL).
	m.HandleFunc("GET /api/agents/{pc_id}/groups", auth.RoleViewer, h.getGroups)
	m.HandleFunc("PUT /api/agents/{pc_id}/groups", auth.RoleOperator, h.setGroups)
	m.HandleFunc("POST /api/agents/{pc_id}/groups", auth.RoleOperator, h.addGroup)
	m.HandleFunc("DELETE /api/agents/{pc_id}/groups/{group}", auth.RoleOperator, h.removeGroup)
	// Layered config.
	for _, s := range []scopeRoute{
		{"/api/config", func(*http.Request) (string, error) { return bus.ConfigGlobalKey, nil }},
		{"/api/groups/{group}/config", groupScope},
		{"/api/pcs/{pc_id}/config", pcScope},
	} {
		m.HandleFunc("GET "+s.path, auth.RoleViewer, h.getConfig(s.key))
		m.HandleFunc("PUT "+s.path, auth.RoleOperator, h.putConfig(s.key))
		m.HandleFunc("PATCH "+s.path, auth.RoleOperator, h.patchConfig(s.key))
		if s.path != "/api/config" {
			m.HandleFunc("DELETE "+s.path, auth.RoleOperator, h.deleteConfig(s.key))
		}
	}
	m.HandleFunc("GET /api/agents/{pc_id}/effective_config", auth.RoleViewer, h.effectiveConfig)
}

// fieldErr is a 422 naming the field.
func fieldErr(w http.ResponseWriter, field, msg string) {
	api.WriteError(w, http.StatusUnprocessableEntity, msg, field)
}

// fail maps an error to a response: validation → 422 naming the field,
// unknown job → 404, timeout → 408, anything else a logged 500.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *wire.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		field := fe.Field
		if field == "" {
			field = "body"
		}
		api.WriteError(w, http.StatusUnprocessableEntity, err.Error(), field)
	case errors.As(err, &mbe):
		api.WriteError(w, http.StatusRequestEntityTooLarge, "request body too large", "body")
	case errors.Is(err, fanout.ErrJobNotFound):
		api.WriteError(w, http.StatusNotFound, "no such job", "job_id")
	case errors.Is(err, context.Canceled):
	default:
		h.log.Error("api request failed", "route", r.Pattern, "error", err)
		api.WriteError(w, http.StatusInternalServerError, "internal error", "")
	}
}

func (h *handlers) auditf(r *http.Request, action, target string, payload any) {
	if h.audit != nil {
		h.audit.Audit(r.Context(), api.Actor(r), action, target, payload, api.ClientIP(r))
	}
}

func (h *handlers) kv(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := h.js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", bucket, err)
	}
	return kv, nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &wire.FieldError{Field: "body", Msg: "cannot read request body: " + err.Error()}
	}
	return b, nil
}

// decodeStrict decodes a small JSON body, rejecting unknown fields and
// trailing data with a *FieldError naming the field.
func decodeStrict(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return &wire.FieldError{Field: "body", Msg: "a JSON object is required"}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if dec.More() {
		return &wire.FieldError{Field: "body", Msg: "trailing data after the JSON object"}
	}
	return nil
}

func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &wire.FieldError{Field: field, Msg: fmt.Sprintf("must be a %s", te.Type)}
	}
	const unknown = `json: unknown field "`
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, unknown), `"`)
		if name == "" {
			name = "body"
		}
		return &wire.FieldError{Field: name, Msg: "unknown field"}
	}
	return &wire.FieldError{Field: "body", Msg: "malformed JSON: " + err.Error()}
}

// isConflict reports a lost compare-and-set.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// page reads limit/offset (default 50, max 1000) like the read API.
func page(r *http.Request) (limit, offset int, err error) {
	limit = 50
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, &wire.FieldError{Field: "limit", Msg: "must be a positive integer"}
		}
		limit = min(n, 1000)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, &wire.FieldError{Field: "offset", Msg: "must be a non-negative integer"}
		}
		offset = n
	}
	return limit, offset, nil
}
