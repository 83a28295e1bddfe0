// Fleet health (the dashboard tiles) and the backend's version.
import { useQuery } from '@tanstack/react-query'
import { api, ApiError } from '../api'
import { getToken, setToken } from '../auth'
import type { FleetHealth, VersionInfo } from '../types'
import type { QueryOpts } from './options'

export const healthKeys = {
  fleet: () => ['health'],
  version: () => ['version'],
}

// ---- fetchers ----

export async function fleetHealth(): Promise<FleetHealth> {
  // 503 still carries the body: the fleet is degraded, not the dashboard.
  const tok = getToken()
  const r = await fetch('/api/health/fleet', { headers: tok ? { Authorization: `Bearer ${tok}` } : {} })
  if (r.ok || r.status === 503) return (await r.json()) as FleetHealth
  if (r.status === 401) setToken('')
  throw new ApiError(r.status, `HTTP ${r.status}`)
}

export const getVersion = () => api<VersionInfo>('/api/version')

// ---- hooks ----

export function useFleetHealth(opts?: QueryOpts<FleetHealth>) {
  return useQuery({ queryKey: healthKeys.fleet(), queryFn: fleetHealth, ...opts })
}

export function useVersion() {
  return useQuery({ queryKey: healthKeys.version(), queryFn: getVersion, staleTime: Infinity })
}
