// Agents: the fleet table, one agent, ping and delete.
import { useQueries, useQuery, type QueryClient } from '@tanstack/react-query'
import { api, apiAll, apiList, enc, type Page } from '../api'
import { agentQueryToAPI, type AgentQuery, type AgentStatus } from '../filters'
import type { Agent } from '../types'
import type { QueryOpts } from './options'

export const agentKeys = {
  /** Prefix of every agent list (pages, versions). */
  all: () => ['agents'],
  /** Page `page` of the list whose first page has query string `base`. */
  page: (base: string, page: number) => ['agents', base, page],
  versions: () => ['agents', 'versions'],
  /** Prefix of the per-status counts. */
  counts: () => ['agentCounts'],
  count: (status: AgentStatus, q: string, group: string) => ['agentCounts', status, q, group],
  one: (pc: string) => ['agent', pc],
}

// ---- fetchers ----

/** `qs` is a query string as built by lib/filters (agentQueryToAPI). */
export const listAgents = (qs: string, signal?: AbortSignal) => apiList<Agent>(`/api/agents?${qs}`, signal)
export const getAgent = (pc: string) => api<Agent>(`/api/agents/${enc(pc)}`)
export const deleteAgent = (pc: string) => api(`/api/agents/${enc(pc)}`, { method: 'DELETE' })
export const pingAgent = (pc: string) => api(`/api/agents/${enc(pc)}/ping`, { method: 'POST' })

/** Every agent matching q's filter (status, search, group), all pages: for "select all" and CSV. */
export function allAgentsMatching(q: AgentQuery) {
  const filter = agentQueryToAPI(q, 1, 0).replace(/&?limit=1&offset=0/, '')
  return apiAll<Agent>(`/api/agents?${filter}`)
}

export type VersionCount = { total: number; online: number }

/** The agent-version distribution of the whole fleet. */
async function agentVersions(): Promise<{ total: number; versions: [string, VersionCount][] }> {
  // The version distribution needs every agent; 1000 per page keeps it to a few requests even at 10 000.
  const out: Agent[] = []
  for (let off = 0; off < 100_000; off += 1000) {
    const p = await listAgents(`limit=1000&offset=${off}&sort=pc_id`)
    out.push(...p.items)
    if (p.items.length < 1000 || out.length >= p.total) break
  }
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

/** Page `page` (of `size` rows) of the agents matching q. */
export function useAgentPage(q: AgentQuery, size: number, page: number, opts?: QueryOpts<Page<Agent>>) {
  return useQuery({
    queryKey: agentKeys.page(agentQueryToAPI(q, size, 0), page),
    queryFn: ({ signal }) => listAgents(agentQueryToAPI(q, size, page * size), signal),
    ...opts,
  })
}

/** Several pages at once (the virtual list asks for the ones in view). */
export function useAgentPages(q: AgentQuery, size: number, pages: number[], opts: { refetchInterval?: number | false; staleTime?: number }) {
  const base = agentQueryToAPI(q, size, 0)
  return useQueries({
    queries: pages.map((p) => ({
      queryKey: agentKeys.page(base, p),
      queryFn: ({ signal }: { signal: AbortSignal }) => listAgents(agentQueryToAPI(q, size, p * size), signal),
      ...opts,
    })),
  })
}

/** How many agents match q's search and group in each status, in the order given. */
export function useAgentCounts(q: AgentQuery, statuses: AgentStatus[], opts: { refetchInterval?: number | false }) {
  return useQueries({
    queries: statuses.map((s) => ({
      queryKey: agentKeys.count(s, q.q, q.group),
      queryFn: () => listAgents(agentQueryToAPI(q, 1, 0, s)).then((p) => p.total),
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

/** Shows `group` on the listed agents in every cached agent page at once (the broker confirms later). */
export function patchAgentsJoinedGroup(qc: QueryClient, group: string, pcs: string[]) {
  const set = new Set(pcs)
  qc.setQueriesData<Page<Agent>>({ queryKey: agentKeys.all() }, (old) =>
    old && Array.isArray(old.items)
      ? { ...old, items: old.items.map((a) => (set.has(a.pc_id) && !(a.groups ?? []).includes(group) ? { ...a, groups: [...(a.groups ?? []), group].sort() } : a)) }
      : old,
  )
}
