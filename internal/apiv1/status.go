package apiv1

// ExecutionStatus is the lifecycle state of an execution.
type ExecutionStatus string

// Execution states: pending until the first result, running while targets
// report, completed when every target has, expired when the reaper gave up
// on the missing ones.
const (
	ExecPending   ExecutionStatus = "pending"
	ExecRunning   ExecutionStatus = "running"
	ExecCompleted ExecutionStatus = "completed"
	ExecExpired   ExecutionStatus = "expired"
)

// ResultStatus is the state of one per-PC result.
type ResultStatus string

// Result states.
const (
	ResultRunning ResultStatus = "running"
	ResultSuccess ResultStatus = "success"
	ResultFailure ResultStatus = "failure"
	ResultSkipped ResultStatus = "skipped"
)

// ResultStatuses lists every ResultStatus (the ?status= filter).
var ResultStatuses = []ResultStatus{ResultRunning, ResultSuccess, ResultFailure, ResultSkipped}

// ExecutionStatuses lists every ExecutionStatus (the ?status= filter).
var ExecutionStatuses = []ExecutionStatus{ExecPending, ExecRunning, ExecCompleted, ExecExpired}

// JobStatus is whether agents may run a job's script.
type JobStatus string

// Job states (the same strings as KV script_status).
const (
	JobActive  JobStatus = "ACTIVE"
	JobRevoked JobStatus = "REVOKED"
)

// Role is an account's privilege level as the API spells it.
type Role string

// Account roles, lowest first.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// HealthStatus is the overall state of GET /api/health/fleet.
type HealthStatus string

// Fleet health states (degraded answers 503).
const (
	HealthOK       HealthStatus = "ok"
	HealthDegraded HealthStatus = "degraded"
)

// AgentStatus is the ?status= filter of GET /api/agents.
type AgentStatus string

// Agent filter values.
const (
	AgentOnline  AgentStatus = "online"
	AgentOffline AgentStatus = "offline"
)
