// Layered agent configuration: global, per group and per PC scopes, and the
// effective result for one PC.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { ApiError, enc } from '../api'
import { client } from '../client'
import type { ConfigScope, ConfigScopeRef, EffectiveView } from '../types'
import type { QueryOpts } from './options'

// The scope's address names it in keys and as a React key; requests go through the client.
const scopePath = (s: ConfigScopeRef) => (s.kind === 'global' ? '/api/config' : s.kind === 'group' ? `/api/groups/${enc(s.name)}/config` : `/api/pcs/${enc(s.name)}/config`)

/** A string naming the scope, stable across renders (a React key). */
export const scopeId = (s: ConfigScopeRef) => scopePath(s)

export const configKeys = {
  scope: (s: ConfigScopeRef) => ['config', scopePath(s)],
  /** Prefix of every effective config. */
  effectiveAll: () => ['effective'],
  effective: (pc: string) => ['effective', pc],
}

// ---- fetchers ----

/** One scope's settings; a scope never written reads as empty. */
export async function getScope(s: ConfigScopeRef): Promise<ConfigScope> {
  try {
    const got = s.kind === 'global' ? client.getGlobalConfig() : s.kind === 'group' ? client.getGroupConfig(s.name) : client.getPCConfig(s.name)
    return (await got) ?? {}
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return {}
    throw e
  }
}
export const putScope = (s: ConfigScopeRef, body: ConfigScope) =>
  s.kind === 'global' ? client.putGlobalConfig(body) : s.kind === 'group' ? client.putGroupConfig(s.name, body) : client.putPCConfig(s.name, body)
/** Deletes a group's or a PC's scope (the page offers no delete for the global one: the API has none). */
export const deleteScope = (s: ConfigScopeRef) =>
  s.kind === 'global'
    ? Promise.reject(new ApiError(405, 'the global config scope cannot be deleted'))
    : s.kind === 'group'
      ? client.deleteGroupConfig(s.name)
      : client.deletePCConfig(s.name)
export const getEffective = (pc: string) => client.getEffectiveConfig(pc)

// ---- hooks ----

export function useConfigScope(s: ConfigScopeRef, opts?: QueryOpts<ConfigScope>) {
  return useQuery({ queryKey: configKeys.scope(s), queryFn: () => getScope(s), ...opts })
}

export function useEffectiveConfig(pc: string, opts?: QueryOpts<EffectiveView>) {
  return useQuery({ queryKey: configKeys.effective(pc), queryFn: () => getEffective(pc), ...opts })
}

// ---- invalidation ----

/** After a scope changed: that scope and every effective config (any PC may inherit it). */
export function invalidateConfig(qc: QueryClient, s: ConfigScopeRef) {
  qc.invalidateQueries({ queryKey: configKeys.scope(s) })
  qc.invalidateQueries({ queryKey: configKeys.effectiveAll() })
}
