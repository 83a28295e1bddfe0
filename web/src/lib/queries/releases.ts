// Agent releases (SPEC §13): the binaries agents update themselves to, one
// per version and platform, signed by the backend. Immutable: a version is
// deleted, never replaced.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { Release, ReleaseUpload } from '../types'
import type { QueryOpts } from './options'

export const releaseKeys = {
  list: () => ['releases'],
}

// ---- fetchers ----

/** Every release, newest upload first. A handful per version: one page of the server's maximum is all of them. */
export const listReleases = () => client.listReleases({ limit: 1000 }).then((l) => l.items ?? [])
export const uploadRelease = (q: ReleaseUpload, file: Blob) => client.uploadRelease(q, file)
export const deleteRelease = (version: string) => client.deleteRelease(version)

// ---- hooks ----

export function useReleases(opts?: QueryOpts<Release[]>) {
  return useQuery({ queryKey: releaseKeys.list(), queryFn: listReleases, ...opts })
}

// ---- invalidation ----

export const invalidateReleases = (qc: QueryClient) => qc.invalidateQueries({ queryKey: releaseKeys.list() })
