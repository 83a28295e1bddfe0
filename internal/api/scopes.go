package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// Group scopes (SPEC §16, docs/security.md "Scopes"): an account or API
// token may be limited to PC groups (auth.Principal.Groups). Every route
// declares what a scoped caller gets, in routeScopes; the route tests fail
// for a route without a declaration, and one that slipped through anyway
// is refused (fail closed).

// scopeRule is what a route does for a scoped caller. Unscoped callers
// never see a difference.
type scopeRule int

const (
	// scopeRefused: 403 before the handler. The route acts on, or reads
	// secrets of, the whole fleet (catalog, schedules, config writes,
	// freeze, group membership, enrollment, releases, accounts, channels).
	scopeRefused scopeRule = iota + 1
	// scopePC: the route names one PC ({pc_id}); a PC outside the scope is
	// a 404 on GET (its existence is not revealed) and a 403 otherwise.
	scopePC
	// scopeFiltered: the handler narrows to the scope: lists and the live
	// stream keep only the PCs of the scope groups (in the SQL, so paging
	// stays right), single items outside it are 404, and exec/run/kill
	// outside it are 403.
	scopeFiltered
	// scopeNeutral: the route shows nothing per PC (or is the caller's own
	// session), so it serves a scoped caller as anyone of its role.
	scopeNeutral
)

func (r scopeRule) String() string {
	switch r {
	case scopeRefused:
		return "refused"
	case scopePC:
		return "pc"
	case scopeFiltered:
		return "filtered"
	case scopeNeutral:
		return "neutral"
	}
	return "undeclared"
}

