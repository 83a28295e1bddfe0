// Package api serves /api/*: JSON over net/http. Every route is one line
// of the table in routes.go, with its minimum role (auth.Mux enforces it),
// so none is left unguarded and the route sweep reads the same table.
// Handlers translate HTTP to calls on the store readers, the KV stores
// (package kv), the fan-out and auth; they know no bucket names. Every
// body they write or plainly decode is an apiv1 type (contract.go maps the
// domain values), so the contract has one definition.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/health"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Reader is what the read side needs from the store (*store.DB).
type Reader interface {
	PageAgents(ctx context.Context, f store.AgentFilter, p store.Page) (store.Listing[apiv1.Agent], error)
	GetAgent(ctx context.Context, pc string, now time.Time) (apiv1.Agent, bool, error)
	AgentVersions(ctx context.Context, now time.Time) ([]apiv1.AgentVersion, error)
	DeleteAgent(ctx context.Context, pc string) (bool, error)
	ListGroups(ctx context.Context) ([]apiv1.GroupMembers, error)
	PageExecutions(ctx context.Context, f store.ExecFilter, p store.Page) (store.Listing[apiv1.Execution], error)
	GetExecution(ctx context.Context, execID string) (apiv1.Execution, bool, error)
	PageResults(ctx context.Context, f store.ResultFilter, p store.Page) (store.Listing[apiv1.Result], error)
	GetResult(ctx context.Context, id string) (apiv1.Result, bool, error)
	PageAudit(ctx context.Context, f store.AuditFilter, p store.Page) (store.Listing[apiv1.AuditEntry], error)
	Fleet(ctx context.Context, now time.Time) (store.FleetCounts, error)
	PageFacts(ctx context.Context, f store.FactsFilter, p store.Page) (store.Listing[apiv1.AgentFacts], error)
	PageHistory(ctx context.Context, f store.HistoryFilter, p store.Page) (store.Listing[apiv1.InventoryChange], error)
	InventoryTables(ctx context.Context) ([]apiv1.InventoryTable, error)
	PageInventoryRows(ctx context.Context, f store.InventoryRowFilter, p store.Page) (store.Listing[apiv1.InventoryRow], error)
	PageNotifications(ctx context.Context, f store.NotificationFilter, p store.Page) (store.Listing[apiv1.NotificationDelivery], error)
}

// Dispatches forgets a deleted schedule's per_pc history (*store.DB).
type Dispatches interface {
	DeleteScheduleDispatches(ctx context.Context, scheduleID string) error
}

// Auditor records state changes (audit.Publisher).
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string)
}

// Jobs is the job catalog (*kv.Jobs).
type Jobs interface {
	Get(ctx context.Context, id string) (manifest.Manifest, error)
	Exists(ctx context.Context, id string) (bool, error)
	Text(ctx context.Context, id string) (string, bool)
	Put(ctx context.Context, m manifest.Manifest, text []byte) (created bool, err error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context) ([]kv.JobEntry, error)
	State(ctx context.Context, id string) (kv.JobState, error)
	HasStatus(ctx context.Context, id string) (bool, error)
}

// Schedules is KV schedules and their bookkeeping (*kv.Schedules).
type Schedules interface {
	Get(ctx context.Context, id string) (schedule.Schedule, uint64, bool, error)
	IDs(ctx context.Context) ([]string, error)
	Text(ctx context.Context, id string) (string, bool)
	Put(ctx context.Context, sc schedule.Schedule, text []byte) (existed bool, err error)
	Update(ctx context.Context, sc schedule.Schedule, rev uint64) error
	Delete(ctx context.Context, id string) error
	UsingJob(ctx context.Context, jobID string) ([]string, error)
	State(ctx context.Context, id string) (kv.ScheduleState, uint64, error)
}

// Groups is KV agent_groups (*kv.AgentGroups).
type Groups interface {
	Get(ctx context.Context, pc string) ([]string, error)
	Set(ctx context.Context, pc string, groups []string) ([]string, error)
	Add(ctx context.Context, pc, group string) ([]string, error)
	Remove(ctx context.Context, pc, group string) ([]string, error)
}

// Config is KV agent_config (*kv.AgentConfig).
type Config interface {
	Scope(ctx context.Context, key string) (*wire.ConfigScope, uint64, error)
	Put(ctx context.Context, key string, s wire.ConfigScope) error
	Patch(ctx context.Context, key string, merge func(cur *wire.ConfigScope) (wire.ConfigScope, error)) (wire.ConfigScope, error)
	Delete(ctx context.Context, key string) error
	Layers(ctx context.Context, pc string) (kv.Layered, error)
}

// Freeze is the fleet freeze (*kv.Freeze).
type Freeze interface {
	Get(ctx context.Context) (wire.Freeze, bool, error)
	Set(ctx context.Context, f wire.Freeze) error
	Clear(ctx context.Context) error
}

// Buckets reports the KV buckets for the health view (*kv.Store).
type Buckets interface {
	Health(ctx context.Context) []kv.BucketHealth
}

