// Fleet health (the dashboard tiles) and the backend's version.
import { useQuery } from '@tanstack/react-query'
import { client } from '../client'
import type { FleetHealth, VersionInfo } from '../types'
import type { QueryOpts } from './options'

export const healthKeys = {
  fleet: () => ['health'],
  version: () => ['version'],
}

// ---- fetchers ----

/** The fleet's health; a 503 still carries it (the fleet is degraded, not the dashboard): the endpoint lists 503 as alsoOK. */
export const fleetHealth = (): Promise<FleetHealth> => client.fleetHealth()

export const getVersion = (): Promise<VersionInfo> => client.version()

// ---- hooks ----

export function useFleetHealth(opts?: QueryOpts<FleetHealth>) {
  return useQuery({ queryKey: healthKeys.fleet(), queryFn: fleetHealth, ...opts })
}

export function useVersion() {
  return useQuery({ queryKey: healthKeys.version(), queryFn: getVersion, staleTime: Infinity })
}
