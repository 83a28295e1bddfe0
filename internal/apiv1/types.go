// Package apiv1 is the /api contract of kanade-backend: every request and
// response body the API accepts or serves, the status enums, the list
// paging, the endpoint table and a typed Go client.
//
// It is a leaf: it imports only the standard library (a test enforces it),
// so the CLI, the simulator, the tests and the store can all depend on it,
// and the dashboard's TypeScript (web/src/lib/api.gen.ts) is generated from
// it by ./gen. The row types are what the server sends byte for byte; the
// store scans straight into them.
//
// Lists are served as a JSON array with the total before paging in the
// X-Total-Count header (an estimate when X-Total-Count-Estimated: true)
// and, unless it is the last page, the cursor of the next one in
// X-Next-Cursor; the client returns them as List[T].
package apiv1

import (
	"encoding/json"
	"time"
)

// List is one page of a list endpoint, the total number of rows that
// matched before paging (the X-Total-Count header; Estimated when the
// server estimated it, X-Total-Count-Estimated) and the cursor of the next
// page (X-Next-Cursor; "" on the last page).
type List[T any] struct {
	Items     []T    `json:"items"`
	Total     int    `json:"total"`
	Estimated bool   `json:"estimated"`
	Next      string `json:"next"`
}

// ErrorBody is the body of every non-2xx answer: a message and, when one
// input is at fault, its name. ExecID is set only by POST /api/run's 408,
// so the caller can kill the run it gave up on.
type ErrorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	ExecID string `json:"exec_id,omitempty"`
}

// Page is the paging of a list request: limit (server default 50, max
// 1000) and either an offset (at most 10 000) or the cursor a previous
// page's X-Next-Cursor gave (with the same filters).
type Page struct {
	Limit  int    `query:"limit"`
	Offset int    `query:"offset"`
	Cursor string `query:"cursor"`
}

// VersionInfo is GET /api/version. (Fields in the byte order the server
// sends today, a JSON object with sorted keys; likewise FleetHealth and
// RevokeResponse.)
type VersionInfo struct {
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Version string `json:"version"`
}

// Agent is one agents row.
type Agent struct {
	PCID          string     `json:"pc_id"`
	Hostname      string     `json:"hostname"`
	OSFamily      string     `json:"os_family"`
	OSVersion     string     `json:"os_version"`
	Arch          string     `json:"arch"`
	AgentVersion  string     `json:"agent_version"`
	LastHeartbeat time.Time  `json:"last_heartbeat"`
	BootTime      *time.Time `json:"boot_time"`
	AgentRSSBytes int64      `json:"agent_rss_bytes"`
	AgentCPUPct   float64    `json:"agent_cpu_pct"`
	Running       int        `json:"running"`
	Online        bool       `json:"online"`
	Groups        []string   `json:"groups"`
	// Self-update (SPEC §13), from the last heartbeat; "" until one says.
	UpdateState        string `json:"update_state"`
	UpdateError        string `json:"update_error,omitempty"`
	QuarantinedVersion string `json:"quarantined_version,omitempty"`
}

// AgentQuery filters GET /api/agents.
type AgentQuery struct {
	Status AgentStatus `query:"status"` // online | offline
	Q      string      `query:"q"`      // substring of pc_id or hostname
	Group  string      `query:"group"`
	// Self-update (SPEC §13): update_state is one of current, downloading,
	// restarting, failed, quarantined; version is an exact agent_version;
	// quarantined an exact quarantined_version.
	UpdateState string `query:"update_state"`
	Version     string `query:"version"`
	Quarantined string `query:"quarantined"`
	// IDPrefix keeps the pc_ids that start with it (the CLI's short ids).
	IDPrefix string `query:"id_prefix"`
	Sort     string `query:"sort"`  // pc_id | hostname | last_heartbeat | os_family | agent_version
	Order    string `query:"order"` // asc | desc
	Page
}

// Heartbeat is an agent's self-report, the answer of POST
// /api/agents/{pc_id}/ping (the agent protocol's heartbeat, verbatim).
type Heartbeat struct {
	PCID               string    `json:"pc_id"`
	Hostname           string    `json:"hostname"`
	OSFamily           string    `json:"os_family"`
	OSVersion          string    `json:"os_version"`
	Arch               string    `json:"arch"`
	AgentVersion       string    `json:"agent_version"`
	At                 time.Time `json:"at"`
	BootTime           time.Time `json:"boot_time"`
	AgentRSSBytes      uint64    `json:"agent_rss_bytes"`
	AgentCPUPct        float64   `json:"agent_cpu_pct"`
	Running            int       `json:"running"`
	UpdateState        string    `json:"update_state,omitempty"`
	UpdateError        string    `json:"update_error,omitempty"`
	QuarantinedVersion string    `json:"quarantined_version,omitempty"`
}

