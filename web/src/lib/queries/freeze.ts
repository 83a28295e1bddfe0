// The fleet-wide change freeze.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api } from '../api'
import type { Freeze, FreezeRequest } from '../types'
import type { QueryOpts } from './options'

export const freezeKeys = {
  all: () => ['freeze'],
}

// ---- fetchers ----

export const getFreeze = () => api<Freeze>('/api/freeze')
export const freezeFleet = (req: FreezeRequest) => api('/api/freeze', { method: 'PUT', body: req })
export const thawFleet = () => api('/api/freeze', { method: 'DELETE' })

// ---- hooks ----

export function useFreeze(opts?: QueryOpts<Freeze>) {
  return useQuery({ queryKey: freezeKeys.all(), queryFn: getFreeze, ...opts })
}

// ---- invalidation ----

export const invalidateFreeze = (qc: QueryClient) => qc.invalidateQueries({ queryKey: freezeKeys.all() })
