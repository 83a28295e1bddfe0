package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse reads an exposition with Prometheus's own text parser, as a
// scraper would.
func Parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return mfs
}

func TestExposition(t *testing.T) {
	r := New()
	r.Add("kanade_projected_total", "msgs", 3, "stream", "RESULTS")
	r.Add("kanade_projected_total", "msgs", 2, "stream", "RESULTS")
	r.Set("kanade_lag", "lag", 7, "consumer", "c")
	r.Observe("kanade_batch", "sizes", []float64{1, 10}, 5, "stream", "EVENTS")
	r.GaugeFunc("kanade_up", "up", func() float64 { return 1 })
	// Misuse (other labels, another type) is dropped and counted, not a panic.
	r.Add("kanade_projected_total", "msgs", 1, "other", "x")
	r.Set("kanade_projected_total", "clash", 1)

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got := mfs["kanade_projected_total"].GetMetric()[0].GetCounter().GetValue(); got != 5 {
		t.Errorf("counter = %v, want 5", got)
	}
	if got := mfs["kanade_lag"].GetMetric()[0].GetGauge().GetValue(); got != 7 {
		t.Errorf("gauge = %v", got)
	}
	h := mfs["kanade_batch"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 1 || h.GetBucket()[0].GetCumulativeCount() != 0 || h.GetBucket()[1].GetCumulativeCount() != 1 {
		t.Errorf("histogram = %v", h)
	}
	if mfs["kanade_up"].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Error("gauge func")
	}
	if got := mfs["kanade_metrics_misuse_total"].GetMetric()[0].GetCounter().GetValue(); got != 2 {
		t.Errorf("misuse = %v, want 2", got)
	}
	for _, fam := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if mfs[fam] == nil {
			t.Errorf("runtime/process family %s missing", fam)
		}
	}
	var b strings.Builder
	r.Write(&b)
	if Parse(t, b.String())["kanade_lag"] == nil {
		t.Error("Write: kanade_lag missing")
	}
}
