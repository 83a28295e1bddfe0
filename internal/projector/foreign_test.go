package projector_test

import (
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// A result or started event whose payload pc_id is not its subject's pc
// (a PC speaking for another: results.A.x carrying pc B) is dropped and
// counted, never projected, through the real JetStream consumers; the
// honest messages around it are projected.
func TestForeignPCDropped(t *testing.T) {
	e := start(t)
	e.execution("e1", 2, "pending")
	forged := result("forged", "e1", "pc-b", 0)
	e.publish(bus.ResultFrom("pc-a", forged.RequestID), forged)
	e.publish("results.pc-b", result("short", "e1", "pc-b", 0)) // no pc token at all
	fs := started("forged-s", "e1", "pc-b", "inv-hw")
	e.publish(bus.EventStarted("e1", "pc-a"), fs)
	e.result(result("honest", "e1", "pc-a", 0))
	e.started(started("honest-s", "e1", "pc-b", "inv-hw"))
	e.waitProjected()

	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id IN ('forged', 'short', 'forged-s')"); n != 0 {
		t.Fatalf("%d foreign rows projected", n)
	}
	if n := e.count("SELECT COUNT(*) FROM execution_results WHERE result_id IN ('honest', 'honest-s')"); n != 2 {
		t.Fatalf("honest rows = %d, want 2", n)
	}
	if x := e.execRow("e1"); x.SuccessCount != 1 {
		t.Fatalf("a forged result was counted: %+v", x)
	}
	for _, want := range []struct {
		name string
		kv   []string
		n    float64
	}{
		{"kanade_projector_foreign_pc_total", []string{"stream", "RESULTS"}, 2},
		{"kanade_projector_foreign_pc_total", []string{"stream", "EVENTS"}, 1},
	} {
		if v, ok := e.b.Metrics.Value(want.name, want.kv...); v != want.n {
			t.Errorf("metric %s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.n)
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
