package store

import (
	"context"
	"fmt"
	"time"
)

// FleetCount is one (a, b) group of a fleet count: (os_family,
// agent_version) for agents, (status, "") for executions.
type FleetCount struct {
	A, B string
	N    int
}

// FleetMetricCounts is what /metrics reports about the fleet: agents by OS and
// version (all, and the online share), executions by status and open alerts
// by kind and severity.
type FleetMetricCounts struct {
	Agents, Offline, Executions, OpenAlerts []FleetCount
}

// CountFleet reads the fleet's counts for /metrics. The agents table is
// walked once (a few thousand to 100 000 rows); the offline PCs come from a
// range of agents_last_heartbeat and executions from index
// executions_status. Callers cache the answer between scrapes.
func (db *DB) CountFleet(ctx context.Context, now time.Time) (FleetMetricCounts, error) {
	var fc FleetMetricCounts
	collect := func(dst *[]FleetCount) func(a, b string, n int) {
		return func(a, b string, n int) { *dst = append(*dst, FleetCount{a, b, n}) }
	}
	if err := db.scanCounts(ctx, `SELECT os_family, agent_version, COUNT(*) FROM agents GROUP BY os_family, agent_version`, nil,
		collect(&fc.Agents)); err != nil {
		return fc, fmt.Errorf("count agents: %w", err)
	}
	if err := db.scanCounts(ctx, `SELECT os_family, agent_version, 1 FROM agents WHERE last_heartbeat < ?`,
		[]any{TS(now.Add(-OnlineWindow))}, collect(&fc.Offline)); err != nil {
		return fc, fmt.Errorf("count offline agents: %w", err)
	}
	if err := db.scanCounts(ctx, `SELECT status, '', COUNT(*) FROM executions GROUP BY status`, nil,
		collect(&fc.Executions)); err != nil {
		return fc, fmt.Errorf("count executions: %w", err)
	}
	// Open alerts only (the partial index alerts_open_opened): a handful,
	// or one per PC during an incident.
	if err := db.scanCounts(ctx, `SELECT kind, severity, COUNT(*) FROM alerts WHERE resolved_at IS NULL GROUP BY kind, severity`, nil,
		collect(&fc.OpenAlerts)); err != nil {
		return fc, fmt.Errorf("count open alerts: %w", err)
	}
	return fc, nil
}
