// Jobs (registered scripts): list, document, save, revoke, kill, delete.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { Job, KillResponse } from '../types'
import type { QueryOpts } from './options'

export const jobKeys = {
  all: () => ['jobs'],
  /** Prefix of every single-job document. */
  oneAll: () => ['job'],
  one: (id: string | undefined) => ['job', id],
}

// ---- fetchers ----

/** The catalog's first page (the server's default page size, as before). */
export const listJobs = () => client.listJobs().then((l) => l.items)
export const getJob = (id: string) => client.getJob(id)
/** Registers (or replaces) a job from its YAML document. */
export const saveJob = (yaml: string) => client.putJob(yaml)
export const deleteJob = (id: string) => client.deleteJob(id)
export const revokeJob = (id: string) => client.revokeScript(id)
export const unrevokeJob = (id: string) => client.unrevokeScript(id)
/** Kills the job's running executions and cancels its pending waves. */
export const killJob = (id: string): Promise<KillResponse> => client.killJob(id)

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
