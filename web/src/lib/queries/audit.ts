// The audit log.
import { requestOf } from '../api'
import { client } from '../client'
import type { AuditEntry, AuditListParams } from '../types'
import { usePagedList, type PagedOpts } from './paged'

export const auditKeys = {
  all: () => ['audit'],
  list: (qs: string) => ['audit', qs],
}

/** The list's parameters as a query string: a stable name for its key. */
function listQuery(p: AuditListParams): string {
  const q = new URLSearchParams()
  if (p.actor) q.set('actor', p.actor)
  if (p.action) q.set('action', p.action)
  if (p.since) q.set('since', p.since)
  q.set('limit', String(p.limit))
  return q.toString()
}

// ---- fetchers ----

export const listAudit = (p: AuditListParams & { cursor?: string }, signal?: AbortSignal) => client.listAudit(p, { signal })
/** The audit rows matching p as a request (its CSV export: components/ExportCSV). */
export const auditExport = (p: AuditListParams) => requestOf((api) => api.listAudit(p))

// ---- hooks ----

/** The audit rows matching p, p.limit a page, loaded by cursor. */
export function useAuditList(p: AuditListParams, opts?: PagedOpts) {
  return usePagedList<AuditEntry>(auditKeys.list(listQuery(p)), (cursor, signal) => listAudit({ ...p, cursor }, signal), opts)
}
