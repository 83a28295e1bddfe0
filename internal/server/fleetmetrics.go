package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kanade-fleet/kanade/internal/store"
)

// fleetCounter is what the fleet collector needs from the store.
type fleetCounter interface {
	CountFleet(ctx context.Context, now time.Time) (store.FleetMetricCounts, error)
}

var (
	agentsDesc = prometheus.NewDesc("kanade_agents", "Known agents by OS family and agent version.",
		[]string{"os", "version"}, nil)
	agentsOnlineDesc = prometheus.NewDesc("kanade_agents_online", "Online agents (heartbeat seen recently) by OS family and agent version.",
		[]string{"os", "version"}, nil)
	executionsDesc = prometheus.NewDesc("kanade_executions", "Executions by status.", []string{"status"}, nil)
	alertsOpenDesc = prometheus.NewDesc("kanade_alerts_open", "Open alerts by kind (check, agent-offline) and severity.",
		[]string{"kind", "severity"}, nil)
)

// fleetCollector answers scrapes from counts read at most every ttl, so a
// tight scrape interval on several replicas does not become a query load.
type fleetCollector struct {
	db  fleetCounter
	ttl time.Duration
	log *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last store.FleetMetricCounts
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- agentsOnlineDesc
	ch <- executionsDesc
	ch <- alertsOpenDesc
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fc, err := c.db.CountFleet(ctx, time.Now())
		cancel()
		if err != nil {
			c.log.Warn("fleet metrics: cannot count", "error", err)
		} else {
			c.last, c.at = fc, time.Now()
		}
	}
	fc := c.last
	c.mu.Unlock()
	type key struct{ os, ver string }
	online := map[key]int{}
	for _, a := range fc.Agents {
		online[key{a.A, a.B}] += a.N
	}
	for _, o := range fc.Offline {
		online[key{o.A, o.B}] -= o.N
	}
	for _, a := range fc.Agents {
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(a.N), a.A, a.B)
		ch <- prometheus.MustNewConstMetric(agentsOnlineDesc, prometheus.GaugeValue, float64(online[key{a.A, a.B}]), a.A, a.B)
	}
	for _, e := range fc.Executions {
		ch <- prometheus.MustNewConstMetric(executionsDesc, prometheus.GaugeValue, float64(e.N), e.A)
	}
	for _, a := range fc.OpenAlerts {
		ch <- prometheus.MustNewConstMetric(alertsOpenDesc, prometheus.GaugeValue, float64(a.N), a.A, a.B)
	}
}
