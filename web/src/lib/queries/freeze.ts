// The fleet-wide change freeze.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { FreezeRequest, FreezeView } from '../types'
import type { QueryOpts } from './options'

export const freezeKeys = {
  all: () => ['freeze'],
}

// ---- fetchers ----

export const getFreeze = () => client.getFreeze()
export const freezeFleet = (req: FreezeRequest) => client.putFreeze(req)
export const thawFleet = () => client.deleteFreeze()

// ---- hooks ----

export function useFreeze(opts?: QueryOpts<FreezeView>) {
  return useQuery({ queryKey: freezeKeys.all(), queryFn: getFreeze, ...opts })
}

// ---- invalidation ----

export const invalidateFreeze = (qc: QueryClient) => qc.invalidateQueries({ queryKey: freezeKeys.all() })
