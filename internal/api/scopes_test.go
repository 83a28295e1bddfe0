package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/api"
)

// scopesGolden pins what every /api route does for a caller scoped to PC
// groups (SPEC §16; docs/security.md "Scopes"): refused (403), pc (its
// {pc_id} must be in scope), filtered (the handler narrows to the scope)
// or neutral. A route without a declaration fails here, and is refused to
// scoped callers at run time (fail closed). The route sweep
// (internal/server/sweep_test.go) proves the refusals on a running backend.
const scopesGolden = "testdata/scopes.golden"

func TestRouteTableScopesGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# METHOD PATH SCOPE-RULE: what a group-scoped caller gets (reviewed; see scopes.go).\n")
	for _, rt := range api.Table() {
		rule := api.RouteScope(rt.Pattern)
		if rule == "undeclared" {
			t.Errorf("route %s has no scope rule: declare it in routeScopes (internal/api/scopes.go)", rt.Pattern)
		}
		method, path, _ := strings.Cut(rt.Pattern, " ")
		b.WriteString(method + " " + path + " " + rule + "\n")
	}
	routes := map[string]bool{}
	for _, rt := range api.Table() {
		routes[rt.Pattern] = true
	}
	for _, p := range api.ScopedPatterns() {
		if !routes[p] {
			t.Errorf("routeScopes declares %s, which is not a route", p)
		}
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(filepath.FromSlash(scopesGolden), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(filepath.FromSlash(scopesGolden))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("the route scopes differ from %s (review, then run with -update)\n--- want\n%s--- got\n%s", scopesGolden, want, got)
	}
}
