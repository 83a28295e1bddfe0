// Agents: the fleet table, one agent, ping and delete.
import { useQueries, useQuery, type InfiniteData, type QueryClient } from '@tanstack/react-query'
import { allPages } from '../api'
import { client } from '../client'
import { agentQueryParams, agentQueryToAPI, type AgentQuery, type AgentStatus } from '../filters'
import type { Agent, AgentListQuery, List } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const agentKeys = {
  /** Prefix of every agent list (pages, versions). */
  all: () => ['agents'],
  /** The cursor-loaded list (its pages) with query string `base`. */
  list: (base: string) => ['agents', 'list', base],
  versions: () => ['agents', 'versions'],
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

/** Every agent matching q's filter (status, search, group), all pages: for "select all" and CSV. */
export function allAgentsMatching(q: AgentQuery) {
  return allPages((page) => listAgents({ ...agentQueryParams(q, page.limit, 0), cursor: page.cursor }))
}

export type VersionCount = { total: number; online: number }

/** The agent-version distribution of the whole fleet. */
async function agentVersions(): Promise<{ total: number; versions: [string, VersionCount][] }> {
  // The version distribution needs every agent; 1000 per page keeps it to a few requests even at 10 000.
  const out = await allPages((page) => listAgents({ ...page, sort: 'pc_id' }), 1000, 100_000)
  const m = new Map<string, VersionCount>()
  for (const a of out) {
    const v = m.get(a.agent_version || '?') ?? { total: 0, online: 0 }
    v.total++
    if (a.online) v.online++
    m.set(a.agent_version || '?', v)
  }
  return { total: out.length, versions: [...m.entries()].sort((a, b) => b[1].total - a[1].total) }
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
