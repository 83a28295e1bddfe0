package api

import (
	"net/http"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// route is one line of the table: a ServeMux pattern, the minimum role a
// caller needs (auth.Mux enforces it before the handler runs) and the
// handler.
type route struct {
	pattern string
	role    auth.Role
	h       http.HandlerFunc
}

const (
	public   = auth.RolePublic
	viewer   = auth.RoleViewer
	operator = auth.RoleOperator
	admin    = auth.RoleAdmin
)

// table is every /api route, one line each: viewers read, operators
// change, admins manage accounts; public only where SPEC §7 says so.
// testdata/routes.golden pins each role: changing one is a visible diff,
// and the route sweep (internal/server/sweep_test.go) proves the golden role is
// enforced.
func (s *Server) table() []route {
	a := s.d.Auth
	return []route{
		{"GET /api/version", public, s.version},
		{"GET /api/health/fleet", viewer, s.fleetHealth},
		{"GET /api/stats/executions", viewer, s.executionStats},
		{"GET /api/stats/agents-online", viewer, s.agentsOnlineStats},
		{"GET /api/events", viewer, s.events},
		{"GET /api/debug/pprof/{name...}", admin, s.debugPprof},

		// Accounts and sessions (handlers in package auth).
		{"POST /api/auth/login", public, a.Login},
		{"GET /api/auth/me", viewer, a.Me},
		{"POST /api/auth/change-password", viewer, a.ChangePassword},
		{"POST /api/auth/password", viewer, a.ChangePassword},
		// MFA (SPEC §16): the second login step is public (the mfa_token is
		// the credential, throttled like a login); enrolment is one's own.
		{"POST /api/auth/mfa", public, a.MFALogin},
		{"DELETE /api/auth/mfa", viewer, a.MFADisable},
		{"POST /api/auth/mfa/enroll", viewer, a.MFAEnroll},
		{"POST /api/auth/mfa/confirm", viewer, a.MFAConfirm},
		{"GET /api/auth/mfa/policy", viewer, a.GetMFAPolicy},
		{"PUT /api/auth/mfa/policy", admin, a.PutMFAPolicy},
		{"GET /api/accounts", admin, a.ListAccounts},
		{"POST /api/accounts", admin, a.CreateAccount},
		{"GET /api/accounts/{username}", admin, a.GetAccount},
		{"PATCH /api/accounts/{username}", admin, a.UpdateAccount},
		{"PUT /api/accounts/{username}", admin, a.UpdateAccount},
		{"DELETE /api/accounts/{username}", admin, a.DeleteAccount},
		{"DELETE /api/accounts/{username}/mfa", admin, a.ResetAccountMFA},
		// API tokens: operators manage their own (role at most theirs),
		// admins all (the handlers check ownership).
		{"POST /api/tokens", operator, a.CreateAPIToken},
		{"GET /api/tokens", operator, a.ListAPITokens},
		{"DELETE /api/tokens/{id}", operator, a.DeleteAPIToken},

		// Agents (SQL projection) and their groups (KV agent_groups).
		{"GET /api/agents", viewer, s.listAgents},
		{"GET /api/agents/versions", viewer, s.agentVersions},
		{"GET /api/agents/{pc_id}", viewer, s.getAgent},
		{"DELETE /api/agents/{pc_id}", operator, s.deleteAgent},
		{"POST /api/agents/{pc_id}/ping", operator, s.pingAgent},
		{"POST /api/agents/{pc_id}/reenroll", operator, s.reenrollAgent},
		{"GET /api/groups", viewer, s.listGroups},

		// Compliance checks and alerts (SPEC §15).
		{"GET /api/checks", viewer, s.listChecks},
		{"GET /api/checks/{id}/trend", viewer, s.checkTrend},
		{"GET /api/check-status", viewer, s.listCheckStatus},
		{"GET /api/alerts", viewer, s.listAlerts},
		{"POST /api/alerts/{id}/ack", operator, s.ackAlert},

		// Inventory job tables (SPEC §14).
		{"GET /api/inventory/tables", viewer, s.inventoryTables},
		{"GET /api/inventory/tables/{table}", viewer, s.inventoryRows},
		{"GET /api/agents/{pc_id}/groups", viewer, s.getGroups},
		{"PUT /api/agents/{pc_id}/groups", operator, s.setGroups},
		{"POST /api/agents/{pc_id}/groups", operator, s.addGroup},
		{"DELETE /api/agents/{pc_id}/groups/{group}", operator, s.removeGroup},

		// Enrollment and broker identity (SPEC §12). /api/enroll is public:
		// the token is the credential (throttled like a login).
		{"POST /api/enroll", public, s.enroll},
		{"POST /api/enrollment-tokens", operator, s.createEnrollmentToken},
		{"GET /api/enrollment-tokens", operator, s.listEnrollmentTokens},
		{"DELETE /api/enrollment-tokens/{id}", operator, s.deleteEnrollmentToken},
		// The installer (SPEC §13): public, the enrollment token in ?token=
		// is the credential (checked, not consumed; throttled like
		// /api/enroll). The download also takes a viewer's bearer token,
		// checked in the handler.
		{"GET /api/install/{os}", public, s.installScript},
		{"GET /api/releases/{version}/{platform}", public, s.downloadRelease},
		{"POST /api/broker/operator-creds", admin, s.createOperatorCreds},
		{"GET /api/broker/operator-creds", admin, s.listOperatorCreds},
		{"DELETE /api/broker/operator-creds/{public_key}", admin, s.revokeOperatorCreds},

		// Executions, results, audit (SQL projection).
		{"GET /api/executions", viewer, s.listExecutions},
		{"GET /api/executions/{exec_id}", viewer, s.getExecution},
		{"POST /api/executions/{exec_id}/kill", operator, s.killExecution},
		{"POST /api/executions/{exec_id}/pause", operator, s.pauseExecution},
		{"POST /api/executions/{exec_id}/resume", operator, s.resumeExecution},
		{"POST /api/executions/{exec_id}/cancel", operator, s.cancelExecution},
		{"GET /api/results", viewer, s.listResults},
		{"GET /api/results/{result_id}", viewer, s.getResult},
		{"GET /api/results/{result_id}/output", viewer, s.resultOutput},
		{"GET /api/executions/{exec_id}/summary", viewer, s.executionSummary},
		{"GET /api/audit", viewer, s.listAudit},

		// Inventory (SPEC §14): built-in facts and the history of changes.
		{"GET /api/inventory/facts", viewer, s.listInventoryFacts},
		{"GET /api/inventory/history", viewer, s.listInventoryHistory},

		// The job catalog and the stop levers.
		{"GET /api/jobs", viewer, s.listJobs},
		{"POST /api/jobs", operator, s.putJob},
		{"GET /api/jobs/{id}", viewer, s.getJob},
		{"DELETE /api/jobs/{id}", operator, s.deleteJob},
		{"POST /api/jobs/{id}/kill", operator, s.killJob},
		{"POST /api/scripts/{id}/revoke", operator, s.revoke(true)},
		{"POST /api/scripts/{id}/unrevoke", operator, s.revoke(false)},

		// Runs.
		{"POST /api/exec/{job_id}", operator, s.exec},
		{"POST /api/run", operator, s.run},

		// Fleet freeze.
		{"GET /api/freeze", viewer, s.getFreeze},
		{"PUT /api/freeze", operator, s.putFreeze},
		{"DELETE /api/freeze", operator, s.deleteFreeze},

		// Layered agent config: global, per group, per PC.
		{"GET /api/config", viewer, s.getConfig(globalScope)},
		{"PUT /api/config", operator, s.putConfig(globalScope)},
		{"PATCH /api/config", operator, s.patchConfig(globalScope)},
		{"GET /api/groups/{group}/config", viewer, s.getConfig(groupScope)},
		{"PUT /api/groups/{group}/config", operator, s.putConfig(groupScope)},
		{"PATCH /api/groups/{group}/config", operator, s.patchConfig(groupScope)},
		{"DELETE /api/groups/{group}/config", operator, s.deleteConfig(groupScope)},
		{"GET /api/pcs/{pc_id}/config", viewer, s.getConfig(pcScope)},
		{"PUT /api/pcs/{pc_id}/config", operator, s.putConfig(pcScope)},
		{"PATCH /api/pcs/{pc_id}/config", operator, s.patchConfig(pcScope)},
		{"DELETE /api/pcs/{pc_id}/config", operator, s.deleteConfig(pcScope)},
		{"GET /api/agents/{pc_id}/effective_config", viewer, s.effectiveConfig},

		// Agent releases (SPEC §13): object store agent_releases.
		{"GET /api/releases", viewer, s.listReleases},
		{"POST /api/releases", operator, s.uploadRelease},
		{"DELETE /api/releases/{version}", operator, s.deleteRelease},

		// Notification channels hold secrets: admins only. The delivery
		// log names no secret (SPEC §15).
		{"GET /api/notification-channels", admin, s.listChannels},
		{"POST /api/notification-channels", admin, s.createChannel},
		{"GET /api/notification-channels/{id}", admin, s.getChannel},
		{"PUT /api/notification-channels/{id}", admin, s.updateChannel},
		{"DELETE /api/notification-channels/{id}", admin, s.deleteChannel},
		{"POST /api/notification-channels/{id}/test", admin, s.testChannel},
		{"GET /api/notifications", viewer, s.listNotifications},

		// Schedules (any replica serves them; only the leader fires).
		{"GET /api/schedules", viewer, s.listSchedules},
		{"POST /api/schedules", operator, s.applySchedule},
		{"GET /api/schedules/{id}", viewer, s.getSchedule},
		{"DELETE /api/schedules/{id}", operator, s.deleteSchedule},
		{"POST /api/schedules/{id}/enable", operator, s.enableSchedule(true)},
		{"POST /api/schedules/{id}/disable", operator, s.enableSchedule(false)},
		{"GET /api/schedules/{id}/preview", viewer, s.previewSchedule},
	}
}
