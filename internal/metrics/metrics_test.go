package metrics

import (
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := New()
	r.Add("kanade_projected_total", "msgs", 3, "stream", "RESULTS")
	r.Add("kanade_projected_total", "msgs", 2, "stream", "RESULTS")
	r.Set("kanade_lag", "lag", 7, "consumer", "c")
	r.Observe("kanade_batch", "sizes", []float64{1, 10}, 5, "stream", "EVENTS")
	r.GaugeFunc("kanade_up", "up", func() float64 { return 1 })
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		`kanade_projected_total{stream="RESULTS"} 5`,
		`kanade_lag{consumer="c"} 7`,
		`kanade_batch_bucket{stream="EVENTS",le="1"} 0`,
		`kanade_batch_bucket{stream="EVENTS",le="10"} 1`,
		`kanade_batch_count{stream="EVENTS"} 1`,
		`kanade_up 1`,
		"# TYPE kanade_batch histogram",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
