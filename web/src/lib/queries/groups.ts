// Agent groups and their membership.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { GroupMembers } from '../types'
import { agentKeys } from './agents'
import { configKeys } from './config'
import type { QueryOpts } from './options'

export const groupKeys = {
  all: () => ['groups'],
}

// ---- fetchers ----

/** Every group with its members ([] for none: Go may send a nil slice as null). */
export const listGroups = () => client.listGroups().then((gs) => gs ?? [])
export const addToGroup = (pc: string, group: string) => client.addAgentGroup(pc, { group })
export const removeFromGroup = (pc: string, group: string) => client.removeAgentGroup(pc, group)

// ---- hooks ----

export function useGroups(opts?: QueryOpts<GroupMembers[]>) {
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
