package projector_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The executions projector builds rows from EXECS alone, counts results
// projected before the row, applies a redelivered message once, and drops
// (acknowledged, counted) what does not decode or names another exec_id
// than its subject.
func TestExecsProjector(t *testing.T) {
	e := start(t)
	e.result(result("r1", "ex1", "pc1", 0))
	e.result(result("r2", "ex1", "pc2", 1))
	e.waitCount(2, "SELECT COUNT(*) FROM execution_results")
	req := wire.ExecRequested{Kind: wire.ExecRequestedKind, ExecID: "ex1", JobID: "inv-hw", Version: "1.0.0", InitiatedBy: "alice",
		InitiatedAt: time.Now().UTC(), TargetCount: 3, PendingWaves: 1, Plan: json.RawMessage(`{"rollout":{"waves":[{"group":"a"},{"group":"b","delay":"1m"}]}}`)}
	wave := wire.ExecRequested{Kind: wire.ExecWaveSentKind, ExecID: "ex1", JobID: "inv-hw", Wave: 1, TargetsAdded: 2}
	for _, m := range []wire.ExecRequested{req, req, wave, wave} { // redeliveries
		e.publish(bus.ExecRequested("ex1"), m)
	}
	e.publish(bus.ExecRequested("ex1"), []byte(`{"kind":"requested","exec_id":"ex1"`))
	other := req
	other.ExecID = "ex2"
	e.publish(bus.ExecRequested("ex1"), other) // another execution's subject
	bad := req
	bad.ExecID, bad.JobID = "ex3", "a.b"
	e.publish(bus.ExecRequested("ex3"), bad)
	e.waitProjected()
	x := e.execRow("ex1")
	if x.TargetCount != 5 || x.SuccessCount != 1 || x.FailureCount != 1 || x.PendingWaves != 0 || x.SubjectsSent != 1 || x.Status != "running" {
		t.Fatalf("row: %+v", x)
	}
	if n := e.count("SELECT COUNT(*) FROM executions"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	for _, want := range []struct {
		name string
		kv   []string
		n    float64
	}{
		{"kanade_projector_poison_total", []string{"stream", "EXECS", "reason", "malformed"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "EXECS", "reason", "exec_id"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "EXECS", "reason", "job_id"}, 1},
	} {
		if v, ok := e.b.Metrics.Value(want.name, want.kv...); v != want.n {
			t.Errorf("metric %s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.n)
		}
	}
}
