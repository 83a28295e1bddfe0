package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// An exec whose target reaches no known PC is refused with 422 naming the
// target and the group or pc nobody is (SPEC §17), unless allow_empty.
func TestZeroTargetExecRefused(t *testing.T) {
	b := start(t, "", "")
	must(t, call(t, b, "POST", "/api/jobs", "application/yaml", fmt.Sprintf(jobYAML, "hello", "1.0.0", "echo hi")), 201)
	refused := func(plan string, names ...string) {
		t.Helper()
		r := must(t, call(t, b, "POST", "/api/exec/hello", "", plan), 422)
		if f := r.field(t); f != "target" {
			t.Fatalf("%s: field %q, want target: %s", plan, f, r.body)
		}
		for _, n := range names {
			if !strings.Contains(string(r.body), n) {
				t.Fatalf("%s: the error does not name %q: %s", plan, n, r.body)
			}
		}
	}
	refused(`{"target": {"all": true}}`, "no PC is known")

	fleet(t, b, map[string][]string{"pc-a": {"canary"}})
	refused(`{"target": {"groups": ["nobody"]}}`, "nobody")
	refused(`{"target": {"groups": ["nobody", "typo"]}}`, "nobody", "typo")
	refused(`{"target": {"pcs": ["ghost"]}}`, "ghost")
	refused(`{"target": {"groups": ["nobody"], "pcs": ["ghost"]}}`, "nobody", "ghost")
	refused(`{"rollout": {"waves": [{"group": "nobody"}, {"group": "later", "delay": "1h"}]}}`, "nobody", "later")
	refused("target:\n  groups: [nobody]\nallow_empty: false\n", "nobody")

	var r apiv1.ExecResponse
	for _, ok := range []string{
		`{"target": {"all": true}}`,
		`{"target": {"groups": ["canary", "typo"]}}`, // one group reaches a PC
		`{"target": {"pcs": ["pc-a", "ghost"]}}`,
		`{"rollout": {"waves": [{"group": "nobody"}, {"group": "canary", "delay": "1h"}]}}`,
		`{"target": {"groups": ["nobody"]}, "allow_empty": true}`,
	} {
		must(t, call(t, b, "POST", "/api/exec/hello", "", ok), 200).json(t, &r)
		if r.ExecID == "" {
			t.Fatalf("%s: no exec_id", ok)
		}
	}
	must(t, call(t, b, "POST", "/api/exec/hello", "", `{"target": {"all": true}, "allow_empty": "yes"}`), 422)
}
