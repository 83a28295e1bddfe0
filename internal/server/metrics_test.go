package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestMetricsScrape scrapes /metrics as Prometheus would and parses it with
// Prometheus's own text parser: the runtime, process, HTTP, projector and
// fleet families are there with the right values.
func TestMetricsScrape(t *testing.T) {
	b := testenv.Backend(t, nil)
	now := time.Now().UTC()
	hb := func(pc, os, ver string, at time.Time) store.Heartbeat {
		return store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: pc, Hostname: pc, OSFamily: os, AgentVersion: ver, At: at}, ReceivedAt: at}
	}
	if err := b.DB.UpsertHeartbeats(context.Background(), []store.Heartbeat{
		hb("pc-1", "linux", "1.4.0", now), hb("pc-2", "linux", "1.4.0", now.Add(-time.Hour)), hb("pc-3", "windows", "1.3.0", now),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DB.ApplyAlertEvents(context.Background(), []wire.AlertEvent{{Kind: wire.AlertOfflineOpened,
		AlertID: store.OfflineAlertID("pc-2", now.Add(-time.Hour)), PCID: "pc-2", At: now}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(b.HTTPURL() + "/api/version"); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get(b.HTTPURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, fam := range []string{"go_goroutines", "go_gc_duration_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"kanade_http_request_seconds", "kanade_agents", "kanade_agents_online", "kanade_sse_clients", "kanade_metrics_misuse_total", "kanade_alerts_open"} {
		if mfs[fam] == nil {
			t.Errorf("family %s missing", fam)
		}
	}
	gauge := func(fam string, labels map[string]string) float64 {
		t.Helper()
	next:
		for _, m := range mfs[fam].GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("%s%v: no series", fam, labels)
		return 0
	}
	if n := gauge("kanade_agents", map[string]string{"os": "linux", "version": "1.4.0"}); n != 2 {
		t.Errorf("linux 1.4.0 agents = %v, want 2", n)
	}
	if n := gauge("kanade_agents_online", map[string]string{"os": "linux", "version": "1.4.0"}); n != 1 {
		t.Errorf("linux 1.4.0 online = %v, want 1", n)
	}
	if n := gauge("kanade_agents_online", map[string]string{"os": "windows", "version": "1.3.0"}); n != 1 {
		t.Errorf("windows online = %v, want 1", n)
	}
	if n := gauge("kanade_alerts_open", map[string]string{"kind": "agent-offline", "severity": "warning"}); n != 1 {
		t.Errorf("open offline alerts = %v, want 1", n)
	}
	var route *dto.Metric
	for _, m := range mfs["kanade_http_request_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && l.GetValue() == "GET /api/version" {
				route = m
			}
		}
	}
	if route == nil || route.GetHistogram().GetSampleCount() < 1 {
		t.Errorf("no HTTP latency for GET /api/version: %v", route)
	}
}
