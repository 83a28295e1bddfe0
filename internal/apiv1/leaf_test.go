package apiv1

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestLeaf keeps apiv1 a leaf: the contract must not depend on server (or
// any other) code of this module, so everything can depend on it.
func TestLeaf(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/kanade-fleet/kanade/internal/apiv1"
	for _, dep := range strings.Fields(string(out)) {
		if dep != self {
			t.Errorf("apiv1 imports %s; it may import only the standard library", dep)
		}
	}
}

// TestClientCoversEndpoints: every endpoint of the table has a Client
// method of that name, taking one string per path parameter (then the
// query and the body, if any).
func TestClientCoversEndpoints(t *testing.T) {
	t.Parallel()
	ct := reflect.TypeOf(&Client{})
	seen := map[string]bool{}
	for _, e := range Endpoints {
		if seen[e.Method+" "+e.Path] {
			t.Errorf("%s %s listed twice", e.Method, e.Path)
		}
		seen[e.Method+" "+e.Path] = true
		m, ok := ct.MethodByName(e.Name)
		if !ok {
			t.Errorf("endpoint %s (%s %s) has no Client method", e.Name, e.Method, e.Path)
			continue
		}
		want := 2 + strings.Count(e.Path, "{") // receiver, ctx, path params
		if e.Query != nil {
			want++
		}
		if e.Body != nil {
			want++
		}
		if m.Type.NumIn() != want {
			t.Errorf("Client.%s takes %d arguments, want %d for %s %s", e.Name, m.Type.NumIn()-1, want-1, e.Method, e.Path)
		}
	}
}
