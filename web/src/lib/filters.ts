// Filter state for list pages, kept in the URL so links from the dashboard
// land on a pre-filtered list and a reload keeps the view.
import type { Agent, AgentListQuery, Job, ResultQuery, ResultStatus } from './types'

export type AgentStatus = 'all' | 'online' | 'offline'
export const agentSortKeys = ['pc_id', 'hostname', 'last_heartbeat', 'os_family', 'agent_version'] as const
export type AgentSortKey = (typeof agentSortKeys)[number]

/** Self-update states an agent reports (SPEC §13; wire.UpdateStates). */
export const updateStates = ['current', 'downloading', 'restarting', 'failed', 'quarantined'] as const
export type UpdateState = (typeof updateStates)[number]

export interface AgentQuery {
  status: AgentStatus
  q: string
  sort: AgentSortKey
  order: 'asc' | 'desc'
  group: string
  /** Self-update filters (exact): update_state, agent_version, quarantined_version; '' = any. */
  update_state: UpdateState | ''
  version: string
  quarantined: string
}

export const defaultAgentQuery: AgentQuery = { status: 'all', q: '', sort: 'pc_id', order: 'asc', group: '', update_state: '', version: '', quarantined: '' }

export function parseAgentQuery(p: URLSearchParams): AgentQuery {
  const status = p.get('status')
  const sort = p.get('sort') as AgentSortKey | null
  return {
    status: status === 'online' || status === 'offline' ? status : 'all',
    q: (p.get('q') ?? '').trim().slice(0, 200),
    sort: sort && agentSortKeys.includes(sort) ? sort : 'pc_id',
    order: p.get('order') === 'desc' ? 'desc' : 'asc',
    group: (p.get('group') ?? '').trim(),
    update_state: updateStates.find((s) => s === p.get('update_state')) ?? '',
    version: (p.get('version') ?? '').trim().slice(0, 64),
    quarantined: (p.get('quarantined') ?? '').trim().slice(0, 64),
  }
}

/** URL params for the page address: defaults are left out to keep links short. */
export function agentQueryToURL(q: AgentQuery): URLSearchParams {
  const p = new URLSearchParams()
  if (q.status !== 'all') p.set('status', q.status)
  if (q.q) p.set('q', q.q)
  if (q.sort !== 'pc_id') p.set('sort', q.sort)
  if (q.order !== 'asc') p.set('order', q.order)
  if (q.group) p.set('group', q.group)
  if (q.update_state) p.set('update_state', q.update_state)
  if (q.version) p.set('version', q.version)
  if (q.quarantined) p.set('quarantined', q.quarantined)
  return p
}

/** The parameters of GET /api/agents (status overrides q.status: the per-status counts). */
export function agentQueryParams(q: AgentQuery, limit: number, offset: number, status: AgentStatus = q.status): AgentListQuery {
  return {
    status: status === 'all' ? undefined : status,
    q: q.q || undefined,
    group: q.group || undefined,
    update_state: q.update_state || undefined,
    version: q.version || undefined,
    quarantined: q.quarantined || undefined,
    sort: q.sort,
    order: q.order,
    limit,
    offset,
  }
}

/** The same parameters as a query string: a stable name for the request (its query key). */
export function agentQueryToAPI(q: AgentQuery, limit: number, offset: number, status: AgentStatus = q.status): string {
  return toQueryString(agentQueryParams(q, limit, offset, status))
}

function toQueryString(params: object): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, String(v))
  return p.toString()
}

/** Clicking a column header: same column flips the order, a new column starts ascending. */
export function toggleSort(q: AgentQuery, key: AgentSortKey): AgentQuery {
  if (q.sort === key) return { ...q, order: q.order === 'asc' ? 'desc' : 'asc' }
  return { ...q, sort: key, order: key === 'last_heartbeat' ? 'desc' : 'asc' }
}

