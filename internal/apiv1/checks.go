package apiv1

import (
	"context"
	"net/http"
	"time"
)

// Compliance checks and alerts (SPEC §15).

// Check states of a (check, PC).
const (
	CheckPassing = "passing"
	CheckFailing = "failing"
	CheckUnknown = "unknown"
)

// Alert kinds and the states of the alerts filter.
const (
	AlertKindCheck   = "check"
	AlertKindOffline = "agent-offline"
	AlertOpen        = "open"
	AlertResolved    = "resolved"
)

// CheckSummary is one row of GET /api/checks: a check job that has reported,
// with how many PCs pass, fail or have no verdict yet.
type CheckSummary struct {
	ID            string `json:"id"`
	Severity      string `json:"severity"`
	FlapThreshold int    `json:"flap_threshold"`
	Passing       int    `json:"passing"`
	Failing       int    `json:"failing"`
	Unknown       int    `json:"unknown"`
	// CompliancePct is 100 × passing / (passing + failing + unknown),
	// rounded to one decimal.
	CompliancePct float64 `json:"compliance_pct"`
}

// CheckStatus is one row of GET /api/check-status: a check on one PC.
type CheckStatus struct {
	CheckID      string    `json:"check_id"`
	PCID         string    `json:"pc_id"`
	State        string    `json:"state"` // passing | failing | unknown
	Since        time.Time `json:"since"`
	LastResultID string    `json:"last_result_id"`
	LastAt       time.Time `json:"last_at"`
	// Consecutive counts the failures since the last pass.
	Consecutive int `json:"consecutive"`
}

// CheckStatusQuery filters GET /api/check-status.
type CheckStatusQuery struct {
	CheckID string `query:"check_id"`
	PCID    string `query:"pc_id"`
	State   string `query:"state"` // passing | failing | unknown
	Page
}

// Alert is one row of GET /api/alerts.
type Alert struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`     // check | agent-offline
	CheckID    string     `json:"check_id"` // "" for agent-offline
	PCID       string     `json:"pc_id"`
	Severity   string     `json:"severity"`
	State      string     `json:"state"` // open | resolved
	OpenedAt   time.Time  `json:"opened_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	AckedBy    *string    `json:"acked_by"`
	AckedAt    *time.Time `json:"acked_at"`
}

// AlertQuery filters GET /api/alerts.
type AlertQuery struct {
	State   string `query:"state"` // open | resolved
	Kind    string `query:"kind"`  // check | agent-offline
	CheckID string `query:"check_id"`
	PCID    string `query:"pc_id"`
	Page
}

// ListChecks is GET /api/checks.
func (c *Client) ListChecks(ctx context.Context, p Page) (List[CheckSummary], error) {
	return list[CheckSummary](ctx, c, "/api/checks", p)
}

// ListCheckStatus is GET /api/check-status.
func (c *Client) ListCheckStatus(ctx context.Context, q CheckStatusQuery) (List[CheckStatus], error) {
	return list[CheckStatus](ctx, c, "/api/check-status", q)
}

// ListAlerts is GET /api/alerts.
func (c *Client) ListAlerts(ctx context.Context, q AlertQuery) (List[Alert], error) {
	return list[Alert](ctx, c, "/api/alerts", q)
}

// AckAlert is POST /api/alerts/{id}/ack.
func (c *Client) AckAlert(ctx context.Context, id string) (Alert, error) {
	return send[Alert](ctx, c, http.MethodPost, "/api/alerts/"+esc(id)+"/ack", nil)
}

// Bounds of GET /api/checks/{id}/trend's ?days=.
const (
	DefaultTrendDays = 30
	MaxTrendDays     = 365
)

// CheckTrendQuery is GET /api/checks/{id}/trend's ?days= (1..MaxTrendDays,
// default DefaultTrendDays).
type CheckTrendQuery struct {
	Days int `query:"days"`
}

// CheckTrendDay is one day (UTC) of a check's trend, as at the end of the
// day (today: now). Failing counts the PCs with the check's alert open then
// (an alert is open exactly while its PC fails the check); Unknown is
// today's count (a PC has no verdict only before its first); the rest of
// today's PCs count as passing. The PC set is today's, so today's row
// equals GET /api/checks. A day that ended before the check first reported
// has all counts 0 (no data, not 0 %).
type CheckTrendDay struct {
	Day     string `json:"day"` // YYYY-MM-DD, UTC
	Passing int    `json:"passing"`
	Failing int    `json:"failing"`
	Unknown int    `json:"unknown"`
	// PassingPct is 100 × passing / (passing + failing + unknown), rounded
	// to one decimal as CheckSummary.CompliancePct.
	PassingPct float64 `json:"passing_pct"`
}

// CheckTrend is GET /api/checks/{id}/trend: one row per day, oldest first,
// the last being today.
type CheckTrend struct {
	CheckID string          `json:"check_id"`
	Days    []CheckTrendDay `json:"days"`
}

// CheckTrend is GET /api/checks/{id}/trend.
func (c *Client) CheckTrend(ctx context.Context, id string, q CheckTrendQuery) (CheckTrend, error) {
	return get[CheckTrend](ctx, c, "/api/checks/"+esc(id)+"/trend", Query(q))
}