// GroupMembers is one row of GET /api/groups.
type GroupMembers struct {
	Group   string   `json:"group"`
	Members []string `json:"members"`
}

// AgentGroups is one PC's group list (GET, PUT and POST
// /api/agents/{pc_id}/groups answer it; PUT takes it as the body).
type AgentGroups struct {
	Groups []string `json:"groups"`
}

// AddGroupRequest is the body of POST /api/agents/{pc_id}/groups.
type AddGroupRequest struct {
	Group string `json:"group"`
}

// Execution is one executions row.
type Execution struct {
	ExecID       string          `json:"exec_id"`
	JobID        string          `json:"job_id"`
	Version      string          `json:"version"`
	InitiatedBy  string          `json:"initiated_by"`
	InitiatedAt  time.Time       `json:"initiated_at"`
	TargetCount  int             `json:"target_count"`
	SuccessCount int             `json:"success_count"`
	FailureCount int             `json:"failure_count"`
	SkippedCount int             `json:"skipped_count"`
	Status       ExecutionStatus `json:"status"`
	PendingWaves int             `json:"pending_waves"` // later waves not sent yet
	// SubjectsSent counts the command subjects the broker acknowledged (the
	// first fan-out's and one per later wave sent); SubjectsFailed lists
	// those of the first fan-out it did not (the fan-out stops at the
	// first broker failure: the rest are listed too, never attempted).
	SubjectsSent   int      `json:"subjects_sent"`
	SubjectsFailed []string `json:"subjects_failed,omitempty"`
	// RolloutState is set while later waves are pending (waiting or
	// paused) and once halt_on stopped them (halted, with HaltReason).
	RolloutState RolloutState `json:"rollout_state,omitempty"`
	HaltReason   string       `json:"halt_reason,omitempty"`
}

// RolloutState is an execution's rollout state (SPEC §17).
type RolloutState string

// Rollout states. An execution without pending waves that was never
// halted has none ("").
const (
	RolloutWaiting RolloutState = "waiting" // later waves are sent when due
	RolloutPaused  RolloutState = "paused"  // an operator holds the later waves
	RolloutHalted  RolloutState = "halted"  // halt_on stopped the later waves
)

// RolloutActionResponse is POST /api/executions/{exec_id}/pause, /resume
// and /cancel: what the action changed.
type RolloutActionResponse struct {
	ExecID string `json:"exec_id"`
	Action string `json:"action"` // pause | resume | cancel
	// Waves is how many pending waves it paused, resumed or cancelled.
	Waves int `json:"waves"`
	// State is the rollout state afterwards.
	State RolloutState `json:"state,omitempty"`
}

// ExecutionQuery filters GET /api/executions.
type ExecutionQuery struct {
	JobID  string          `query:"job_id"`
	Status ExecutionStatus `query:"status"`
	// IDPrefix keeps the exec_ids that start with it (the CLI's short ids).
	IDPrefix string `query:"id_prefix"`
	Page
}

// ExecutionDetail is GET /api/executions/{exec_id}: the row and every
// per-PC result of it.
type ExecutionDetail struct {
	Execution
	Results []Result `json:"results"`
}

