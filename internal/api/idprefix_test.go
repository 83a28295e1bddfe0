package api_test

import (
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// id_prefix= keeps the ids starting with it (the CLI's short ids); a kill
// of an exec_id the backend never saw is 404, not a success that killed
// nothing.
func TestIDPrefixAndUnknownKill(t *testing.T) {
	b := start(t, "", "")
	fleet(t, b, map[string][]string{"pc-one": nil, "pc-two": nil, "other": nil})
	for _, id := range []string{"run-a1", "run-a2", "run-b1"} {
		must(t, call(t, b, "POST", "/api/run", "", apiv1.RunRequest{PCID: "pc-one", Shell: "sh", Script: "true", ExecID: id}), 200)
	}
	var agents []apiv1.Agent
	must(t, call(t, b, "GET", "/api/agents?id_prefix=pc-", "", nil), 200).json(t, &agents)
	if len(agents) != 2 || agents[0].PCID != "pc-one" || agents[1].PCID != "pc-two" {
		t.Fatalf("agents id_prefix=pc-: %+v", agents)
	}
	var execs []apiv1.Execution
	must(t, call(t, b, "GET", "/api/executions?id_prefix=run-a", "", nil), 200).json(t, &execs)
	if len(execs) != 2 {
		t.Fatalf("executions id_prefix=run-a: %+v", execs)
	}
	// Exact, case-sensitive, with LIKE's wildcards taken literally.
	for _, p := range []string{"RUN-A", "run_a", "run-a1x"} {
		must(t, call(t, b, "GET", "/api/executions?id_prefix="+p, "", nil), 200).json(t, &execs)
		if len(execs) != 0 {
			t.Fatalf("executions id_prefix=%s: %+v", p, execs)
		}
	}
	must(t, call(t, b, "GET", "/api/results?id_prefix=a%25", "", nil), 400)
	must(t, call(t, b, "GET", "/api/agents?id_prefix=a.b", "", nil), 400)

	must(t, call(t, b, "POST", "/api/executions/run-a1/kill", "", nil), 200)
	must(t, call(t, b, "POST", "/api/executions/never-seen/kill", "", nil), 404)
}
