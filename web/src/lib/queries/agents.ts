// Agents: the fleet table, one agent, ping and delete.
import { useQueries, useQuery, type InfiniteData, type QueryClient } from '@tanstack/react-query'
import { allPages, requestOf } from '../api'
import { client } from '../client'
import { agentQueryParams, agentQueryToAPI, type AgentQuery, type AgentStatus } from '../filters'
import type { Agent, AgentListQuery, AgentVersion, List } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const agentKeys = {
  /** Prefix of every agent list (pages, versions). */
  all: () => ['agents'],
  /** The cursor-loaded list (its pages) with query string `base`. */
  list: (base: string) => ['agents', 'list', base],
  versions: () => ['agents', 'versions'],
  /** GET /api/agents/versions (the Rollout page). */
  distribution: () => ['agents', 'distribution'],
  /** Prefix of the per-status counts. */
  counts: () => ['agentCounts'],
  count: (status: AgentStatus, q: string, group: string) => ['agentCounts', status, q, group],
  one: (pc: string) => ['agent', pc],
}

// ---- fetchers ----

/** `p` as built by lib/filters (agentQueryParams). */
export const listAgents = (p: AgentListQuery, signal?: AbortSignal) => client.listAgents(p, { signal })
export const getAgent = (pc: string) => client.getAgent(pc)
export const deleteAgent = (pc: string) => client.deleteAgent(pc)
export const pingAgent = (pc: string) => client.pingAgent(pc)
/** The fleet's version distribution, counted by the backend (GET /api/agents/versions). */
export const listAgentVersions = (signal?: AbortSignal) => client.listAgentVersions({ signal }).then((vs) => vs ?? [])
/** How many agents match p (one row fetched, X-Total-Count read). */
export const countAgents = (p: Omit<AgentListQuery, 'limit' | 'offset'>) => listAgents({ ...p, limit: 1, offset: 0 }).then((l) => l.total)

/** Every agent matching q's filter (status, search, group), all pages: for "select all" and CSV. */
/** The agents list matching q as a request (its CSV export: components/ExportCSV). */
export const agentsExport = (q: AgentQuery) => requestOf((api) => api.listAgents(agentQueryParams(q, 0, 0)))

export function allAgentsMatching(q: AgentQuery) {
  return allPages((page) => listAgents({ ...agentQueryParams(q, page.limit, 0), cursor: page.cursor }))
}

export type VersionCount = { total: number; online: number }

/** The agent-version distribution of the whole fleet. */
async function agentVersions(): Promise<{ total: number; versions: [string, VersionCount][] }> {
  // Counted by the backend over an index (one request, whatever the fleet size).
  const vs = (await listAgentVersions()).filter((v) => v.agents > 0)
  const versions: [string, VersionCount][] = vs.map((v) => [v.version || '?', { total: v.agents, online: v.online }])
  return { total: vs.reduce((n, v) => n + v.agents, 0), versions: versions.sort((a, b) => b[1].total - a[1].total) }
}

// ---- hooks ----

export function useAgent(pc: string, opts?: QueryOpts<Agent>) {
  return useQuery({ queryKey: agentKeys.one(pc), queryFn: () => getAgent(pc), ...opts })
}

/**
 * The agents matching q, `size` a page, loaded by cursor: the virtual list
 * asks for the next page (more) as its window nears the rows loaded.
 */
export function useAgentList(q: AgentQuery, size: number, opts?: PagedOpts) {
  return usePagedList<Agent>(agentKeys.list(agentQueryToAPI(q, size, 0)), (cursor, signal) => listAgents({ ...agentQueryParams(q, size, 0), cursor }, signal), opts)
}

/** How many agents match q's search and group in each status, in the order given. */
export function useAgentCounts(q: AgentQuery, statuses: AgentStatus[], opts: { refetchInterval?: number | false }) {
  return useQueries({
    queries: statuses.map((s) => ({
      queryKey: agentKeys.count(s, q.q, q.group),
      queryFn: () => listAgents(agentQueryParams(q, 1, 0, s)).then((p) => p.total),
      ...opts,
    })),
  })
}

export function useVersionDistribution(opts?: QueryOpts<AgentVersion[]>) {
  return useQuery({ queryKey: agentKeys.distribution(), queryFn: ({ signal }) => listAgentVersions(signal), ...opts })
}

export function useAgentVersions(opts?: QueryOpts<Awaited<ReturnType<typeof agentVersions>>>) {
  return useQuery({ queryKey: agentKeys.versions(), queryFn: agentVersions, ...opts })
}

// ---- invalidation and cache patches ----

export const invalidateAgents = (qc: QueryClient) => qc.invalidateQueries({ queryKey: agentKeys.all() })
export const invalidateAgent = (qc: QueryClient, pc: string) => qc.invalidateQueries({ queryKey: agentKeys.one(pc) })

/** Shows `group` on the listed agents in every cached agent list at once (the broker confirms later). */
export function patchAgentsJoinedGroup(qc: QueryClient, group: string, pcs: string[]) {
  const set = new Set(pcs)
  const patch = (l: List<Agent>): List<Agent> =>
    Array.isArray(l.items) ? { ...l, items: l.items.map((a) => (set.has(a.pc_id) && !(a.groups ?? []).includes(group) ? { ...a, groups: [...(a.groups ?? []), group].sort() } : a)) } : l
  qc.setQueriesData<List<Agent> | InfiniteData<List<Agent>>>({ queryKey: agentKeys.all() }, (old) => {
    if (!old) return old
    if ('pages' in old && Array.isArray(old.pages)) return { ...old, pages: old.pages.map(patch) }
    return 'items' in old ? patch(old) : old
  })
}