// Result is one execution_results row (a per-PC run). Stdout and Stderr are
// sent by GET /api/results/{result_id} only.
type Result struct {
	ResultID   string       `json:"result_id"`
	RequestID  string       `json:"request_id"`
	ExecID     string       `json:"exec_id"`
	PCID       string       `json:"pc_id"`
	JobID      string       `json:"job_id"`
	Version    string       `json:"version"`
	ExitCode   *int         `json:"exit_code"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt *time.Time   `json:"finished_at"`
	RecordedAt time.Time    `json:"recorded_at"`
	ExpiresAt  *time.Time   `json:"expires_at"`
	Reaped     bool         `json:"reaped"`
	Skipped    bool         `json:"skipped"`
	TimedOut   bool         `json:"timed_out"`
	Killed     bool         `json:"killed"`
	Status     ResultStatus `json:"status"`
	Stdout     *string      `json:"stdout,omitempty"`
	Stderr     *string      `json:"stderr,omitempty"`
	// StdoutRef and StderrRef (GET /api/results/{id} only) are set when the
	// whole of that stream is stored: stdout/stderr above are then its head
	// and tail, and GET /api/results/{id}/output serves all of it.
	StdoutRef string `json:"stdout_ref,omitempty"`
	StderrRef string `json:"stderr_ref,omitempty"`
	// InventoryError says why an inventory job's successful output changed
	// no rows (malformed, too large); absent otherwise (SPEC §14).
	InventoryError string `json:"inventory_error,omitempty"`
	// StderrExcerpt is the last non-blank line of stderr, at most 200
	// bytes (then ending in "…"); absent when stderr is empty.
	StderrExcerpt string `json:"stderr_excerpt,omitempty"`
}

// Values of the Kanade-Output header of GET /api/results/{id}/output.
const (
	OutputFull   = "full"   // the whole stream, from object store result_output
	OutputInline = "inline" // the copy in the result (all of a short output; head and tail of a long one)
)

// OutputQuery selects the stream of GET /api/results/{id}/output.
type OutputQuery struct {
	Stream OutputStream `query:"stream"` // default stdout
}

// OutputStream names a stream of a run's output.
type OutputStream string

// The output streams.
const (
	StreamStdout OutputStream = "stdout"
	StreamStderr OutputStream = "stderr"
)

// Output is the answer of GET /api/results/{id}/output: the bytes, and
// whether they are the whole stream.
type Output struct {
	Data []byte
	Full bool // Kanade-Output: full
}

// ResultQuery filters GET /api/results (newest first).
type ResultQuery struct {
	ExecID string       `query:"exec_id"`
	JobID  string       `query:"job_id"`
	PCID   string       `query:"pc_id"`
	Status ResultStatus `query:"status"`
	Since  string       `query:"since"` // RFC 3339 time or a duration ago (24h)
	// IDPrefix keeps the result_ids that start with it (the CLI's short ids).
	IDPrefix string `query:"id_prefix"`
	Page
}

// AuditEntry is one audit_log row.
type AuditEntry struct {
	ID         int64           `json:"id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Payload    json.RawMessage `json:"payload"`
	OccurredAt time.Time       `json:"occurred_at"`
	SourceIP   string          `json:"source_ip"`
}

// AuditQuery filters GET /api/audit (newest first).
type AuditQuery struct {
	Actor  string `query:"actor"`
	Action string `query:"action"`
	Since  string `query:"since"` // RFC 3339 time or a duration ago (24h)
	Page
}

// FleetHealth is GET /api/health/fleet (503 when degraded).
type FleetHealth struct {
	AgentsKnown  int             `json:"agents_known"`
	AgentsOnline int             `json:"agents_online"`
	Failures24h  int             `json:"failures_24h"`
	JetStream    JetStreamHealth `json:"jetstream"`
	Problems     []string        `json:"problems"`
	// Reasons say why the backend is degraded (SPEC §17); empty when ok.
	Reasons           []HealthReason `json:"reasons"`
	RunningExecutions int            `json:"running_executions"`
	Status            HealthStatus   `json:"status"`
}

// HealthReason is one cause of a degraded backend: reason is
// broker_writes, database, projector_failing, leader_missing or
// signing_key_retired; subject
// names the projector where there is one.
type HealthReason struct {
	Reason  string    `json:"reason"`
	Subject string    `json:"subject,omitempty"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// JetStreamHealth is the broker part of FleetHealth.
type JetStreamHealth struct {
	Streams    []StreamHealth `json:"streams"`
	KV         []KVHealth     `json:"kv"`
	StoreBytes uint64         `json:"store_bytes"`
	Error      string         `json:"error,omitempty"`
}

// StreamHealth is one stream of JetStreamHealth.
type StreamHealth struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Consumers int    `json:"consumers"`
}

// KVHealth is one KV bucket of JetStreamHealth.
type KVHealth struct {
	Bucket string `json:"bucket"`
	Values uint64 `json:"values"`
}

// Manifest is a job definition (what runs).
type Manifest struct {
	ID          string   `json:"id"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Execute     Execute  `json:"execute"`
	// Inventory makes the job an inventory job (SPEC §14).
	Inventory *Inventory `json:"inventory,omitempty"`
	// Check makes the job a compliance check (SPEC §15).
	Check *Check `json:"check,omitempty"`
}

// Check is a manifest's check declaration: when a result passes (exit
// code, or an RE2 pattern its stdout matches), the severity of its alerts
// and how many consecutive failures turn it failing.
type Check struct {
	Pass          CheckPass `json:"pass"`
	Severity      string    `json:"severity"`       // info | warning | critical
	FlapThreshold int       `json:"flap_threshold"` // >= 1
}

