// Agent groups and their membership.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api, enc } from '../api'
import type { Group } from '../types'
import { agentKeys } from './agents'
import { configKeys } from './config'
import type { QueryOpts } from './options'

export const groupKeys = {
  all: () => ['groups'],
}

// ---- fetchers ----

export const listGroups = () => api<Group[]>('/api/groups')
export const addToGroup = (pc: string, group: string) => api(`/api/agents/${enc(pc)}/groups`, { method: 'POST', body: { group } })
export const removeFromGroup = (pc: string, group: string) => api(`/api/agents/${enc(pc)}/groups/${enc(group)}`, { method: 'DELETE' })

// ---- hooks ----

export function useGroups(opts?: QueryOpts<Group[]>) {
  return useQuery({ queryKey: groupKeys.all(), queryFn: listGroups, ...opts })
}

// ---- invalidation ----

export const invalidateGroups = (qc: QueryClient) => qc.invalidateQueries({ queryKey: groupKeys.all() })

/** After a membership change: the groups, the agent lists and, given pc, that agent and its effective config. */
export function invalidateMembership(qc: QueryClient, pc?: string) {
  if (pc !== undefined) {
    qc.invalidateQueries({ queryKey: agentKeys.one(pc) })
    qc.invalidateQueries({ queryKey: configKeys.effective(pc) })
  }
  qc.invalidateQueries({ queryKey: agentKeys.all() })
  qc.invalidateQueries({ queryKey: groupKeys.all() })
}
