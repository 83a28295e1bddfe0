// Compliance checks and their alerts (SPEC §15, docs/checks.md): the
// per-check summary, one check's PCs in a state, and the alerts list with
// its ack. The "alert" live event makes these stale (lib/live.tsx).
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { allPages, requestOf } from '../api'
import { client } from '../client'
import type { Alert, AlertQuery, CheckStatus, CheckStatusQuery, CheckSummary, CheckTrend } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const checkKeys = {
  all: () => ['checks'],
  summary: () => ['checks', 'summary'],
  status: (qs: string) => ['checks', 'status', qs],
  trend: (id: string, days: number) => ['checks', 'trend', id, days],
}
export const alertKeys = {
  all: () => ['alerts'],
  list: (qs: string) => ['alerts', 'list', qs],
  openCount: () => ['alerts', 'open-count'],
}

// ---- fetchers ----

export const listChecks = (signal?: AbortSignal) => allPages<CheckSummary>((p) => client.listChecks(p, { signal }))
export const checksExport = () => requestOf((api) => api.listChecks({}))
export const checkStatusExport = (q: CheckStatusQuery) => requestOf((api) => api.listCheckStatus(q))
export const alertsExport = (q: AlertQuery) => requestOf((api) => api.listAlerts(q))
export const ackAlert = (id: string) => client.ackAlert(id)
/** The number of open alerts: the list's total (X-Total-Count), one row fetched. */
export const countOpenAlerts = (signal?: AbortSignal) => client.listAlerts({ state: 'open', limit: 1 }, { signal }).then((l) => l.total)

// ---- hooks ----

export function useChecks(opts?: QueryOpts<CheckSummary[]>) {
  return useQuery({ queryKey: checkKeys.summary(), queryFn: ({ signal }) => listChecks(signal), ...opts })
}

/** One check's PCs (state: failing, passing, unknown or all), loaded by cursor. */
/** One check's % passing per day over the last `days` days (GET /api/checks/{id}/trend). */
export function useCheckTrend(id: string, days: number, opts?: QueryOpts<CheckTrend>) {
  return useQuery({
    queryKey: checkKeys.trend(id, days),
    queryFn: ({ signal }) => client.checkTrend(id, { days }, { signal }),
    enabled: !!id,
    ...opts,
  })
}

export function useCheckStatus(q: CheckStatusQuery & { limit: number }, opts?: PagedOpts) {
  return usePagedList<CheckStatus>(
    checkKeys.status(JSON.stringify(q)),
    (cursor, signal) => client.listCheckStatus({ ...q, cursor }, { signal }),
    { enabled: !!q.check_id, ...opts },
  )
}

export function useAlerts(q: AlertQuery & { limit: number }, opts?: PagedOpts) {
  return usePagedList<Alert>(alertKeys.list(JSON.stringify(q)), (cursor, signal) => client.listAlerts({ ...q, cursor }, { signal }), opts)
}

export function useOpenAlertCount(opts?: QueryOpts<number>) {
  return useQuery({ queryKey: alertKeys.openCount(), queryFn: ({ signal }) => countOpenAlerts(signal), ...opts })
}

// ---- invalidation ----

export const invalidateAlerts = (qc: QueryClient) => qc.invalidateQueries({ queryKey: alertKeys.all() })