// CheckPass is exactly one pass condition.
type CheckPass struct {
	ExitCode      *int   `json:"exit_code,omitempty"`
	StdoutMatches string `json:"stdout_matches,omitempty"`
}

// Inventory is a manifest's inventory declaration: the table its stdout
// (a JSON array of objects) fills, the key columns and the kept columns.
type Inventory struct {
	Table   string   `json:"table"`
	Key     []string `json:"key"`
	Columns []string `json:"columns"`
}

// Execute is how a job's script runs.
type Execute struct {
	Shell   string `json:"shell"`
	Script  string `json:"script"`
	Timeout string `json:"timeout"` // duration as written, e.g. "600s"
	Cwd     string `json:"cwd,omitempty"`
	RunAs   string `json:"run_as"` // system | user
}

// Job is a catalog entry: the manifest and its stop-lever state. YAML is
// the submitted text, sent by GET /api/jobs/{id} only.
type Job struct {
	Manifest
	Status        JobStatus `json:"status"`
	PinnedVersion *string   `json:"pinned_version"` // null until first exec'd
	YAML          *string   `json:"yaml,omitempty"`
}

// RevokeResponse is POST /api/scripts/{id}/revoke and /unrevoke.
type RevokeResponse struct {
	CancelledWaves int       `json:"cancelled_waves"`
	ID             string    `json:"id"`
	Status         JobStatus `json:"status"`
}

// KillResponse is POST /api/jobs/{id}/kill.
type KillResponse struct {
	KilledExecIDs  []string `json:"killed_exec_ids"`
	CancelledWaves int      `json:"cancelled_waves"`
}

// ExecKillResponse is POST /api/executions/{exec_id}/kill.
type ExecKillResponse struct {
	ExecID  string `json:"exec_id"`
	Subject string `json:"subject"` // kill.<exec_id>
}

// Target selects PCs: all, members of groups, listed PCs (a union).
type Target struct {
	All    bool     `json:"all,omitempty"`
	Groups []string `json:"groups,omitempty"`
	PCs    []string `json:"pcs,omitempty"`
}

// Rollout is a staged exec. Without a target each wave names a group; with
// a target the waves slice it: a group's members, a percent of the PCs no
// earlier wave took, or the rest (SPEC §17).
type Rollout struct {
	Waves []Wave `json:"waves"`
	// HaltOn: later waves are not sent once the failures so far reach it.
	HaltOn *HaltOn `json:"halt_on,omitempty"`
}

// Wave is one stage of a Rollout (exactly one of group, percent and
// rest; group "" is no group); Delay counts from the exec.
type Wave struct {
	Group   string `json:"group"`
	Percent int    `json:"percent,omitempty"`
	Rest    bool   `json:"rest,omitempty"`
	Delay   string `json:"delay,omitempty"`
}

// HaltOn is a rollout's failure threshold (exactly one field), checked
// when each later wave is due against the results so far.
type HaltOn struct {
	Failures   int `json:"failures,omitempty"`
	FailurePct int `json:"failure_pct,omitempty"`
}

// ExecRequest is the body of POST /api/exec/{job_id} (a plan).
type ExecRequest struct {
	Target     Target     `json:"target"`
	Rollout    *Rollout   `json:"rollout,omitempty"`
	Jitter     string     `json:"jitter,omitempty"` // agents sleep a random [0, jitter) first
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
	// AllowEmpty sends the exec even when the target reaches no known PC;
	// without it such an exec is refused with 422 naming the target.
	AllowEmpty bool `json:"allow_empty,omitempty"`
}

