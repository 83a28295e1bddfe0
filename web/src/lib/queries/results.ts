// Results: one execution's outcome on one PC (or one ad-hoc run).
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { requestOf } from '../api'
import { client } from '../client'
import { resultFilterParams, resultFilterToAPI, type ResultFilter } from '../filters'
import type { Result, ResultQuery } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const resultKeys = {
  /** Prefix of every result list. */
  all: () => ['results'],
  recent: () => ['results', 'recent'],
  pc: (pc: string) => ['results', 'pc', pc],
  list: (qs: string) => ['results', 'list', qs],
  one: (id: string) => ['result', id],
}

// ---- fetchers ----

export const recentResults = (limit: number) => client.listResults({ limit }).then((l) => l.items)
export const pcResults = (pc: string, limit: number) => client.listResults({ pc_id: pc, limit }).then((l) => l.items)
/** `p` as built by lib/filters (resultFilterParams). */
export const listResults = (p: ResultQuery, signal?: AbortSignal) => client.listResults(p, { signal })
export const getResult = (id: string) => client.getResult(id)
/** The results matching f as a request (its CSV export: components/ExportCSV). */
export const resultsExport = (f: ResultFilter, now: number) => requestOf((api) => api.listResults(resultFilterParams(f, now, 0, 0)))

// ---- hooks ----

export function useRecentResults(limit: number, opts?: QueryOpts<Result[]>) {
  return useQuery({ queryKey: resultKeys.recent(), queryFn: () => recentResults(limit), ...opts })
}

export function usePcResults(pc: string, limit: number, opts?: QueryOpts<Result[]>) {
  return useQuery({ queryKey: resultKeys.pc(pc), queryFn: () => pcResults(pc, limit), ...opts })
}

/**
 * The results matching f, `limit` a page, loaded by cursor. `now` anchors a
 * relative `since`; round it (to the minute) so the key stays stable
 * between renders (and the cursor's filters with it).
 */
export function useResultList(f: ResultFilter, now: number, limit: number, opts?: PagedOpts) {
  const qs = resultFilterToAPI(f, now, limit, 0)
  return usePagedList<Result>(resultKeys.list(qs), (cursor, signal) => listResults({ ...resultFilterParams(f, now, limit, 0), cursor }, signal), opts)
}

export function useResult(id: string, opts?: QueryOpts<Result>) {
  return useQuery({ queryKey: resultKeys.one(id), queryFn: () => getResult(id), ...opts })
}

// ---- invalidation ----

export const invalidateResults = (qc: QueryClient) => qc.invalidateQueries({ queryKey: resultKeys.all() })
