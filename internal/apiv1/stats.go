package apiv1

import "context"

// Fleet history for the dashboard's charts (SPEC §17 "Dashboard"). Both are
// derived from tables the projectors rebuild from the streams; neither has
// a table of its own.

// Bounds of GET /api/stats/executions's ?days= and GET
// /api/stats/agents-online's ?hours=.
const (
	DefaultStatsDays  = 14
	MaxStatsDays      = 90
	DefaultStatsHours = 24
	MaxStatsHours     = 168
)

// ExecStatsQuery is GET /api/stats/executions's ?days= (1..MaxStatsDays,
// default DefaultStatsDays).
type ExecStatsQuery struct {
	Days int `query:"days"`
}

// ExecStatsDay is one UTC day of runs (one result per PC per execution),
// counted by the day the result was recorded: OK exited 0, Failed exited
// non-zero (timeouts and kills included), Other is the rest (skipped, or
// still in flight).
type ExecStatsDay struct {
	Day    string `json:"day"` // YYYY-MM-DD, UTC
	OK     int    `json:"ok"`
	Failed int    `json:"failed"`
	Other  int    `json:"other"`
}

// ExecStats is GET /api/stats/executions: one row per day, oldest first, the
// last being today (days without runs have zeros).
type ExecStats struct {
	Days []ExecStatsDay `json:"days"`
}

// AgentsOnlineQuery is GET /api/stats/agents-online's ?hours= (1..MaxStatsHours,
// default DefaultStatsHours).
type AgentsOnlineQuery struct {
	Hours int `query:"hours"`
}

// AgentsOnlinePoint is the fleet at one instant: Known counts the PCs
// first seen by then (of today's agents table: a PC removed since is not
// counted), Online is Known minus the PCs with an agent-offline alert open
// at that instant. An offline alert opens only after the detector's grace
// period, so a PC that just went quiet still counts as online until its
// alert opens: the series is an approximation from rebuildable data, not a
// sampled heartbeat history.
type AgentsOnlinePoint struct {
	At     string `json:"at"` // RFC 3339 UTC
	Known  int    `json:"known"`
	Online int    `json:"online"`
}

// AgentsOnline is GET /api/stats/agents-online: one point per hour, oldest
// first, the last being now.
type AgentsOnline struct {
	Points []AgentsOnlinePoint `json:"points"`
}

// ExecutionStats is GET /api/stats/executions.
func (c *Client) ExecutionStats(ctx context.Context, q ExecStatsQuery) (ExecStats, error) {
	return get[ExecStats](ctx, c, "/api/stats/executions", Query(q))
}

// AgentsOnlineStats is GET /api/stats/agents-online.
func (c *Client) AgentsOnlineStats(ctx context.Context, q AgentsOnlineQuery) (AgentsOnline, error) {
	return get[AgentsOnline](ctx, c, "/api/stats/agents-online", Query(q))
}
