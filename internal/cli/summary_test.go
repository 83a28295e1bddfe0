package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// fleetYAML: of pc-00..pc-19, 15 print "ok" (some with CRLF or trailing
// blanks, which the summary's normalisation ignores), pc-15..17 fail with
// exit 2 and pc-18..19 with exit 3, each with its own stderr.
const fleetYAML = `id: fleet-check
version: "1"
execute:
  shell: sh
  script: |
    n=${KANADE_PC_ID#pc-}
    case $n in
      15|16|17) echo "checking disk"; echo "error: disk full on $KANADE_PC_ID" >&2; exit 2 ;;
      18|19) echo "error: no such file /etc/fleet.conf" >&2; exit 3 ;;
      0[0-4]) printf 'ok\r\n' ;;
      0[5-9]) printf 'ok  \n\n' ;;
      *) echo ok ;;
    esac
  timeout: 30s
`

// TestExecSummaryFleet (SPEC §17, issue 20): 20 real agents, 15 print ok
// and 5 fail two different ways → `exec --wait` ends with 3 groups with
// the right counts and samples (golden), `--watch` on a non-terminal
// prints plain progress lines and then only the summary, on a terminal it
// redraws a bar in place, and the API's groups say the same.
func TestExecSummaryFleet(t *testing.T) {
	needSh(t)
	e := newEnv(t, withOrchestration)
	e.needRoute("GET", "/api/executions/{exec_id}/summary")
	for i := range 20 {
		e.startAgent(fmt.Sprintf("pc-%02d", i))
	}
	e.ok("job", "apply", writeFiles(t, map[string]string{"fleet.yaml": fleetYAML}))

	r := e.cli("exec", "fleet-check", "--all", "--wait", "--wait-timeout", "60s")
	if r.code != 1 || !strings.Contains(r.err, "5 of 20 targets failed") {
		t.Fatalf("exec --wait: %+v", r)
	}
	out := fromResults(t, r.out)
	i := strings.Index(out, "\nsummary: ")
	if i < 0 {
		t.Fatalf("exec --wait does not end with the summary:\n%s", r.out)
	}
	golden(t, "exec_wait_summary", out[i+1:])

	r = e.cli("exec", "fleet-check", "--all", "--watch", "--wait-timeout", "60s")
	if r.code != 1 || strings.Contains(r.out, "\033") || strings.Contains(r.out, "\r") || strings.Contains(r.out, "RESULT_ID") {
		t.Fatalf("exec --watch on a non-terminal: %+v", r)
	}
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	final := "[" + strings.Repeat("#", 22) + strings.Repeat("x", 8) + "] 20/20  ok 15  failed 5  skipped 0  pending 0  [completed]"
	if !strings.HasPrefix(lines[0], "exec_id ") || !strings.HasPrefix(lines[1], "[") || !strings.Contains(r.out, final+"\n\nsummary: 20 results in 3 groups\n") {
		t.Fatalf("exec --watch lines:\n%s", r.out)
	}
	if got := lastBlock(r.out); got != out[i+1:] {
		t.Errorf("exec --watch summary:\n%s\nwant:\n%s", got, out[i+1:])
	}

	e.tty = true
	r = e.cli("exec", "fleet-check", "--pc", "pc-03", "--watch", "--wait-timeout", "60s")
	e.tty = false
	if r.code != 0 || !strings.Contains(r.out, "\r\033[K["+strings.Repeat("#", 30)+"] 1/1  ok 1") {
		t.Fatalf("exec --watch on a terminal: %+v", r)
	}

	var execs []apiv1.Execution
	e.jsonOK(&execs, "executions", "list", "--job", "fleet-check", "--limit", "3")
	var groups []apiv1.ResultGroup
	e.jsonOK(&groups, "executions", "summary", execs[2].ExecID)
	if len(groups) != 3 {
		t.Fatalf("summary groups: %+v", groups)
	}
	for n, w := range []struct {
		status apiv1.ResultStatus
		code   int
		count  int
		first  string
		stdout string
		stderr string
	}{
		{apiv1.ResultSuccess, 0, 15, "pc-00", "ok\r\n", ""},
		{apiv1.ResultFailure, 2, 3, "pc-15", "checking disk\n", "error: disk full on pc-15\n"},
		{apiv1.ResultFailure, 3, 2, "pc-18", "", "error: no such file /etc/fleet.conf\n"},
	} {
		g := groups[n]
		if g.Status != w.status || g.ExitCode != w.code || g.Count != w.count || len(g.PCs) != w.count || g.PCs[0] != w.first ||
			g.SampleStdout != w.stdout || g.SampleStderr != w.stderr {
			t.Errorf("group %d: %+v, want %+v", n, g, w)
		}
	}
	// --limit keeps the largest groups and says there are more.
	if s := e.ok("executions", "summary", execs[2].ExecID, "--limit", "1"); !strings.Contains(s, "[15] success") ||
		strings.Contains(s, "[3]") || !strings.Contains(s, "more groups: kanade executions summary "+execs[2].ExecID) {
		t.Errorf("summary --limit 1:\n%s", s)
	}
}
