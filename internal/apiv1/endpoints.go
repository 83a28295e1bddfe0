package apiv1

// Source is a request body sent as text: a job manifest or a schedule,
// YAML or JSON (the server sniffs which and keeps the text for editing).
type Source []byte

// Binary is a request body of raw bytes (application/octet-stream): an
// agent release. The Go client streams it from an io.Reader; the
// TypeScript function takes a Blob (a File from an <input type=file>).
type Binary []byte

// Endpoint describes one /api route for the generated TypeScript client
// and for the tests that keep the Go client complete. Query, Body and Resp
// hold a zero value of their type (nil: none).
type Endpoint struct {
	Name   string // Go client method; the TS function is its lowerCamel form
	Method string
	Path   string // with {param} placeholders, in order of the function's arguments
	Query  any    // a struct with `query` tags
	Body   any    // JSON body, Source for text, Binary for raw bytes
	Resp   any    // nil = 204 No Content
	List   bool   // Resp is the row type; served as an array + X-Total-Count
	// AlsoOK lists non-2xx statuses whose body is still Resp (fleet health
	// answers 503 with the full report when degraded).
	AlsoOK []int
	// Text: the answer is text/plain (Resp is nil), not JSON; the TS
	// function resolves to the body as a string.
	Text bool
	// Binary: the answer is a file (application/octet-stream, Resp is
	// nil), streamed by the Go client; no TS function is generated (a
	// browser downloads it by URL).
	Binary bool
	Doc    string
}

