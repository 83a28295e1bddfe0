// Agent self-update rollouts (SPEC §13): where target_version is set (the
// global and group config scopes), how many PCs of each scope run it, and
// which PCs report a failed update or a quarantined version.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { Agent, ConfigScopeRef, List } from '../types'
import { agentKeys, countAgents, listAgents } from './agents'
import { getScope, invalidateConfig } from './config'
import { listGroups } from './groups'
import type { QueryOpts } from './options'

export const rolloutKeys = {
  targets: () => ['rollout', 'targets'],
  /** Agents in one update state (under agentKeys.all, so agent invalidation refreshes them). */
  inState: (state: string, limit: number) => [...agentKeys.all(), 'inState', state, limit],
}

/** One scope that sets target_version, and how far its PCs got. */
export type RolloutTarget = { scope: ConfigScopeRef; target: string; atTarget: number; total: number }

// ---- fetchers ----

/** Every global and group scope with a target_version, with its PCs at target and in scope. */
export async function listTargets(): Promise<RolloutTarget[]> {
  const groups = await listGroups()
  const scopes: ConfigScopeRef[] = [{ kind: 'global' }, ...groups.map((g) => ({ kind: 'group' as const, name: g.group }))]
  const withTarget = (await Promise.all(scopes.map(async (s) => ({ s, target: (await getScope(s)).target_version })))).filter((x) => !!x.target)
  return Promise.all(
    withTarget.map(async ({ s, target }) => {
      const group = s.kind === 'group' ? s.name : undefined
      const [atTarget, total] = await Promise.all([countAgents({ group, version: target }), countAgents({ group })])
      return { scope: s, target: target!, atTarget, total }
    }),
  )
}

/** Unsets target_version on a scope: what halts a rollout there. */
export const unsetTarget = (s: ConfigScopeRef) =>
  s.kind === 'global'
    ? client.patchGlobalConfig({ target_version: null })
    : s.kind === 'group'
      ? client.patchGroupConfig(s.name, { target_version: null })
      : client.patchPCConfig(s.name, { target_version: null })

const agentsInState = (state: string, limit: number) => listAgents({ update_state: state, limit, offset: 0, sort: 'pc_id' })

// ---- hooks ----

export function useRolloutTargets(opts?: QueryOpts<RolloutTarget[]>) {
  return useQuery({ queryKey: rolloutKeys.targets(), queryFn: listTargets, ...opts })
}

export function useAgentsInState(state: 'failed' | 'quarantined', limit: number, opts?: QueryOpts<List<Agent>>) {
  return useQuery({ queryKey: rolloutKeys.inState(state, limit), queryFn: () => agentsInState(state, limit), ...opts })
}

// ---- invalidation ----

export function invalidateRollout(qc: QueryClient, s: ConfigScopeRef) {
  invalidateConfig(qc, s)
  qc.invalidateQueries({ queryKey: rolloutKeys.targets() })
}
