// Jobs (registered scripts): list, document, save, revoke, kill, delete.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api, enc } from '../api'
import type { Job, KillResponse } from '../types'
import type { QueryOpts } from './options'

export const jobKeys = {
  all: () => ['jobs'],
  /** Prefix of every single-job document. */
  oneAll: () => ['job'],
  one: (id: string | undefined) => ['job', id],
}

// ---- fetchers ----

export const listJobs = () => api<Job[]>('/api/jobs')
export const getJob = (id: string) => api<Job>(`/api/jobs/${enc(id)}`)
/** Registers (or replaces) a job from its YAML document. */
export const saveJob = (yaml: string) => api<Job>('/api/jobs', { method: 'POST', body: yaml, contentType: 'application/yaml' })
export const deleteJob = (id: string) => api(`/api/jobs/${enc(id)}`, { method: 'DELETE' })
export const revokeJob = (id: string) => api(`/api/scripts/${enc(id)}/revoke`, { method: 'POST' })
export const unrevokeJob = (id: string) => api(`/api/scripts/${enc(id)}/unrevoke`, { method: 'POST' })
/** Kills the job's running executions and cancels its pending waves. */
export const killJob = (id: string) => api<KillResponse>(`/api/jobs/${enc(id)}/kill`, { method: 'POST' })

// ---- hooks ----

export function useJobs(opts?: QueryOpts<Job[]>) {
  return useQuery({ queryKey: jobKeys.all(), queryFn: listJobs, ...opts })
}

/** One job with its YAML; id undefined waits (pass enabled: false). */
export function useJob(id: string | undefined, opts?: QueryOpts<Job>) {
  return useQuery({ queryKey: jobKeys.one(id), queryFn: () => getJob(id!), ...opts })
}

// ---- invalidation ----

export const invalidateJobs = (qc: QueryClient) => qc.invalidateQueries({ queryKey: jobKeys.all() })

/** After a save: the list and every open job document. */
export function invalidateJobDocs(qc: QueryClient) {
  qc.invalidateQueries({ queryKey: jobKeys.all() })
  qc.invalidateQueries({ queryKey: jobKeys.oneAll() })
}