// Outputs is object store result_output, the full output of runs
// (*kv.Outputs).
type Outputs interface {
	Open(ctx context.Context, resultID, stream string) (io.ReadCloser, kv.OutputInfo, bool, error)
	Info(ctx context.Context, resultID, stream string) (kv.OutputInfo, bool, error)
}

// Fanout runs jobs and pulls the stop levers (*fanout.Fanout).
type Fanout interface {
	Exec(ctx context.Context, req fanout.ExecRequest) (apiv1.ExecResponse, error)
	Run(ctx context.Context, req apiv1.RunRequest, actor, sourceIP string) (wire.ExecResult, string, error)
	Kill(ctx context.Context, jobID, actor, sourceIP string) (apiv1.KillResponse, error)
	KillExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.ExecKillResponse, error)
	PauseExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error)
	ResumeExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error)
	CancelExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error)
	SetScriptStatus(ctx context.Context, jobID string, revoked bool) (int, error)
}

// Health is the backend's degradation monitor (*health.Monitor).
type Health interface {
	Reasons(now time.Time) []health.Reason
	WritesRejected() (string, bool)
}

// Deps are every collaborator of the API, given explicitly.
type Deps struct {
	Store      Reader
	Dispatches Dispatches
	Jobs       Jobs
	Schedules  Schedules
	Groups     Groups
	Config     Config
	Freeze     Freeze
	Buckets    Buckets
	Outputs    Outputs // nil: output is served from the result row only
	Fanout     Fanout
	Enrollment Enrollment          // nil: the enrollment routes answer 503
	Checks     Checks              // nil: Store when it is one (*store.DB)
	Scopes     Scopes              // group scopes; nil: Store when it is one (*store.DB)
	Releases   ReleaseDeps         // agent releases (SPEC §13)
	Channels   Channels            // notification channels (SPEC §15); nil: their routes answer 503
	NC         *nats.Conn          // agent ping, health
	JS         jetstream.JetStream // health (account and streams)
	Auth       *auth.Authenticator // route guard and the login/account routes
	Audit      Auditor             // nil: changes are not audited
	Events     http.Handler        // SSE hub (GET /api/events); nil = 404
	UI         http.Handler        // embedded dashboard at /; nil = API only
	Metrics    *metrics.Registry   // nil = metrics.Default
	Health     Health              // nil: only the live checks of the health route
	Log        *slog.Logger
	Version    string
	Commit     string
	Pprof      bool // serve /api/debug/pprof/ to admins (--pprof)
	CSVMaxRows int  // most rows of one CSV export (0 = CSVMaxRows)
}

// Server is the HTTP API.
type Server struct {
	d   Deps
	mux *auth.Mux
	// enrollThrottle counts failed POST /api/enroll per client address.
	enrollThrottle *auth.Throttle
	fleet          fleetCache // GET /api/health/fleet's snapshot
	releaseMu      sync.Mutex // one release upload's check-and-store at a time
}

// New builds the server and registers every route of the table.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.Default
	}
	if c, ok := d.Store.(Checks); ok && d.Checks == nil {
		d.Checks = c
	}
	if sc, ok := d.Store.(Scopes); ok && d.Scopes == nil {
		d.Scopes = sc
	}
	s := &Server{d: d, mux: d.Auth.NewMux(nil), enrollThrottle: d.Auth.NewThrottle()}
	s.register()
	return s
}

// Routes lists every registered /api route with its minimum role, sorted.
func (s *Server) Routes() []auth.Route { return s.mux.Routes() }

// Table is the route table (patterns and minimum roles, sorted) without a
// server: what the golden-file test compares.
func Table() []auth.Route {
	var out []auth.Route
	for _, rt := range (&Server{}).table() {
		out = append(out, auth.Route{Pattern: rt.pattern, Min: rt.role})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

func (s *Server) register() {
	raw := s.mux.ServeMux()
	raw.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	raw.Handle("GET /metrics", s.d.Metrics.Handler())
	lists := listRows()
	for _, rt := range s.table() {
		h := rt.h
		if row, ok := lists[rt.pattern]; ok {
			h = s.csvList(row, h) // CSV of every list route (csv.go)
		}
		h = s.scopeGuard(rt.pattern, h) // group scopes (scopes.go)
		s.mux.HandleFunc(rt.pattern, rt.role, h)
	}
	raw.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, "no such API route", "")
	})
	if s.d.UI != nil {
		raw.Handle("/", s.d.UI)
	}
}

// Handler is the complete HTTP handler: hardening, metrics, routes.
// Release uploads (binaries) have their own body limit, the release cap.
func (s *Server) Handler() http.Handler {
	h := s.instrument(s.gateWrites(s.mux))
	small := auth.Harden(auth.HardenOptions{}, h)
	upload := auth.Harden(auth.HardenOptions{MaxBodyBytes: s.releaseMax()}, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == releasesPath {
			upload.ServeHTTP(w, r)
			return
		}
		small.ServeHTTP(w, r)
	})
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
