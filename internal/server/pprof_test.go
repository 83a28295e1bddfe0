package server_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
)

// Profiles are off unless --pprof, and then for admins only: a viewer or
// an operator cannot read goroutine stacks or start a CPU profile.
func TestPprofIsOffByDefaultAndAdminOnly(t *testing.T) {
	t.Parallel()
	off := startSecured(t, nil)
	r := off.call(t, auth.RoleAdmin, "GET", "/api/debug/pprof/heap", nil)
	if r.status != http.StatusNotFound || !bytes.Contains(r.body, []byte("--pprof")) {
		t.Fatalf("pprof off: %d %s, want 404 naming --pprof", r.status, r.body)
	}

	on := startSecured(t, func(c *server.Config) { c.Pprof = true })
	for _, role := range []auth.Role{auth.RolePublic, auth.RoleViewer, auth.RoleOperator} {
		for _, path := range []string{"/api/debug/pprof/", "/api/debug/pprof/heap", "/api/debug/pprof/profile?seconds=1"} {
			if r := on.call(t, role, "GET", path, nil); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
				t.Fatalf("%s GET %s: %d, want 401/403", role, path, r.status)
			}
		}
	}
	heap := must(t, on.call(t, auth.RoleAdmin, "GET", "/api/debug/pprof/heap", nil), http.StatusOK)
	if !bytes.HasPrefix(heap.body, []byte{0x1f, 0x8b}) { // a gzipped profile.proto
		t.Fatalf("heap profile is not a gzipped protobuf: % x", heap.body[:min(8, len(heap.body))])
	}
	index := must(t, on.call(t, auth.RoleAdmin, "GET", "/api/debug/pprof/", nil), http.StatusOK)
	if !bytes.Contains(index.body, []byte("goroutine")) {
		t.Fatalf("index lists no profiles: %.300s", index.body)
	}
	g := must(t, on.call(t, auth.RoleAdmin, "GET", "/api/debug/pprof/goroutine?debug=1", nil), http.StatusOK)
	if !bytes.Contains(g.body, []byte("goroutine profile:")) {
		t.Fatalf("goroutine dump: %.300s", g.body)
	}
}