// ExecResponse is the answer of POST /api/exec/{job_id}.
//
// When the broker failed in the middle of the fan-out the answer is a 502
// with this body: Error says what happened, SubjectsSent how many subjects
// got the command and SubjectsFailed which did not (the execution exists
// and runs where it arrived; it also decodes as an ErrorBody).
type ExecResponse struct {
	ExecID         string   `json:"exec_id"`
	JobID          string   `json:"job_id"`
	Version        string   `json:"version"`
	TargetCount    int      `json:"target_count"`
	Subjects       []string `json:"subjects"`
	SubjectsSent   int      `json:"subjects_sent"`
	SubjectsFailed []string `json:"subjects_failed,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// RunRequest is the body of POST /api/run (an ad-hoc script on one PC).
type RunRequest struct {
	PCID        string `json:"pc_id"`
	Shell       string `json:"shell"`
	Script      string `json:"script"`
	TimeoutSecs int64  `json:"timeout_secs,omitempty"` // default 60
	ExecID      string `json:"exec_id,omitempty"`      // default: a new UUID
	// DeadlineAt: an agent that gets the command later skips it (125).
	// Default: now + timeout + grace, the time the API waits for it.
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
}

// ExecResult is one run's outcome as the agent reported it: the answer of
// POST /api/run (the agent protocol's result, verbatim).
type ExecResult struct {
	ResultID   string    `json:"result_id"`
	RequestID  string    `json:"request_id"`
	ExecID     string    `json:"exec_id"`
	PCID       string    `json:"pc_id"`
	ManifestID string    `json:"manifest_id"`
	Version    string    `json:"version"`
	ExitCode   int       `json:"exit_code"`
	Stdout     string    `json:"stdout"`
	Stderr     string    `json:"stderr"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Skipped    bool      `json:"skipped,omitempty"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	Killed     bool      `json:"killed,omitempty"`
	// StdoutRef and StderrRef are set when stdout/stderr above are only the
	// head and tail of a longer output: GET /api/results/{id}/output serves
	// the whole of it.
	StdoutRef string `json:"stdout_ref,omitempty"`
	StderrRef string `json:"stderr_ref,omitempty"`
}

// Schedule is a schedule document (when a job runs).
type Schedule struct {
	ID               string   `json:"id"`
	JobID            string   `json:"job_id"`
	Enabled          bool     `json:"enabled"`
	TZ               string   `json:"tz"`
	When             When     `json:"when"`
	Target           Target   `json:"target"`
	Rollout          *Rollout `json:"rollout,omitempty"`
	Jitter           string   `json:"jitter,omitempty"`
	StartingDeadline string   `json:"starting_deadline,omitempty"`
	CountManual      *bool    `json:"count_manual,omitempty"` // per_pc: default true
}

// When holds exactly one trigger.
type When struct {
	Cron     string    `json:"cron,omitempty"`
	Calendar *Calendar `json:"calendar,omitempty"`
	PerPC    *PerPC    `json:"per_pc,omitempty"`
}

// Calendar is a wall-clock trigger: At is "HH:MM" with Days (repeating) or
// "YYYY-MM-DD HH:MM" without Days (one shot).
type Calendar struct {
	At   string   `json:"at"`
	Days []string `json:"days,omitempty"`
}

// ScheduleRow is a schedule as listed: the document plus its fire
// bookkeeping. YAML is sent by GET /api/schedules/{id} only.
type ScheduleRow struct {
	Schedule
	NextFire   *time.Time `json:"next_fire"`
	LastFire   *time.Time `json:"last_fire"`
	LastExecID string     `json:"last_exec_id"`
	YAML       *string    `json:"yaml,omitempty"`
}

// PreviewQuery is GET /api/schedules/{id}/preview's ?count= (1..MaxPreview,
// default 10).
type PreviewQuery struct {
	Count int `query:"count"`
}

// Preview is GET /api/schedules/{id}/preview: the next fire times.
type Preview struct {
	Fires []time.Time `json:"fires"`
}

// FreezeView is GET /api/freeze (and the answer of PUT).
type FreezeView struct {
	Frozen bool       `json:"frozen"`
	Reason string     `json:"reason,omitempty"`
	By     string     `json:"by,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
	Until  *time.Time `json:"until,omitempty"`
}

// FreezeRequest is the body of PUT /api/freeze; no Until = until cleared.
type FreezeRequest struct {
	Reason string  `json:"reason"`
	Until  *string `json:"until,omitempty"` // RFC 3339, in the future
}

// ConfigScope is one layer of agent configuration (global, a group's, a
// PC's). Every field is optional: absent means "this layer does not set
// it". Its fields are the same as the agent protocol's (internal/wire).
type ConfigScope struct {
	HeartbeatInterval  *string `json:"heartbeat_interval,omitempty"`   // Go duration, e.g. "30s"
	MaxLocalConcurrent *int    `json:"max_local_concurrent,omitempty"` // runs at once; queued beyond
	TargetVersion      *string `json:"target_version,omitempty"`       // self-update target
	OutboxMaxEntries   *int    `json:"outbox_max_entries,omitempty"`   // outbox cap before oldest is dropped
	UpdateJitter       *string `json:"update_jitter,omitempty"`        // random wait before downloading a target (default 5m)
	UpdateHealthWindow *string `json:"update_health_window,omitempty"` // new version must heartbeat within it (default 2m)
	InventoryInterval  *string `json:"inventory_interval,omitempty"`   // built-in facts report period (default 6h)
}

