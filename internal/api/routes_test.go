package api_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/api"
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
