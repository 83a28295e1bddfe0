// Package api serves /api/*: JSON over net/http, every route registered
// together with its minimum role (auth.Mux) so none is left unguarded.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Reader is what the read side needs from the store.
type Reader interface {
	ListAgents(ctx context.Context, f store.AgentFilter, p store.Page) ([]store.Agent, int, error)
	GetAgent(ctx context.Context, pc string, now time.Time) (store.Agent, bool, error)
	DeleteAgent(ctx context.Context, pc string) (bool, error)
	ListGroups(ctx context.Context) ([]store.GroupMembers, error)
	ListExecutions(ctx context.Context, f store.ExecFilter, p store.Page) ([]store.Execution, int, error)
	GetExecution(ctx context.Context, execID string) (store.Execution, bool, error)
	ListResults(ctx context.Context, f store.ResultFilter, p store.Page) ([]store.ResultRow, int, error)
	GetResult(ctx context.Context, id string) (store.ResultRow, bool, error)
	ListAudit(ctx context.Context, f store.AuditFilter, p store.Page) ([]store.AuditRow, int, error)
	Fleet(ctx context.Context, now time.Time) (store.FleetCounts, error)
}

// Auditor records state changes (audit.Publisher).
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string)
}

// Deps are the server's collaborators.
type Deps struct {
	Store   Reader
	NC      *nats.Conn
	JS      jetstream.JetStream
	Auth    *auth.Authenticator
	Audit   Auditor
	Events  http.Handler // SSE hub
	UI      http.Handler // embedded dashboard
	Metrics *metrics.Registry
	Log     *slog.Logger
	Version string
	Commit  string
	// Extra registers further routes (jobs, exec, schedules, config…) on the
	// same guarded mux; each package declares its routes' roles itself.
	Extra []func(m *auth.Mux)
}

// Server is the HTTP API.
type Server struct {
	d   Deps
	mux *auth.Mux
}

// New builds the server and registers every route.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.Default
	}
	s := &Server{d: d, mux: d.Auth.NewMux(nil)}
	s.routes()
	return s
}

// Routes lists every registered /api route with its minimum role.
func (s *Server) Routes() []auth.Route { return s.mux.Routes() }

func (s *Server) routes() {
	m := s.mux
	raw := m.ServeMux()
	raw.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	raw.Handle("GET /metrics", s.d.Metrics.Handler())
	m.HandleFunc("GET /api/version", auth.RolePublic, s.version)
	m.HandleFunc("GET /api/agents", auth.RoleViewer, s.listAgents)
	m.HandleFunc("GET /api/agents/{pc_id}", auth.RoleViewer, s.getAgent)
	m.HandleFunc("DELETE /api/agents/{pc_id}", auth.RoleOperator, s.deleteAgent)
	m.HandleFunc("POST /api/agents/{pc_id}/ping", auth.RoleOperator, s.pingAgent)
	m.HandleFunc("GET /api/groups", auth.RoleViewer, s.listGroups)
	m.HandleFunc("GET /api/executions", auth.RoleViewer, s.listExecutions)
	m.HandleFunc("GET /api/executions/{exec_id}", auth.RoleViewer, s.getExecution)
	m.HandleFunc("GET /api/results", auth.RoleViewer, s.listResults)
	m.HandleFunc("GET /api/results/{result_id}", auth.RoleViewer, s.getResult)
	m.HandleFunc("GET /api/audit", auth.RoleViewer, s.listAudit)
	m.HandleFunc("GET /api/health/fleet", auth.RoleViewer, s.fleetHealth)
	if s.d.Events != nil {
		m.Handle("GET /api/events", auth.RoleViewer, s.d.Events)
	}
	s.d.Auth.Mount(m)
	for _, register := range s.d.Extra {
		register(m)
	}
	raw.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, "no such API route", "")
	})
	if s.d.UI != nil {
		raw.Handle("/", s.d.UI)
	}
}

// Handler is the complete HTTP handler: hardening, metrics, routes.
func (s *Server) Handler() http.Handler {
	return auth.Harden(auth.HardenOptions{}, s.instrument(s.mux))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api/events" {
			return
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.d.Metrics.Observe("kanade_http_request_seconds", "HTTP API latency.", metrics.DefaultBuckets,
			time.Since(start).Seconds(), "route", route, "code", strconv.Itoa(sw.status))
	})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes the SPEC §7 error body.
func WriteError(w http.ResponseWriter, status int, msg, field string) {
	auth.WriteError(w, status, msg, field)
}

// errBadParam is a query parameter error naming the parameter.
type errBadParam struct{ field, msg string }

func (e errBadParam) Error() string { return e.field + ": " + e.msg }

// page reads limit/offset (default 50, max 1000).
func page(r *http.Request) (store.Page, error) {
	p := store.Page{Limit: 50}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, errBadParam{"limit", "must be a positive integer"}
		}
		p.Limit = min(n, 1000)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errBadParam{"offset", "must be a non-negative integer"}
		}
		p.Offset = n
	}
	return p, nil
}

func sinceParam(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if d, derr := time.ParseDuration(v); derr == nil && d > 0 {
			return time.Now().Add(-d), nil // "since=24h" is handy from a shell
		}
		return t, errBadParam{"since", "must be an RFC 3339 time or a duration such as 24h"}
	}
	return t, nil
}

func oneOf(r *http.Request, name string, allowed ...string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", errBadParam{name, "must be one of " + strings.Join(allowed, ", ")}
}

// fail maps an error to a response: bad parameters are 400s naming the
// field, anything else is a logged 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bp errBadParam
	if errors.As(err, &bp) {
		WriteError(w, http.StatusBadRequest, bp.msg, bp.field)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.d.Log.Error("api request failed", "route", r.Pattern, "error", err)
	WriteError(w, http.StatusInternalServerError, "internal error", "")
}

func listed[T any](w http.ResponseWriter, rows []T, total int) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if rows == nil {
		rows = []T{}
	}
	WriteJSON(w, http.StatusOK, rows)
}

// Actor is the authenticated caller's name for audit and initiated_by.
func Actor(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.Username
	}
	return "anonymous"
}

// ClientIP is the caller's address for audit.
func ClientIP(r *http.Request) string { return auth.ClientIP(r, nil) }