// ConfigPatch is the body of PATCH on a config scope: a field with a value
// sets it, a field with null unsets it, others are kept.
type ConfigPatch map[string]any

// EffectiveConfig is the configuration a PC resolves to.
type EffectiveConfig struct {
	HeartbeatInterval  string `json:"heartbeat_interval"`
	MaxLocalConcurrent int    `json:"max_local_concurrent"`
	TargetVersion      string `json:"target_version,omitempty"`
	OutboxMaxEntries   int    `json:"outbox_max_entries"`
	UpdateJitter       string `json:"update_jitter"`
	UpdateHealthWindow string `json:"update_health_window"`
	InventoryInterval  string `json:"inventory_interval"`
}

// EffectiveView is GET /api/agents/{pc_id}/effective_config.
type EffectiveView struct {
	Effective EffectiveConfig `json:"effective"`
	Warnings  []string        `json:"warnings"`
	Groups    []string        `json:"groups"`
	Layers    Layers          `json:"layers"`
}

// Layers shows each layer that went into an effective config.
type Layers struct {
	Defaults EffectiveConfig        `json:"defaults"`
	Global   *ConfigScope           `json:"global"`
	Groups   map[string]ConfigScope `json:"groups"`
	PC       *ConfigScope           `json:"pc"`
}

// LoginRequest is the body of POST /api/auth/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the answer of POST /api/auth/login and
// /api/auth/change-password.
type LoginResponse struct {
	Token        string    `json:"token"`
	Username     string    `json:"username"`
	Role         Role      `json:"role"`
	Exp          time.Time `json:"exp"`
	MustChangePW bool      `json:"must_change_pw"`
	// MFAEnrolmentRequired: the policy requires MFA and the account has
	// none; until it enrols only the enrolment routes answer (403
	// "mfa enrolment required" elsewhere).
	MFAEnrolmentRequired bool `json:"mfa_enrolment_required"`
	// MFARequired and MFAToken are set instead of the fields above when the
	// account has MFA: POST /api/auth/login answers only
	// {mfa_required: true, mfa_token} (MFAChallenge), to be exchanged with
	// a code at POST /api/auth/mfa.
	MFARequired bool   `json:"mfa_required,omitempty"`
	MFAToken    string `json:"mfa_token,omitempty"`
}

// Me is GET /api/auth/me: the caller.
type Me struct {
	Username     string `json:"username"`
	Role         Role   `json:"role"`
	MustChangePW bool   `json:"must_change_pw"`
	MFAEnabled   bool   `json:"mfa_enabled"`
	// MFAEnrolmentRequired: see LoginResponse.
	MFAEnrolmentRequired bool `json:"mfa_enrolment_required"`
}

// ChangePasswordRequest is the body of POST /api/auth/change-password.
type ChangePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// Account is one user account (admin routes).
type Account struct {
	ID           string     `json:"id"` // immutable; never reused by a re-created username
	Username     string     `json:"username"`
	Role         Role       `json:"role"`
	Disabled     bool       `json:"disabled"`
	MustChangePW bool       `json:"must_change_pw"`
	FailedLogins int        `json:"failed_logins"`
	LockedUntil  *time.Time `json:"locked_until"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLoginAt  *time.Time `json:"last_login_at"`
	// Groups are the PC groups the account is limited to (SPEC §16
	// scopes); empty = not limited.
	Groups     []string `json:"groups"`
	MFAEnabled bool     `json:"mfa_enabled"`
}

// CreateAccountRequest is the body of POST /api/accounts (role defaults to
// viewer, must_change_pw to true).
type CreateAccountRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	Role         *Role  `json:"role,omitempty"`
	MustChangePW *bool  `json:"must_change_pw,omitempty"`
	// Groups scope the account to PC groups (empty = not limited).
	Groups []string `json:"groups,omitempty"`
}

// UpdateAccountRequest is the body of PATCH /api/accounts/{username}: only
// the fields given change.
type UpdateAccountRequest struct {
	Role         *Role   `json:"role,omitempty"`
	Disabled     *bool   `json:"disabled,omitempty"`
	Password     *string `json:"password,omitempty"`
	MustChangePW *bool   `json:"must_change_pw,omitempty"`
	// Groups replaces the account's scope; [] removes it.
	Groups *[]string `json:"groups,omitempty"`
}
