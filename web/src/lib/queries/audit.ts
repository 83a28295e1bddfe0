// The audit log.
import { useQuery } from '@tanstack/react-query'
import { client } from '../client'
import type { AuditEntry, AuditListParams, List } from '../types'
import type { QueryOpts } from './options'

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
  q.set('offset', String(p.offset))
  return q.toString()
}

// ---- fetchers ----

export const listAudit = (p: AuditListParams, signal?: AbortSignal) => client.listAudit(p, { signal })

// ---- hooks ----

export function useAuditList(p: AuditListParams, opts?: QueryOpts<List<AuditEntry>>) {
  return useQuery({ queryKey: auditKeys.list(listQuery(p)), queryFn: ({ signal }) => listAudit(p, signal), ...opts })
}
