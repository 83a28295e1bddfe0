package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// publicAPI is the allow-list of SPEC §7: every other /api route needs a
// token.
var publicAPI = []string{"GET /api/version", "POST /api/auth/login"}

// TestRouteSweep asks every /api route the real backend registers (the
// binary's own wiring) without a token, with a bad token, and with each
// role below the route's minimum: 401, 401, 403.
func TestRouteSweep(t *testing.T) {
	s := startSecured(t, nil)
	routes := s.b.API.Routes()
	var patterns []string
	for _, rt := range routes {
		patterns = append(patterns, rt.Pattern)
	}
	// The sweep is only as good as the route set: the families of every
	// package that registers routes must be there.
	for _, want := range []string{
		"GET /api/agents", "POST /api/agents/{pc_id}/ping", "GET /api/events", "GET /api/audit", // api
		"GET /api/accounts", "POST /api/auth/change-password", // auth
		"POST /api/run", "POST /api/exec/{job_id}", "PUT /api/freeze", "GET /api/agents/{pc_id}/effective_config", // ops
		"GET /api/schedules", "POST /api/schedules/{id}/enable", // sched
	} {
		if !slices.Contains(patterns, want) {
			t.Errorf("route %q is not registered by the backend's wiring", want)
		}
	}
	if len(routes) < 40 {
		t.Errorf("only %d routes registered: %v", len(routes), patterns)
	}

	below := map[auth.Role][]auth.Role{
		auth.RoleViewer:   nil,
		auth.RoleOperator: {auth.RoleViewer},
		auth.RoleAdmin:    {auth.RoleViewer, auth.RoleOperator},
	}
	var public []string
	checked := 0
	for _, rt := range routes {
		method, path := rt.Sample()
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		if rt.Min == auth.RolePublic {
			public = append(public, rt.Pattern)
			continue
		}
		if slices.Contains(publicAPI, rt.Pattern) {
			t.Errorf("%s is on the public allow-list but requires %s", rt.Pattern, rt.Min)
		}
		r := s.call(t, auth.RolePublic, method, path, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s without a token: %d %s, want 401 with WWW-Authenticate", method, path, r.status, r.body)
		}
		if r := s.callToken(t, "not-a-token", method, path, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s with a bad token: %d, want 401", method, path, r.status)
		}
		lower, ok := below[rt.Min]
		if !ok {
			t.Errorf("%s: unexpected minimum role %v", rt.Pattern, rt.Min)
		}
		for _, role := range lower {
			if r := s.call(t, role, method, path, nil); r.status != http.StatusForbidden {
				t.Errorf("%s %s as %s (needs %s): %d %s, want 403", method, path, role, rt.Min, r.status, r.body)
			}
		}
		checked++
	}
	slices.Sort(public)
	want := slices.Clone(publicAPI)
	slices.Sort(want)
	if !slices.Equal(public, want) {
		t.Errorf("public /api routes = %v, want exactly %v", public, want)
	}
	// The allow-list really answers without a token.
	if r := s.call(t, auth.RolePublic, "GET", "/api/version", nil); r.status != http.StatusOK {
		t.Errorf("GET /api/version: %d", r.status)
	}
	if r := s.call(t, auth.RolePublic, "POST", "/api/auth/login", map[string]string{"username": "sweep-viewer", "password": "wrong password!!"}); r.status != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d %s", r.status, r.body)
	}
	// An unregistered /api path is a 404, not an open door.
	if r := s.call(t, auth.RolePublic, "GET", "/api/no-such-route", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown route: %d", r.status)
	}
	t.Logf("swept %d guarded routes", checked)
}