// routeScopes declares every route of the table (routes.go).
var routeScopes = map[string]scopeRule{
	"GET /api/version":               scopeNeutral,
	"GET /api/health/fleet":          scopeNeutral, // fleet-wide counts, no PC named
	"GET /api/events":                scopeFiltered,
	"GET /api/stats/executions":      scopeNeutral, // fleet-wide daily counts, no PC named (like GET /api/health/fleet)
	"GET /api/stats/agents-online":   scopeNeutral, // fleet-wide hourly counts, no PC named
	"GET /api/debug/pprof/{name...}": scopeRefused,

	"POST /api/auth/login":           scopeNeutral,
	"GET /api/auth/me":               scopeNeutral,
	"POST /api/auth/change-password": scopeNeutral,
	"POST /api/auth/password":        scopeNeutral,
	// MFA is about the caller's own account; the policy and another
	// account's reset are fleet-wide administration.
	"POST /api/auth/mfa":                  scopeNeutral,
	"POST /api/auth/mfa/enroll":           scopeNeutral,
	"POST /api/auth/mfa/confirm":          scopeNeutral,
	"DELETE /api/auth/mfa":                scopeNeutral,
	"GET /api/auth/mfa/policy":            scopeNeutral,
	"PUT /api/auth/mfa/policy":            scopeRefused,
	"DELETE /api/accounts/{username}/mfa": scopeRefused,
	"GET /api/accounts":                   scopeRefused,
	"POST /api/accounts":                  scopeRefused,
	"GET /api/accounts/{username}":        scopeRefused,
	"PATCH /api/accounts/{username}":      scopeRefused,
	"PUT /api/accounts/{username}":        scopeRefused,
	"DELETE /api/accounts/{username}":     scopeRefused,
	"POST /api/tokens":                    scopeNeutral, // the handler keeps a token within its creator's scope
	"GET /api/tokens":                     scopeNeutral, // a scoped caller sees its own tokens only
	"DELETE /api/tokens/{id}":             scopeNeutral, // ... and revokes its own only

	"GET /api/agents":                   scopeFiltered,
	"GET /api/agents/versions":          scopeNeutral, // version counts, no PC named
	"GET /api/agents/{pc_id}":           scopePC,
	"DELETE /api/agents/{pc_id}":        scopeRefused,
	"POST /api/agents/{pc_id}/ping":     scopePC,
	"POST /api/agents/{pc_id}/reenroll": scopeRefused,
	"GET /api/groups":                   scopeFiltered,

	"GET /api/checks":            scopeNeutral, // check definitions and fleet-wide counts
	"GET /api/checks/{id}/trend": scopeNeutral, // fleet-wide daily counts, like GET /api/checks
	"GET /api/check-status":      scopeFiltered,
	"GET /api/alerts":            scopeFiltered,
	"POST /api/alerts/{id}/ack":  scopeFiltered,

	"GET /api/inventory/tables":                 scopeNeutral, // table names and columns
	"GET /api/inventory/tables/{table}":         scopeFiltered,
	"GET /api/agents/{pc_id}/groups":            scopePC,
	"PUT /api/agents/{pc_id}/groups":            scopeRefused, // membership is what the scope is made of
	"POST /api/agents/{pc_id}/groups":           scopeRefused,
	"DELETE /api/agents/{pc_id}/groups/{group}": scopeRefused,

	"POST /api/enroll":                               scopeNeutral, // public: the enrollment token is the credential
	"POST /api/enrollment-tokens":                    scopeRefused,
	"GET /api/enrollment-tokens":                     scopeRefused,
	"DELETE /api/enrollment-tokens/{id}":             scopeRefused,
	"GET /api/install/{os}":                          scopeNeutral, // public
	"GET /api/releases/{version}/{platform}":         scopeNeutral, // public
	"POST /api/broker/operator-creds":                scopeRefused,
	"GET /api/broker/operator-creds":                 scopeRefused,
	"DELETE /api/broker/operator-creds/{public_key}": scopeRefused,

	"GET /api/executions":                 scopeFiltered,
	"GET /api/executions/{exec_id}":       scopeFiltered,
	"POST /api/executions/{exec_id}/kill": scopeFiltered,
	// Pending waves reach PCs resolved when they are sent, possibly
	// outside a scope narrowed since: refused rather than half-checked.
	"POST /api/executions/{exec_id}/pause":  scopeRefused,
	"POST /api/executions/{exec_id}/resume": scopeRefused,
	"POST /api/executions/{exec_id}/cancel": scopeRefused,
	"GET /api/results":                      scopeFiltered,
	"GET /api/results/{result_id}":          scopeFiltered,
	"GET /api/results/{result_id}/output":   scopeFiltered,
	"GET /api/audit":                        scopeFiltered, // the caller's own entries

	"GET /api/executions/{exec_id}/summary": scopeFiltered, // groups of in-scope results only

	"GET /api/inventory/facts":   scopeFiltered,
	"GET /api/inventory/history": scopeFiltered,

	"GET /api/jobs":                   scopeNeutral, // the catalog: what may run, not where
	"POST /api/jobs":                  scopeRefused,
	"GET /api/jobs/{id}":              scopeNeutral,
	"DELETE /api/jobs/{id}":           scopeRefused,
	"POST /api/jobs/{id}/kill":        scopeRefused, // kills the job on every PC
	"POST /api/scripts/{id}/revoke":   scopeRefused,
	"POST /api/scripts/{id}/unrevoke": scopeRefused,

	"POST /api/exec/{job_id}": scopeFiltered,
	"POST /api/run":           scopeFiltered,

	"GET /api/freeze":    scopeNeutral,
	"PUT /api/freeze":    scopeRefused,
	"DELETE /api/freeze": scopeRefused,

	"GET /api/config":                          scopeNeutral,
	"PUT /api/config":                          scopeRefused,
	"PATCH /api/config":                        scopeRefused,
	"GET /api/groups/{group}/config":           scopeNeutral,
	"PUT /api/groups/{group}/config":           scopeRefused,
	"PATCH /api/groups/{group}/config":         scopeRefused,
	"DELETE /api/groups/{group}/config":        scopeRefused,
	"GET /api/pcs/{pc_id}/config":              scopePC,
	"PUT /api/pcs/{pc_id}/config":              scopeRefused,
	"PATCH /api/pcs/{pc_id}/config":            scopeRefused,
	"DELETE /api/pcs/{pc_id}/config":           scopeRefused,
	"GET /api/agents/{pc_id}/effective_config": scopePC,

	"GET /api/releases":              scopeNeutral,
	"POST /api/releases":             scopeRefused,
	"DELETE /api/releases/{version}": scopeRefused,

	"GET /api/notification-channels":            scopeRefused,
	"POST /api/notification-channels":           scopeRefused,
	"GET /api/notification-channels/{id}":       scopeRefused,
	"PUT /api/notification-channels/{id}":       scopeRefused,
	"DELETE /api/notification-channels/{id}":    scopeRefused,
	"POST /api/notification-channels/{id}/test": scopeRefused,
	"GET /api/notifications":                    scopeNeutral, // delivery log: channels and checks, no PC

	"GET /api/schedules":               scopeNeutral,
	"POST /api/schedules":              scopeRefused,
	"GET /api/schedules/{id}":          scopeNeutral,
	"DELETE /api/schedules/{id}":       scopeRefused,
	"POST /api/schedules/{id}/enable":  scopeRefused,
	"POST /api/schedules/{id}/disable": scopeRefused,
	"GET /api/schedules/{id}/preview":  scopeNeutral,
}

// RouteScope is a route's scope rule as the tests read it: "refused",
// "pc", "filtered", "neutral" or "undeclared".
func RouteScope(pattern string) string { return routeScopes[pattern].String() }

// Scopes is the group membership the scope checks read (*store.DB).
type Scopes interface {
	// PCsInScope returns those of pcs that are members of one of groups.
	PCsInScope(ctx context.Context, pcs, groups []string) (map[string]bool, error)
	// ScopePCs returns every PC that is a member of one of groups.
	ScopePCs(ctx context.Context, groups []string) (map[string]bool, error)
}

// scopeOf is the caller's scope: its groups, or nil when it is not
// limited.
func scopeOf(r *http.Request) []string {
	if p, ok := auth.FromContext(r.Context()); ok && p.Scoped() {
		return p.Groups
	}
	return nil
}

// ErrScopeRefused starts the 403 of a fleet-wide route for a scoped caller.
const ErrScopeRefused = "refused for a caller scoped to groups"

func scopeList(groups []string) string { return strings.Join(groups, ", ") }

