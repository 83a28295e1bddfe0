package projector_test

import (
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// Results and started events whose ids break SPEC §2 or whose fields are
// over their limits are acknowledged, never stored, and counted by reason.
func TestStrictDecodersDropAndCount(t *testing.T) {
	e := start(t)
	e.execution("e1", 4, "pending")
	dotted := result("dotted", "e1", "pc1", 0)
	dotted.RequestID = "a.b"
	e.publish(bus.ResultFrom("pc1", "x"), dotted)
	nul := result("nul", "e1", "pc1", 0)
	nul.ExecID = "e\x001"
	e.publish(bus.ResultFrom("pc1", nul.RequestID), nul)
	huge := result("huge", "e1", "pc1", 0)
	huge.Stdout = strings.Repeat("x", 300<<10)
	e.publish(bus.ResultFrom("pc1", huge.RequestID), huge)
	star := started("star", "e1", "pc1", "j*")
	e.started(star)
	e.result(result("good", "e1", "pc2", 0))
	e.waitProjected()

	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id IN ('dotted', 'nul', 'huge', 'star')"); n != 0 {
		t.Fatalf("%d rows with forbidden fields stored", n)
	}
	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id = 'good'"); n != 1 {
		t.Fatalf("good row missing")
	}
	if x := e.execRow("e1"); x.SuccessCount != 1 {
		t.Fatalf("a refused result was counted: %+v", x)
	}
	for _, want := range []struct {
		name string
		kv   []string
		n    float64
	}{
		{"kanade_projector_poison_total", []string{"stream", "RESULTS", "reason", "request_id"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "RESULTS", "reason", "exec_id"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "RESULTS", "reason", "stdout"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "EVENTS", "reason", "manifest_id"}, 1},
	} {
		if v, ok := e.b.Metrics.Value(want.name, want.kv...); v != want.n {
			t.Errorf("metric %s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.n)
		}
	}
}
