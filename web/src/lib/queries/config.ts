// Layered agent configuration: global, per group and per PC scopes, and the
// effective result for one PC.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api, ApiError, enc } from '../api'
import type { ConfigScope, ConfigScopeRef, EffectiveConfig } from '../types'
import type { QueryOpts } from './options'

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
    return (await api<ConfigScope>(scopePath(s))) ?? {}
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return {} as ConfigScope
    throw e
  }
}
export const putScope = (s: ConfigScopeRef, body: ConfigScope) => api(scopePath(s), { method: 'PUT', body })
export const deleteScope = (s: ConfigScopeRef) => api(scopePath(s), { method: 'DELETE' })
export const getEffective = (pc: string) => api<EffectiveConfig>(`/api/agents/${enc(pc)}/effective_config`)

// ---- hooks ----

export function useConfigScope(s: ConfigScopeRef, opts?: QueryOpts<ConfigScope>) {
  return useQuery({ queryKey: configKeys.scope(s), queryFn: () => getScope(s), ...opts })
}

export function useEffectiveConfig(pc: string, opts?: QueryOpts<EffectiveConfig>) {
  return useQuery({ queryKey: configKeys.effective(pc), queryFn: () => getEffective(pc), ...opts })
}

// ---- invalidation ----

/** After a scope changed: that scope and every effective config (any PC may inherit it). */
export function invalidateConfig(qc: QueryClient, s: ConfigScopeRef) {
  qc.invalidateQueries({ queryKey: configKeys.scope(s) })
  qc.invalidateQueries({ queryKey: configKeys.effectiveAll() })
}
