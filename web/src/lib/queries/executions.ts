// Executions: one job run over a target, its progress and its per-PC results.
import { keepPreviousData, useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { ExecRequest, ExecResponse, Execution, ExecutionDetail, ExecutionListParams, ExecutionStatus, ResultGroup, RolloutActionResponse } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const executionKeys = {
  /** Prefix of every execution list. */
  all: () => ['executions'],
  byStatus: (status: ExecutionStatus) => ['executions', status],
  list: (qs: string) => ['executions', 'list', qs],
  one: (id: string | null) => ['execution', id],
  // Under one(id): what refreshes the execution (live events) refreshes its summary too.
  // `finished` (the execution's reported results) is in the key so a new count
  // refetches it even when no live event came (stream down, polled execution).
  summary: (id: string, limit: number, finished: number) => ['execution', id, 'summary', limit, finished],
}

/** The list's parameters as a query string: a stable name for its key. */
function listQuery(p: ExecutionListParams): string {
  const q = new URLSearchParams()
  if (p.job_id) q.set('job_id', p.job_id)
  if (p.status) q.set('status', p.status)
  q.set('limit', String(p.limit))
  return q.toString()
}

// ---- fetchers ----

export const listExecutionsByStatus = (status: ExecutionStatus, limit: number) => client.listExecutions({ status, limit }).then((l) => l.items)
export const listExecutions = (p: ExecutionListParams & { cursor?: string }, signal?: AbortSignal) =>
  // status comes from the URL as typed; the server rejects one it does not know (422 naming it).
  client.listExecutions({ ...p, status: (p.status || undefined) as ExecutionStatus | undefined }, { signal })
export const getExecution = (id: string) => client.getExecution(id)
/** Starts job on a target; the response names the new execution. */
export const startExecution = (job: string, req: ExecRequest): Promise<ExecResponse> => client.exec(job, req)
/** The execution's finished results grouped by outcome and stdout, largest first. */
export const executionSummary = (id: string, limit: number) => client.executionSummary(id, { limit }).then((g) => g ?? [])
export type RolloutAction = 'pause' | 'resume' | 'cancel'
/** Pauses, resumes or cancels the execution's pending rollout waves (409 when there is nothing to do). */
export const rolloutAction = (id: string, action: RolloutAction): Promise<RolloutActionResponse> =>
  action === 'pause' ? client.pauseExecution(id) : action === 'resume' ? client.resumeExecution(id) : client.cancelExecution(id)

// ---- hooks ----

/** The newest `limit` executions in one status (the dashboard's in-flight list). */
export function useExecutionsByStatus(status: ExecutionStatus, limit: number, opts?: QueryOpts<Execution[]>) {
  return useQuery({ queryKey: executionKeys.byStatus(status), queryFn: () => listExecutionsByStatus(status, limit), ...opts })
}

/** The executions matching p, p.limit a page, loaded by cursor. */
export function useExecutionList(p: ExecutionListParams, opts?: PagedOpts) {
  return usePagedList<Execution>(executionKeys.list(listQuery(p)), (cursor, signal) => listExecutions({ ...p, cursor }, signal), opts)
}

/** One execution with its results; id null waits (pass enabled: false). */
export function useExecution(id: string | null, opts?: QueryOpts<ExecutionDetail>) {
  return useQuery({ queryKey: executionKeys.one(id), queryFn: () => getExecution(id!), ...opts })
}

/** The execution's result groups (at most `limit`, largest first). */
export function useExecutionSummary(id: string, limit: number, finished: number, opts?: QueryOpts<ResultGroup[]>) {
  return useQuery({ queryKey: executionKeys.summary(id, limit, finished), queryFn: () => executionSummary(id, limit), placeholderData: keepPreviousData, ...opts })
}

// ---- invalidation and cache patches ----

export const invalidateExecutions = (qc: QueryClient) => qc.invalidateQueries({ queryKey: executionKeys.all() })
export const invalidateExecution = (qc: QueryClient, id: string) => qc.invalidateQueries({ queryKey: executionKeys.one(id) })

/** Merges a live progress update into a cached execution (no refetch). */
export function patchExecution(qc: QueryClient, id: string, update: Partial<Execution>) {
  qc.setQueryData<ExecutionDetail>(executionKeys.one(id), (old) => (old ? { ...old, ...update } : old))
}
