package server_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/brokerid"
)

// publicAPI is the allow-list of SPEC §7: every other /api route needs a
// token.
// The installer's two routes are public too: the enrollment token in
// ?token= is their credential (the download also takes a viewer's bearer
// token, checked in its handler: proved below).
var publicAPI = []string{"GET /api/version", "POST /api/auth/login", "POST /api/auth/mfa", "POST /api/enroll",
	"GET /api/install/{os}", "GET /api/releases/{version}/{platform}"}

// goldenRoutes reads internal/api/testdata/routes.golden: the reviewed
// minimum role of every /api route ("METHOD PATH ROLE" per line).
func goldenRoutes(t *testing.T) map[string]auth.Role {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "api", "testdata", "routes.golden"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]auth.Role{}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("routes.golden:%d: want METHOD PATH ROLE, got %q", i+1, line)
		}
		role := auth.RolePublic
		if f[2] != "public" {
			if role, err = auth.ParseRole(f[2]); err != nil {
				t.Fatalf("routes.golden:%d: %v", i+1, err)
			}
		}
		out[f[0]+" "+f[1]] = role
	}
	return out
}

// TestRouteSweep asks every /api route the real backend registers (the
// binary's own wiring, read from the one route table) without a token,
// with a bad token, and with each role below the route's minimum — the
// minimum pinned in the reviewed golden file, not the one the table
// declares: 401, 401, 403. A route missing from either side fails.
func TestRouteSweep(t *testing.T) {
	s := startSecured(t, nil)
	routes := s.b.API.Routes()
	golden := goldenRoutes(t)
	registered := map[string]bool{}
	for _, rt := range routes {
		registered[rt.Pattern] = true
		want, ok := golden[rt.Pattern]
		switch {
		case !ok:
			t.Errorf("%s is registered but not in routes.golden", rt.Pattern)
		case want != rt.Min:
			t.Errorf("%s declares role %s; routes.golden pins %s", rt.Pattern, rt.Min, want)
		}
	}
	for p := range golden {
		if !registered[p] {
			t.Errorf("%s is in routes.golden but the backend does not register it", p)
		}
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
		if g, ok := golden[rt.Pattern]; ok {
			rt.Min = g // prove the reviewed role, whatever the table says
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
	// Enrollment answers without a bearer token; this backend has no
	// per-agent broker identity, so a well-formed request gets a 503 that
	// says so (TestEnrollmentEmbedded covers the rest).
	_, nkey, err := brokerid.NewUserKey()
	if err != nil {
		t.Fatal(err)
	}
	if r := s.call(t, auth.RolePublic, "POST", "/api/enroll", map[string]string{"token": "kanade-enroll-x", "pc_id": "pc-1",
		"public_key": nkey}); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "--nats-identity") {
		t.Errorf("POST /api/enroll without broker identity: %d %s", r.status, r.body)
	}
	// The installer's routes: without any credential 401, with a bad
	// token 401; the download takes a viewer's bearer token as the route
	// guard would (no release is stored here: 404 past the guard).
	for _, path := range []string{"/api/install/linux", "/api/releases/1.0.0/linux-amd64"} {
		for _, token := range []string{"", "?token=kanade-enroll-nope", "?token=" + url.QueryEscape("x'$(id)")} {
			if r := s.call(t, auth.RolePublic, "GET", path+token, nil); r.status != http.StatusUnauthorized {
				t.Errorf("GET %s%s without a usable credential: %d %s, want 401", path, token, r.status, r.body)
			}
		}
	}
	if r := s.callToken(t, "not-a-token", "GET", "/api/releases/1.0.0/linux-amd64", nil); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("release download with a bad bearer token: %d %s", r.status, r.body)
	}
	if r := s.call(t, auth.RoleViewer, "GET", "/api/releases/1.0.0/linux-amd64", nil); r.status != http.StatusNotFound {
		t.Errorf("release download as a viewer: %d %s, want 404 (no such release)", r.status, r.body)
	}
	// An unregistered /api path is a 404, not an open door.
	if r := s.call(t, auth.RolePublic, "GET", "/api/no-such-route", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown route: %d", r.status)
	}
	t.Logf("swept %d guarded routes", checked)
}

// A viewer may look but not run: POST /api/exec on a real, runnable job
// is refused with 403 and nothing is dispatched; an operator's succeeds.
func TestViewerCannotExec(t *testing.T) {
	s := startSecured(t, nil)
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/jobs",
		"id: hello\nversion: '1'\nexecute: {shell: sh, script: 'true', timeout: 10s}\n"), http.StatusCreated)
	// No agent exists here: allow_empty keeps the point on the role check.
	plan := map[string]any{"target": map[string]any{"all": true}, "allow_empty": true}
	if r := s.call(t, auth.RoleViewer, "POST", "/api/exec/hello", plan); r.status != http.StatusForbidden {
		t.Fatalf("viewer exec: %d %s, want 403", r.status, r.body)
	}
	var execs []map[string]any
	must(t, s.call(t, auth.RoleViewer, "GET", "/api/executions?job_id=hello", nil), http.StatusOK).json(t, &execs)
	if len(execs) != 0 {
		t.Fatalf("a refused exec left executions: %v", execs)
	}
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/exec/hello", plan), http.StatusOK)
}
