package projector_test

import (
	"bytes"
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
	var buf bytes.Buffer
	e.b.Metrics.Write(&buf)
	for _, want := range []string{
		`kanade_projector_poison_total{stream="RESULTS",reason="request_id"} 1`,
		`kanade_projector_poison_total{stream="RESULTS",reason="exec_id"} 1`,
		`kanade_projector_poison_total{stream="RESULTS",reason="stdout"} 1`,
		`kanade_projector_poison_total{stream="EVENTS",reason="manifest_id"} 1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(buf.String(), "poison"))
		}
	}
}
