// Shapes served by kanade-backend (see the API contract). Times are RFC 3339 UTC strings.
// Pages and components take their types from here only. When lib/api.gen.ts
// (generated from internal/apiv1) arrives, the contract types below become
// re-exports of it; the client-side parameter types at the end stay.

export interface Agent {
  pc_id: string
  hostname: string
  os_family: string
  os_version: string
  arch: string
  agent_version: string
  last_heartbeat: string | null
  boot_time: string | null
  agent_rss_bytes: number
  agent_cpu_pct: number
  running: number
  online: boolean
  groups: string[] | null
}

export interface Heartbeat {
  pc_id: string
  hostname?: string
  agent_version?: string
  at?: string
  running?: number
  [k: string]: unknown
}

export interface Group {
  group: string
  members: string[]
}

export type ExecutionStatus = 'pending' | 'running' | 'completed' | 'expired'

export interface Execution {
  exec_id: string
  job_id: string
  version: string
  initiated_by: string
  initiated_at: string
  target_count: number
  success_count: number
  failure_count: number
  skipped_count: number
  status: ExecutionStatus
}

export type ResultStatus = 'running' | 'success' | 'failure' | 'skipped'

export interface Result {
  result_id: string
  request_id: string
  exec_id: string
  pc_id: string
  job_id: string
  version: string
  exit_code: number | null
  started_at: string | null
  finished_at: string | null
  recorded_at: string | null
  expires_at: string | null
  reaped: boolean
  skipped: boolean
  timed_out: boolean
  killed: boolean
  status: ResultStatus
  stdout?: string
  stderr?: string
}

export interface ExecutionDetail extends Execution {
  results: Result[] | null
}

export interface AuditEvent {
  id: number
  actor: string
  action: string
  target: string
  payload: unknown
  occurred_at: string
  source_ip: string
}

export interface FleetHealth {
  status: 'ok' | 'degraded'
  agents_known: number
  agents_online: number
  failures_24h: number
  running_executions: number
  jetstream?: {
    streams?: { name: string; messages: number; bytes: number; consumers: number }[]
    kv?: { bucket: string; values: number }[]
    store_bytes?: number
  }
}

export interface Job {
  id: string
  version: string
  description?: string
  tags?: string[] | null
  execute: { shell: string; script: string; timeout: string; cwd?: string; run_as?: string }
  status: 'ACTIVE' | 'REVOKED'
  pinned_version?: string
  yaml?: string
}

export interface Target {
  all?: boolean
  groups?: string[]
  pcs?: string[]
}

export interface Wave {
  group: string
  delay: string
}

export interface ExecRequest {
  target: Target
  rollout?: { waves: Wave[] }
  jitter?: string
  deadline_at?: string
}

export interface ExecResponse {
  exec_id: string
  job_id: string
  version: string
  target_count: number
  subjects: string[]
}

export interface Schedule {
  id: string
  job_id: string
  enabled: boolean
  tz?: string
  cron?: string
  calendar?: unknown
  per_pc?: unknown
  when?: { cron?: string; calendar?: unknown; per_pc?: unknown }
  target?: Target
  rollout?: { waves: Wave[] }
  jitter?: string
  starting_deadline?: string
  next_fire: string | null
  last_fire: string | null
  last_exec_id: string | null
  yaml?: string
  [k: string]: unknown
}

export interface ConfigScope {
  heartbeat_interval?: string
  max_local_concurrent?: number
  target_version?: string
  outbox_max_entries?: number
}

export interface EffectiveConfig {
  effective: Record<string, unknown>
  warnings: string[] | null
  layers: Record<string, unknown>
}

export interface Freeze {
  frozen: boolean
  reason?: string
  by?: string
  since?: string
  until?: string | null
}

export interface FreezeRequest {
  reason: string
  until?: string
}

export interface Me {
  username: string
  role: 'viewer' | 'operator' | 'admin'
  must_change_pw?: boolean
}

export interface ExecResult {
  result_id?: string
  exec_id?: string
  pc_id?: string
  exit_code: number
  stdout: string
  stderr: string
  started_at?: string
  finished_at?: string
  timed_out?: boolean
  killed?: boolean
  skipped?: boolean
  [k: string]: unknown
}

export interface RunRequest {
  pc_id: string
  shell: string
  script: string
  timeout_secs: number
}

export interface KillResponse {
  killed_exec_ids: string[] | null
  cancelled_waves: number
}

export interface SchedulePreview {
  fires: string[]
}

export interface LoginResponse {
  token: string
}

export interface VersionInfo {
  version: string
  commit?: string
}

// ---- client-side parameters (not part of the wire contract) ----

/** Which configuration layer an editor shows. */
export type ConfigScopeRef = { kind: 'global' } | { kind: 'group'; name: string } | { kind: 'pc'; name: string }

export interface ExecutionListParams {
  job_id?: string
  status?: string
  limit: number
  offset: number
}

export interface AuditListParams {
  actor?: string
  action?: string
  /** RFC 3339 lower bound. */
  since?: string
  limit: number
  offset: number
}
