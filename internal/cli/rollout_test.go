package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// kanade executions pause|resume|cancel: each acts once, then a second
// call (and an unknown id) exits non-zero with a clear message.
func TestExecutionsRolloutControl(t *testing.T) {
	e := newEnv(t, nil)
	job := filepath.Join(t.TempDir(), "j.yaml")
	if err := os.WriteFile(job, []byte("id: j\nversion: \"1\"\nexecute: {shell: sh, script: \"true\", timeout: 30s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startAgent("pc-a")
	e.ok("job", "apply", job)
	var er apiv1.ExecResponse
	e.jsonOK(&er, "exec", "j", "--all", "--wave", "percent=50,delay=1h", "--wave", "rest,delay=2h",
		"--halt-on", "failures=1", "-o", "json")
	if out := e.ok("executions", "pause", er.ExecID); !strings.Contains(out, "paused 2 pending waves; rollout paused") {
		t.Fatalf("pause: %s", out)
	}
	if r := e.cli("executions", "pause", er.ExecID); r.code == 0 || !strings.Contains(r.err, "already paused") {
		t.Fatalf("second pause: exit %d %s", r.code, r.err)
	}
	if out := e.ok("executions", "show", er.ExecID); !strings.Contains(out, "paused, 2 waves pending") {
		t.Fatalf("show: %s", out)
	}
	e.ok("executions", "resume", er.ExecID)
	e.ok("executions", "cancel", er.ExecID)
	if r := e.cli("executions", "cancel", er.ExecID); r.code == 0 || !strings.Contains(r.err, "no pending wave") {
		t.Fatalf("second cancel: exit %d %s", r.code, r.err)
	}
	if r := e.cli("executions", "resume", "no-such-exec"); r.code != 1 || !strings.Contains(r.err, "no execution no-such-exec") {
		t.Fatalf("unknown id: exit %d %s", r.code, r.err)
	}
}