/** The same semantics as the server, for data already in the browser. */
export function matchAgent(a: Agent, q: AgentQuery): boolean {
  if (q.status === 'online' && !a.online) return false
  if (q.status === 'offline' && a.online) return false
  if (q.group && !(a.groups ?? []).includes(q.group)) return false
  if (q.update_state && a.update_state !== q.update_state) return false
  if (q.version && a.agent_version !== q.version) return false
  if (q.quarantined && a.quarantined_version !== q.quarantined) return false
  if (q.q) {
    const needle = q.q.toLowerCase()
    if (!a.pc_id.toLowerCase().includes(needle) && !(a.hostname ?? '').toLowerCase().includes(needle)) return false
  }
  return true
}

export function compareAgents(a: Agent, b: Agent, key: AgentSortKey, order: 'asc' | 'desc'): number {
  const av = (a[key] ?? '') as string
  const bv = (b[key] ?? '') as string
  let c = av < bv ? -1 : av > bv ? 1 : 0
  if (c === 0 && key !== 'pc_id') c = a.pc_id < b.pc_id ? -1 : a.pc_id > b.pc_id ? 1 : 0
  return order === 'asc' ? c : -c
}

export function filterAgents(all: readonly Agent[], q: AgentQuery): Agent[] {
  return all.filter((a) => matchAgent(a, q)).sort((a, b) => compareAgents(a, b, q.sort, q.order))
}

/** Jobs: free text over id, description and tags; every selected tag must be present. */
export function filterJobs(jobs: readonly Job[], text: string, tags: readonly string[]): Job[] {
  const needle = text.trim().toLowerCase()
  return jobs.filter((j) => {
    const jt = j.tags ?? []
    if (tags.some((t) => !jt.includes(t))) return false
    if (!needle) return true
    return (
      j.id.toLowerCase().includes(needle) ||
      (j.description ?? '').toLowerCase().includes(needle) ||
      jt.some((t) => t.toLowerCase().includes(needle))
    )
  })
}

export function allTags(jobs: readonly Job[]): string[] {
  return [...new Set(jobs.flatMap((j) => j.tags ?? []))].sort()
}

export const sincePresets = ['1h', '24h', '7d', '30d', 'all'] as const
export type SincePreset = (typeof sincePresets)[number]

export function sinceFromPreset(p: string | null, now: number): string | undefined {
  const h: Record<string, number> = { '1h': 1, '24h': 24, '7d': 24 * 7, '30d': 24 * 30 }
  if (!p || !(p in h)) return undefined
  return new Date(now - h[p] * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export interface ResultFilter {
  job_id: string
  pc_id: string
  exec_id: string
  status: ResultStatus | ''
  since: SincePreset
}

export function parseResultFilter(p: URLSearchParams): ResultFilter {
  const st = p.get('status')
  const since = p.get('since') as SincePreset | null
  return {
    job_id: p.get('job_id') ?? '',
    pc_id: p.get('pc_id') ?? '',
    exec_id: p.get('exec_id') ?? '',
    status: st === 'running' || st === 'success' || st === 'failure' || st === 'skipped' ? st : '',
    since: since && sincePresets.includes(since) ? since : '24h',
  }
}

/** The parameters of GET /api/results; `now` anchors a relative `since`. */
export function resultFilterParams(f: ResultFilter, now: number, limit: number, offset: number): ResultQuery {
  const text = (k: 'job_id' | 'pc_id' | 'exec_id') => f[k].trim() || undefined
  return {
    job_id: text('job_id'),
    pc_id: text('pc_id'),
    exec_id: text('exec_id'),
    status: f.status || undefined,
    since: sinceFromPreset(f.since, now),
    limit,
    offset,
  }
}

/** The same parameters as a query string: a stable name for the request (its query key). */
export function resultFilterToAPI(f: ResultFilter, now: number, limit: number, offset: number): string {
  return toQueryString(resultFilterParams(f, now, limit, offset))
}

/** Why a run did not run, from its reserved exit code (see SPEC §6). */
export function skipReason(exit: number | null): string | null {
  switch (exit) {
    case 124:
      return 'skip.pin'
    case 125:
      return 'skip.deadline'
    case 126:
      return 'skip.revoked'
    default:
      return null
  }
}

/** Comma/space separated list → unique non-empty items. */
export function splitList(s: string): string[] {
  return [...new Set(s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean))]
}