// scopeGuard applies the route's rule before h for a scoped caller.
func (s *Server) scopeGuard(pattern string, h http.HandlerFunc) http.HandlerFunc {
	rule := routeScopes[pattern]
	if rule == scopeNeutral || rule == scopeFiltered {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		groups := scopeOf(r)
		if groups == nil {
			h(w, r)
			return
		}
		if rule != scopePC { // scopeRefused, or undeclared: fail closed
			WriteError(w, http.StatusForbidden, ErrScopeRefused+" ("+scopeList(groups)+"): this route acts on the whole fleet", "")
			return
		}
		pc := r.PathValue("pc_id")
		in, err := s.pcsInScope(r.Context(), []string{pc}, groups)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !in[pc] {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				WriteError(w, http.StatusNotFound, "no such agent", "pc_id")
				return
			}
			WriteError(w, http.StatusForbidden, "PC "+pc+" is outside your scope ("+scopeList(groups)+")", "pc_id")
			return
		}
		h(w, r)
	}
}

// pcsInScope answers from the store's membership; without one nothing is
// in scope (fail closed).
func (s *Server) pcsInScope(ctx context.Context, pcs, groups []string) (map[string]bool, error) {
	if s.d.Scopes == nil {
		return map[string]bool{}, nil
	}
	return s.d.Scopes.PCsInScope(ctx, pcs, groups)
}

// pcVisible reports whether a scoped caller may see pc (always true for
// an unscoped one).
func (s *Server) pcVisible(r *http.Request, pc string) (bool, error) {
	groups := scopeOf(r)
	if groups == nil {
		return true, nil
	}
	in, err := s.pcsInScope(r.Context(), []string{pc}, groups)
	return in[pc], err
}

// scopeFailure is a 403 for an action outside the caller's scope.
type scopeFailure struct{ msg, field string }

func (e scopeFailure) Error() string { return e.msg }

// checkTargetScope refuses (scopeFailure) a target a scoped caller may
// not reach: all, a group outside its scope, a PC that is not a member of
// one of its groups, or a wave group outside it.
func (s *Server) checkTargetScope(r *http.Request, all bool, groups, pcs, waveGroups []string) error {
	scope := scopeOf(r)
	if scope == nil {
		return nil
	}
	list := scopeList(scope)
	if all {
		return scopeFailure{"target all is refused for a caller scoped to groups (" + list + "); target your groups or PCs", "target.all"}
	}
	for _, g := range groups {
		if !slices.Contains(scope, g) {
			return scopeFailure{"group " + g + " is outside your scope (" + list + ")", "target.groups"}
		}
	}
	for _, g := range waveGroups {
		if !slices.Contains(scope, g) {
			return scopeFailure{"wave group " + g + " is outside your scope (" + list + ")", "rollout.waves"}
		}
	}
	if len(pcs) == 0 {
		return nil
	}
	in, err := s.pcsInScope(r.Context(), pcs, scope)
	if err != nil {
		return err
	}
	for _, pc := range pcs {
		if !in[pc] {
			return scopeFailure{"PC " + pc + " is outside your scope (" + list + ")", "target.pcs"}
		}
	}
	return nil
}

// filteredEvents is an event stream that can leave events out (*live.Hub).
type filteredEvents interface {
	ServeFiltered(w http.ResponseWriter, r *http.Request, keep func(eventType string, data []byte) bool)
}

// scopeEventsRefresh is how often a scoped live stream re-reads which PCs
// its groups hold (a PC moved into or out of them is seen that late).
const scopeEventsRefresh = 5 * time.Second

// scopedEvents serves the live stream of a scoped caller: an event naming
// a PC (pc_id) is sent only for a PC of the scope; events that name none
// (execution progress, schedule fires, acks) carry no PC data and pass.
func (s *Server) scopedEvents(w http.ResponseWriter, r *http.Request, scope []string) {
	fe, ok := s.d.Events.(filteredEvents)
	if !ok || s.d.Scopes == nil {
		WriteError(w, http.StatusForbidden, ErrScopeRefused+": this backend cannot filter the live stream", "")
		return
	}
	var (
		pcs map[string]bool
		at  time.Time
	)
	keep := func(_ string, data []byte) bool {
		var ev struct {
			PCID *string `json:"pc_id"`
		}
		if json.Unmarshal(data, &ev) != nil {
			return false
		}
		if ev.PCID == nil {
			return true
		}
		if pcs == nil || time.Since(at) > scopeEventsRefresh {
			// Only this stream's goroutine calls keep: no lock needed.
			fresh, err := s.d.Scopes.ScopePCs(r.Context(), scope)
			if err != nil {
				s.d.Log.Warn("live stream: read scope", "err", err)
				if pcs == nil {
					return false
				}
			} else {
				pcs, at = fresh, time.Now()
			}
		}
		return pcs[*ev.PCID]
	}
	fe.ServeFiltered(w, r, keep)
}

// ScopedPatterns lists the patterns routeScopes declares (tests).
func ScopedPatterns() []string {
	out := make([]string, 0, len(routeScopes))
	for p := range routeScopes {
		out = append(out, p)
	}
	return out
}
