package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestChecksAndAlerts: kanade checks, checks status, alerts and alerts ack
// over check results projected by the store.
func TestChecksAndAlerts(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	var rs []store.Result
	for pc, v := range []check.Verdict{check.Pass, check.Pass, check.Fail} {
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("res-%d", pc), RequestID: "q", ExecID: "e1",
			PCID: fmt.Sprintf("pc-%d", pc+1), ManifestID: "disk-usage", Version: "1", StartedAt: now, FinishedAt: now},
			RecordedAt: now, Check: &store.CheckEval{Verdict: v, Severity: "critical", FlapThreshold: 1}})
	}
	if _, err := e.b.DB.ApplyResults(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	golden(t, "checks_list", normalize(e.ok("checks")))
	golden(t, "checks_status_failing", normalize(e.ok("checks", "status", "--check", "disk-usage", "--state", "failing")))
	golden(t, "alerts_open", normalize(e.ok("alerts", "--state", "open")))
	if out := e.ok("checks", "status", "-o", "csv"); !strings.HasPrefix(out, "check_id,pc_id,state,") || strings.Count(out, "\n") != 4 {
		t.Fatalf("checks status -o csv:\n%s", out)
	}
	golden(t, "alerts_ack", normalize(e.ok("alerts", "ack", "chk-res-2")))
	var al apiv1.Alert
	if err := json.Unmarshal([]byte(e.ok("alerts", "ack", "chk-res-2", "-o", "json")), &al); err != nil || al.AckedBy == nil || al.State != "open" {
		t.Fatalf("ack again -o json: %v %+v", err, al)
	}
	if r := e.cli("alerts", "ack", "nope"); r.code == 0 || !strings.Contains(r.err, "no such alert") {
		t.Fatalf("ack of an unknown alert: %d %s", r.code, r.err)
	}
	if r := e.cli("checks", "status", "--state", "broken"); r.code == 0 {
		t.Fatalf("bad --state accepted")
	}
}
