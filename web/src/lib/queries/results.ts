// Results: one execution's outcome on one PC (or one ad-hoc run).
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api, apiList, enc } from '../api'
import { resultFilterToAPI, type ResultFilter } from '../filters'
import type { Result } from '../types'
import type { QueryOpts } from './options'

export const resultKeys = {
  /** Prefix of every result list. */
  all: () => ['results'],
  recent: () => ['results', 'recent'],
  pc: (pc: string) => ['results', 'pc', pc],
  list: (qs: string) => ['results', 'list', qs],
  one: (id: string) => ['result', id],
}

// ---- fetchers ----

export const recentResults = (limit: number) => api<Result[]>(`/api/results?limit=${limit}`)
export const pcResults = (pc: string, limit: number) => api<Result[]>(`/api/results?pc_id=${enc(pc)}&limit=${limit}`)
/** `qs` is a query string as built by lib/filters (resultFilterToAPI). */
export const listResults = (qs: string, signal?: AbortSignal) => apiList<Result>(`/api/results?${qs}`, signal)
export const getResult = (id: string) => api<Result>(`/api/results/${enc(id)}`)

// ---- hooks ----

export function useRecentResults(limit: number, opts?: QueryOpts<Result[]>) {
  return useQuery({ queryKey: resultKeys.recent(), queryFn: () => recentResults(limit), ...opts })
}

export function usePcResults(pc: string, limit: number, opts?: QueryOpts<Result[]>) {
  return useQuery({ queryKey: resultKeys.pc(pc), queryFn: () => pcResults(pc, limit), ...opts })
}

/**
 * One page of results matching f. `now` anchors a relative `since`; round it
 * (to the minute) so the key stays stable between renders.
 */
export function useResultList(f: ResultFilter, now: number, limit: number, offset: number, opts?: QueryOpts<{ items: Result[]; total: number }>) {
  const qs = resultFilterToAPI(f, now, limit, offset)
  return useQuery({ queryKey: resultKeys.list(qs), queryFn: ({ signal }) => listResults(qs, signal), ...opts })
}

export function useResult(id: string, opts?: QueryOpts<Result>) {
  return useQuery({ queryKey: resultKeys.one(id), queryFn: () => getResult(id), ...opts })
}

// ---- invalidation ----

export const invalidateResults = (qc: QueryClient) => qc.invalidateQueries({ queryKey: resultKeys.all() })
