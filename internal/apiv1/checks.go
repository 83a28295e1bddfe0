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