// Endpoints is every JSON route of /api. GET /api/events (server-sent
// events) is not JSON and not listed; the dashboard reads it with an
// EventSource.
var Endpoints = []Endpoint{
	{Name: "Version", Method: "GET", Path: "/api/version", Resp: VersionInfo{}, Doc: "the backend's version (public)"},

	{Name: "ListAgents", Method: "GET", Path: "/api/agents", Query: AgentQuery{}, Resp: Agent{}, List: true, Doc: "agents, filtered and paged"},
	{Name: "ListAgentVersions", Method: "GET", Path: "/api/agents/versions", Resp: []AgentVersion{}, Doc: "the fleet's agent versions: PCs, online, update states and quarantines per version"},
	{Name: "GetAgent", Method: "GET", Path: "/api/agents/{pc_id}", Resp: Agent{}, Doc: "one agent"},
	{Name: "DeleteAgent", Method: "DELETE", Path: "/api/agents/{pc_id}", Doc: "forget an agent"},
	{Name: "PingAgent", Method: "POST", Path: "/api/agents/{pc_id}/ping", Resp: Heartbeat{}, Doc: "ask an agent for a fresh heartbeat"},

	{Name: "ReenrollAgent", Method: "POST", Path: "/api/agents/{pc_id}/reenroll", Resp: Reenroll{}, Doc: "allow the next enrollment of an enrolled PC to replace its credential (operator)"},
	{Name: "Enroll", Method: "POST", Path: "/api/enroll", Body: EnrollRequest{}, Resp: EnrollResponse{}, Doc: "a PC joins with an enrollment token (public; kanade-agent enroll)"},
	{Name: "CreateEnrollmentToken", Method: "POST", Path: "/api/enrollment-tokens", Body: CreateEnrollmentTokenRequest{}, Resp: CreatedEnrollmentToken{}, Doc: "create an enrollment token; the secret is shown once (operator)"},
	{Name: "ListEnrollmentTokens", Method: "GET", Path: "/api/enrollment-tokens", Query: Page{}, Resp: EnrollmentToken{}, List: true, Doc: "enrollment tokens, newest first (operator)"},
	{Name: "DeleteEnrollmentToken", Method: "DELETE", Path: "/api/enrollment-tokens/{id}", Doc: "delete an enrollment token (operator)"},
	{Name: "InstallScript", Method: "GET", Path: "/api/install/{os}", Query: InstallQuery{}, Text: true, Doc: "the install script for os (linux, darwin: sh; windows: PowerShell), which downloads the release, installs the service and enrolls (public: needs a usable enrollment token, which it does not consume)"},
	{Name: "DownloadRelease", Method: "GET", Path: "/api/releases/{version}/{platform}", Query: ReleaseDownloadQuery{}, Binary: true, Doc: "one release binary (platform os-arch) with headers X-Kanade-Sha256, Kanade-Key-Id, Kanade-Signature (viewer, or ?token= a usable enrollment token, not consumed)"},
	{Name: "CreateOperatorCreds", Method: "POST", Path: "/api/broker/operator-creds", Body: OperatorCredsRequest{}, Resp: OperatorCreds{}, Doc: "issue an operator broker credential for the CLI's direct path (admin)"},
	{Name: "ListOperatorCreds", Method: "GET", Path: "/api/broker/operator-creds", Query: Page{}, Resp: OperatorCredInfo{}, List: true, Doc: "operator broker credentials issued, newest first, revoked ones too (admin)"},
	{Name: "RevokeOperatorCreds", Method: "DELETE", Path: "/api/broker/operator-creds/{public_key}", Resp: OperatorCredInfo{}, Doc: "revoke one operator broker credential: the broker closes its connections and refuses it (admin)"},

	{Name: "ListChecks", Method: "GET", Path: "/api/checks", Query: Page{}, Resp: CheckSummary{}, List: true, Doc: "compliance checks that have reported: passing, failing and unknown PCs and compliance % per check, in id order"},
	{Name: "CheckTrend", Method: "GET", Path: "/api/checks/{id}/trend", Query: CheckTrendQuery{}, Resp: CheckTrend{}, Doc: "a check's PCs passing and failing at the end of each of the last days (UTC; days=1..365, default 30), oldest first"},
	{Name: "ExecutionStats", Method: "GET", Path: "/api/stats/executions", Query: ExecStatsQuery{}, Resp: ExecStats{}, Doc: "runs per UTC day by outcome (ok, failed, other) over the last days (days=1..90, default 14), oldest first"},
	{Name: "AgentsOnlineStats", Method: "GET", Path: "/api/stats/agents-online", Query: AgentsOnlineQuery{}, Resp: AgentsOnline{}, Doc: "PCs known and online once an hour over the last hours (hours=1..168, default 24), derived from first-seen times and agent-offline alerts"},
	{Name: "ListCheckStatus", Method: "GET", Path: "/api/check-status", Query: CheckStatusQuery{}, Resp: CheckStatus{}, List: true, Doc: "each check's state on each PC (passing, failing, unknown), in check_id, pc_id order"},
	{Name: "ListAlerts", Method: "GET", Path: "/api/alerts", Query: AlertQuery{}, Resp: Alert{}, List: true, Doc: "alerts (check and agent-offline), newest first: state=open|resolved, kind, check_id, pc_id"},
	{Name: "AckAlert", Method: "POST", Path: "/api/alerts/{id}/ack", Resp: Alert{}, Doc: "acknowledge an alert (operator; acking twice keeps the first ack)"},

	{Name: "ListInventoryTables", Method: "GET", Path: "/api/inventory/tables", Resp: []InventoryTable{}, Doc: "the tables inventory jobs have filled, with their columns, PC and row counts"},
	{Name: "ListInventoryRows", Method: "GET", Path: "/api/inventory/tables/{table}", Query: InventoryRowQuery{}, Resp: InventoryRow{}, List: true, Doc: "one inventory table's rows across PCs: where=column:op:value (repeatable; eq ne lt le gt ge contains, versions compared as versions), q, pc_id, group"},

	{Name: "ListGroups", Method: "GET", Path: "/api/groups", Resp: []GroupMembers{}, Doc: "every group with its members"},
	{Name: "GetAgentGroups", Method: "GET", Path: "/api/agents/{pc_id}/groups", Resp: AgentGroups{}, Doc: "one PC's groups"},
	{Name: "SetAgentGroups", Method: "PUT", Path: "/api/agents/{pc_id}/groups", Body: AgentGroups{}, Resp: AgentGroups{}, Doc: "replace one PC's groups"},
	{Name: "AddAgentGroup", Method: "POST", Path: "/api/agents/{pc_id}/groups", Body: AddGroupRequest{}, Resp: AgentGroups{}, Doc: "add a PC to a group"},
	{Name: "RemoveAgentGroup", Method: "DELETE", Path: "/api/agents/{pc_id}/groups/{group}", Resp: AgentGroups{}, Doc: "remove a PC from a group"},

	{Name: "ListExecutions", Method: "GET", Path: "/api/executions", Query: ExecutionQuery{}, Resp: Execution{}, List: true, Doc: "executions, newest first"},
	{Name: "GetExecution", Method: "GET", Path: "/api/executions/{exec_id}", Resp: ExecutionDetail{}, Doc: "one execution with its per-PC results"},
	{Name: "KillExecution", Method: "POST", Path: "/api/executions/{exec_id}/kill", Resp: ExecKillResponse{}, Doc: "kill one execution on every agent running it (signed by the backend; audited)"},
	{Name: "PauseExecution", Method: "POST", Path: "/api/executions/{exec_id}/pause", Resp: RolloutActionResponse{}, Doc: "hold an execution's pending rollout waves; a wave already being sent still goes (operator; audited; 409 when no wave is pending or it is paused)"},
	{Name: "ResumeExecution", Method: "POST", Path: "/api/executions/{exec_id}/resume", Resp: RolloutActionResponse{}, Doc: "release paused waves; each one's due time moves later by the time it was paused, and halt_on is checked when it is due (operator; audited; 409 when not paused)"},
	{Name: "CancelExecution", Method: "POST", Path: "/api/executions/{exec_id}/cancel", Resp: RolloutActionResponse{}, Doc: "delete an execution's pending rollout waves; sent waves keep running (operator; audited; 409 when no wave is pending)"},
	{Name: "ListResults", Method: "GET", Path: "/api/results", Query: ResultQuery{}, Resp: Result{}, List: true, Doc: "per-PC results, newest first, without output"},
	{Name: "GetResult", Method: "GET", Path: "/api/results/{result_id}", Resp: Result{}, Doc: "one result with its stdout and stderr"},
	{Name: "ResultOutput", Method: "GET", Path: "/api/results/{result_id}/output", Query: OutputQuery{}, Text: true, Doc: "one stream of a result's output as text/plain: the whole of it when stored (header Kanade-Output: full), else the result's copy (inline)"},
	{Name: "ExecutionSummary", Method: "GET", Path: "/api/executions/{exec_id}/summary", Query: SummaryQuery{}, Resp: []ResultGroup{}, Doc: "one execution's finished results grouped by outcome, exit code and normalised stdout, largest group first, each with its first 20 PCs and a sample output (X-Total-Count: the number of groups; limit=1..1000, default 100)"},
	{Name: "ListAudit", Method: "GET", Path: "/api/audit", Query: AuditQuery{}, Resp: AuditEntry{}, List: true, Doc: "the audit log, newest first"},
	{Name: "ListInventoryFacts", Method: "GET", Path: "/api/inventory/facts", Query: FactsQuery{}, Resp: AgentFacts{}, List: true, Doc: "every PC's latest built-in facts (OS, CPU, memory, disks, interfaces, users), in pc_id order"},
	{Name: "ListInventoryHistory", Method: "GET", Path: "/api/inventory/history", Query: HistoryQuery{}, Resp: InventoryChange{}, List: true, Doc: "inventory changes (fact fields and inventory table rows), newest first"},
	{Name: "ListNotificationChannels", Method: "GET", Path: "/api/notification-channels", Query: Page{}, Resp: NotificationChannel{}, List: true, Doc: "notification channels by id; secrets are never returned, only *_set flags (admin)"},
	{Name: "CreateNotificationChannel", Method: "POST", Path: "/api/notification-channels", Body: NotificationChannelInput{}, Resp: NotificationChannel{}, Doc: "create a webhook, slack or email channel (admin; audited)"},
	{Name: "GetNotificationChannel", Method: "GET", Path: "/api/notification-channels/{id}", Resp: NotificationChannel{}, Doc: "one notification channel, without its secrets (admin)"},
	{Name: "UpdateNotificationChannel", Method: "PUT", Path: "/api/notification-channels/{id}", Body: NotificationChannelInput{}, Resp: NotificationChannel{}, Doc: "replace a channel; an empty secret, SMTP password or Slack URL keeps the stored one (admin; audited)"},
	{Name: "DeleteNotificationChannel", Method: "DELETE", Path: "/api/notification-channels/{id}", Doc: "delete a notification channel (admin; audited)"},
	{Name: "TestNotificationChannel", Method: "POST", Path: "/api/notification-channels/{id}/test", Resp: TestNotificationResponse{}, Doc: "queue a test notification through the delivery queue; returns its delivery id (admin; audited)"},
	{Name: "ListNotifications", Method: "GET", Path: "/api/notifications", Query: NotificationQuery{}, Resp: NotificationDelivery{}, List: true, Doc: "the notification delivery log: one row per attempt, newest first (channel, status=delivered|failed|gave_up)"},
	{Name: "FleetHealth", Method: "GET", Path: "/api/health/fleet", Resp: FleetHealth{}, AlsoOK: []int{503}, Doc: "fleet and broker health (503 when degraded)"},

	{Name: "Login", Method: "POST", Path: "/api/auth/login", Body: LoginRequest{}, Resp: LoginResponse{}, Doc: "exchange a password for a token (public)"},
	{Name: "Me", Method: "GET", Path: "/api/auth/me", Resp: Me{}, Doc: "the caller"},
	{Name: "ChangePassword", Method: "POST", Path: "/api/auth/change-password", Body: ChangePasswordRequest{}, Resp: LoginResponse{}, Doc: "change the caller's password; answers a fresh token"},
	{Name: "ChangeOwnPassword", Method: "POST", Path: "/api/auth/password", Body: ChangePasswordRequest{}, Resp: LoginResponse{}, Doc: "change the caller's password (SPEC §16's name for /api/auth/change-password)"},
	{Name: "LoginMFA", Method: "POST", Path: "/api/auth/mfa", Body: MFALoginRequest{}, Resp: LoginResponse{}, Doc: "second login step: exchange the mfa_token and a TOTP or recovery code for a token (public, throttled like login)"},
	{Name: "EnrollMFA", Method: "POST", Path: "/api/auth/mfa/enroll", Resp: MFAEnrollment{}, Doc: "begin (or restart) MFA enrolment: a TOTP secret, its QR code and recovery codes, shown once"},
	{Name: "ConfirmMFA", Method: "POST", Path: "/api/auth/mfa/confirm", Body: MFACodeRequest{}, Resp: MFAConfirmResponse{}, Doc: "turn MFA on with a code of the pending secret; other sessions end, a fresh one is returned"},
	{Name: "DisableMFA", Method: "DELETE", Path: "/api/auth/mfa", Body: MFACodeRequest{}, Doc: "turn the caller's MFA off with a TOTP or recovery code (refused when the policy requires MFA)"},
	{Name: "GetMFAPolicy", Method: "GET", Path: "/api/auth/mfa/policy", Resp: MFAPolicy{}, Doc: "whether MFA is required for every account"},
	{Name: "PutMFAPolicy", Method: "PUT", Path: "/api/auth/mfa/policy", Body: MFAPolicy{}, Resp: MFAPolicy{}, Doc: "require MFA for every account, or not (admin; audited)"},
	{Name: "ListAccounts", Method: "GET", Path: "/api/accounts", Query: Page{}, Resp: Account{}, List: true, Doc: "accounts (admin)"},
	{Name: "CreateAccount", Method: "POST", Path: "/api/accounts", Body: CreateAccountRequest{}, Resp: Account{}, Doc: "create an account (admin)"},
	{Name: "GetAccount", Method: "GET", Path: "/api/accounts/{username}", Resp: Account{}, Doc: "one account (admin)"},
	{Name: "UpdateAccount", Method: "PATCH", Path: "/api/accounts/{username}", Body: UpdateAccountRequest{}, Resp: Account{}, Doc: "change an account (admin; PUT is the same)"},
	{Name: "DeleteAccount", Method: "DELETE", Path: "/api/accounts/{username}", Doc: "delete an account (admin)"},
	{Name: "ResetAccountMFA", Method: "DELETE", Path: "/api/accounts/{username}/mfa", Doc: "remove an account's MFA (lost device; admin; audited)"},
	{Name: "CreateAPIToken", Method: "POST", Path: "/api/tokens", Body: CreateAPITokenRequest{}, Resp: CreatedAPIToken{}, Doc: "create an API token for automation; the secret is shown once (operator; role at most the creator's)"},
	{Name: "ListAPITokens", Method: "GET", Path: "/api/tokens", Resp: []APIToken{}, Doc: "API tokens, newest first: an admin sees all, an operator its own (operator)"},
	{Name: "RevokeAPIToken", Method: "DELETE", Path: "/api/tokens/{id}", Doc: "revoke an API token at once (operator: its own; admin: any)"},

	{Name: "ListJobs", Method: "GET", Path: "/api/jobs", Query: Page{}, Resp: Job{}, List: true, Doc: "the job catalog"},
	{Name: "PutJob", Method: "POST", Path: "/api/jobs", Body: Source{}, Resp: Job{}, Doc: "create or replace a job from its manifest text"},
	{Name: "GetJob", Method: "GET", Path: "/api/jobs/{id}", Resp: Job{}, Doc: "one job with its manifest text"},
	{Name: "DeleteJob", Method: "DELETE", Path: "/api/jobs/{id}", Doc: "delete a job (revoked first; refused while a schedule uses it)"},
	{Name: "KillJob", Method: "POST", Path: "/api/jobs/{id}/kill", Resp: KillResponse{}, Doc: "kill a job's running executions and cancel its pending waves"},
	{Name: "RevokeScript", Method: "POST", Path: "/api/scripts/{id}/revoke", Resp: RevokeResponse{}, Doc: "agents refuse to run the job until unrevoked"},
	{Name: "UnrevokeScript", Method: "POST", Path: "/api/scripts/{id}/unrevoke", Resp: RevokeResponse{}, Doc: "make a revoked job runnable again"},
	{Name: "Exec", Method: "POST", Path: "/api/exec/{job_id}", Body: ExecRequest{}, Resp: ExecResponse{}, Doc: "run a job on a set of PCs"},
	{Name: "Run", Method: "POST", Path: "/api/run", Body: RunRequest{}, Resp: ExecResult{}, Doc: "run an ad-hoc script on one PC and wait for its result (408 with exec_id on timeout)"},

	{Name: "ListSchedules", Method: "GET", Path: "/api/schedules", Query: Page{}, Resp: ScheduleRow{}, List: true, Doc: "schedules with their next and last fire"},
	{Name: "ApplySchedule", Method: "POST", Path: "/api/schedules", Body: Source{}, Resp: ScheduleRow{}, Doc: "create or replace a schedule from its text"},
	{Name: "GetSchedule", Method: "GET", Path: "/api/schedules/{id}", Resp: ScheduleRow{}, Doc: "one schedule with its text"},
	{Name: "DeleteSchedule", Method: "DELETE", Path: "/api/schedules/{id}", Doc: "delete a schedule"},
	{Name: "EnableSchedule", Method: "POST", Path: "/api/schedules/{id}/enable", Resp: ScheduleRow{}, Doc: "enable a schedule"},
	{Name: "DisableSchedule", Method: "POST", Path: "/api/schedules/{id}/disable", Resp: ScheduleRow{}, Doc: "disable a schedule (it stays defined)"},
	{Name: "PreviewSchedule", Method: "GET", Path: "/api/schedules/{id}/preview", Query: PreviewQuery{}, Resp: Preview{}, Doc: "a schedule's next fire times"},

	{Name: "GetFreeze", Method: "GET", Path: "/api/freeze", Resp: FreezeView{}, Doc: "whether the fleet is frozen"},
	{Name: "PutFreeze", Method: "PUT", Path: "/api/freeze", Body: FreezeRequest{}, Resp: FreezeView{}, Doc: "freeze the fleet (scheduled runs are suppressed)"},
	{Name: "DeleteFreeze", Method: "DELETE", Path: "/api/freeze", Doc: "end the freeze"},

	{Name: "GetGlobalConfig", Method: "GET", Path: "/api/config", Resp: ConfigScope{}, Doc: "the global config scope"},
	{Name: "PutGlobalConfig", Method: "PUT", Path: "/api/config", Body: ConfigScope{}, Resp: ConfigScope{}, Doc: "replace the global config scope"},
	{Name: "PatchGlobalConfig", Method: "PATCH", Path: "/api/config", Body: ConfigPatch{}, Resp: ConfigScope{}, Doc: "set (value) or unset (null) global config fields"},
	{Name: "GetGroupConfig", Method: "GET", Path: "/api/groups/{group}/config", Resp: ConfigScope{}, Doc: "a group's config scope"},
	{Name: "PutGroupConfig", Method: "PUT", Path: "/api/groups/{group}/config", Body: ConfigScope{}, Resp: ConfigScope{}, Doc: "replace a group's config scope"},
	{Name: "PatchGroupConfig", Method: "PATCH", Path: "/api/groups/{group}/config", Body: ConfigPatch{}, Resp: ConfigScope{}, Doc: "set or unset a group's config fields"},
	{Name: "DeleteGroupConfig", Method: "DELETE", Path: "/api/groups/{group}/config", Doc: "delete a group's config scope"},
	{Name: "GetPCConfig", Method: "GET", Path: "/api/pcs/{pc_id}/config", Resp: ConfigScope{}, Doc: "a PC's config scope"},
	{Name: "PutPCConfig", Method: "PUT", Path: "/api/pcs/{pc_id}/config", Body: ConfigScope{}, Resp: ConfigScope{}, Doc: "replace a PC's config scope"},
	{Name: "PatchPCConfig", Method: "PATCH", Path: "/api/pcs/{pc_id}/config", Body: ConfigPatch{}, Resp: ConfigScope{}, Doc: "set or unset a PC's config fields"},
	{Name: "DeletePCConfig", Method: "DELETE", Path: "/api/pcs/{pc_id}/config", Doc: "delete a PC's config scope"},
	{Name: "UploadRelease", Method: "POST", Path: "/api/releases", Query: ReleaseUpload{}, Body: Binary{}, Resp: Release{}, Doc: "store and sign an agent binary for one version and platform; releases are immutable (409 if it exists) (operator)"},
	{Name: "ListReleases", Method: "GET", Path: "/api/releases", Query: Page{}, Resp: Release{}, List: true, Doc: "agent releases, newest upload first"},
	{Name: "DeleteRelease", Method: "DELETE", Path: "/api/releases/{version}", Resp: DeletedRelease{}, Doc: "delete every platform's binary of a version (operator)"},

	{Name: "GetEffectiveConfig", Method: "GET", Path: "/api/agents/{pc_id}/effective_config", Resp: EffectiveView{}, Doc: "the configuration a PC resolves to, with its layers"},
}
