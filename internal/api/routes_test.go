package api_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/apiv1"
)

var update = flag.Bool("update", false, "rewrite testdata/routes.golden from the route table")

// routesGolden is the reviewed list of every /api route and the role it
// must require. The route sweep (internal/server/sweep_test.go) proves these
// roles on a running backend; this test keeps routes.go and the golden
// file in step, so a changed role is a visible diff of the golden file.
const routesGolden = "testdata/routes.golden"

func TestRouteTableMatchesGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# METHOD PATH MINIMUM-ROLE: every /api route (reviewed; see routes.go).\n")
	for _, rt := range api.Table() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		b.WriteString(method + " " + path + " " + rt.Min.String() + "\n")
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(filepath.FromSlash(routesGolden), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(filepath.FromSlash(routesGolden))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("the route table differs from %s (a route or a role changed: review, then run with -update)\n--- want\n%s--- got\n%s",
			routesGolden, want, got)
	}
}

// notInContract are the /api routes apiv1.Endpoints leaves out, and why.
// (GET /health and GET /metrics are not /api routes: not in the table.)
var notInContract = map[string]string{
	"GET /api/events":                "server-sent events, not JSON: the dashboard reads it with an EventSource",
	"PUT /api/accounts/{username}":   "the same handler as PATCH; the contract lists the route once, as PATCH",
	"GET /api/debug/pprof/{name...}": "Go runtime profiles for go tool pprof (--pprof), not JSON",
}

// TestRouteTableMatchesContract keeps the route table and the contract's
// endpoint table in step: every route has exactly one endpoint with the
// same method and path (but for notInContract), and every endpoint is a
// route, so a route cannot be added without its client and TS function,
// nor an endpoint without a handler.
func TestRouteTableMatchesContract(t *testing.T) {
	t.Parallel()
	routes := map[string]bool{}
	for _, rt := range api.Table() {
		routes[rt.Pattern] = true
	}
	endpoints := map[string]int{}
	for _, e := range apiv1.Endpoints {
		p := e.Method + " " + e.Path
		endpoints[p]++
		switch {
		case endpoints[p] == 2:
			t.Errorf("%s is listed more than once in apiv1.Endpoints", p)
		case !routes[p]:
			t.Errorf("apiv1.Endpoints has %s (%s) but the route table does not", p, e.Name)
		case notInContract[p] != "":
			t.Errorf("%s is in apiv1.Endpoints and in notInContract: drop one", p)
		}
	}
	for p := range routes {
		if endpoints[p] == 0 && notInContract[p] == "" {
			t.Errorf("route %s has no endpoint in apiv1.Endpoints (add one, or list it in notInContract with the reason)", p)
		}
	}
	for p := range notInContract {
		if !routes[p] {
			t.Errorf("notInContract lists %s, which is not a route", p)
		}
	}
}
