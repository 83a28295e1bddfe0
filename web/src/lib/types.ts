// The types pages and components use, from one place. The API contract is
// generated from the Go side (internal/apiv1 → lib/api.gen.ts) and only
// re-exported here; what follows the re-export is client-side state that is
// not on the wire. architecture.test.ts fails if a contract type is copied here.
import type { AuditQuery, ExecutionQuery } from './api.gen'

export type {
  Account,
  AddGroupRequest,
  Agent,
  AgentFacts,
  AgentGroups,
  // The agents list's request parameters; lib/filters' AgentQuery is the page's filter state.
  AgentQuery as AgentListQuery,
  AgentStatus as AgentListStatus,
  AgentVersion,
  Alert,
  AlertQuery,
  // A request of the generated client (the CSV export takes one).
  ApiRequest,
  AuditEntry,
  AuditQuery,
  InventoryRow,
  InventoryRowQuery,
  InventoryTable,
  Calendar,
  CheckStatus,
  CheckStatusQuery,
  CheckSummary,
  ChangePasswordRequest,
  ConfigPatch,
  ConfigScope,
  CreateAccountRequest,
  CreateEnrollmentTokenRequest,
  CreatedEnrollmentToken,
  DeletedRelease,
  EffectiveConfig,
  EffectiveView,
  EnrollmentToken,
  ErrorBody,
  ExecRequest,
  ExecResponse,
  ExecResult,
  Execute,
  Execution,
  ExecutionDetail,
  ExecutionQuery,
  ExecutionStatus,
  FactDisk,
  FactInterface,
  FleetHealth,
  FreezeRequest,
  FreezeView,
  GroupMembers,
  HealthStatus,
  Heartbeat,
  InventoryChange,
  JetStreamHealth,
  Job,
  JobStatus,
  KVHealth,
  KillResponse,
  Layers,
  List,
  LoginRequest,
  LoginResponse,
  Manifest,
  Me,
  Page,
  PerPC,
  Preview,
  PreviewQuery,
  Release,
  ReleaseUpload,
  Result,
  ResultQuery,
  ResultStatus,
  RevokeResponse,
  Role,
  Rollout,
  RunRequest,
  Schedule,
  ScheduleRow,
  StreamHealth,
  Target,
  Time,
  UpdateAccountRequest,
  VersionInfo,
  Wave,
  When,
} from './api.gen'

// ---- client-side state (not part of the wire contract) ----

/** Which configuration layer an editor shows. */
export type ConfigScopeRef = { kind: 'global' } | { kind: 'group'; name: string } | { kind: 'pc'; name: string }

/** The executions list as the Activity page asks for it: status is the URL's value (the server checks it). */
export type ExecutionListParams = Omit<ExecutionQuery, 'status' | 'offset' | 'cursor'> & { limit: number; status?: string }

/** The audit list as the Audit page asks for it (since: RFC 3339 lower bound). */
export type AuditListParams = Omit<AuditQuery, 'offset' | 'cursor'> & { limit: number }
