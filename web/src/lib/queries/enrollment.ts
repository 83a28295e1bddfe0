// Enrollment tokens (SPEC §12): what a new PC presents to POST /api/enroll.
// The secret exists only in createEnrollmentToken's answer; the list never has it.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { CreateEnrollmentTokenRequest, EnrollmentToken } from '../types'
import type { QueryOpts } from './options'

export const enrollmentKeys = {
  tokens: () => ['enrollment-tokens'],
}

// ---- fetchers ----

/** The tokens, newest first ([] for none). A fleet has few live tokens: one page of the server's maximum is all of them. */
export const listEnrollmentTokens = () => client.listEnrollmentTokens({ limit: 1000 }).then((l) => l.items ?? [])
export const createEnrollmentToken = (req: CreateEnrollmentTokenRequest) => client.createEnrollmentToken(req)
export const deleteEnrollmentToken = (id: string) => client.deleteEnrollmentToken(id)

// ---- hooks ----

export function useEnrollmentTokens(opts?: QueryOpts<EnrollmentToken[]>) {
  return useQuery({ queryKey: enrollmentKeys.tokens(), queryFn: listEnrollmentTokens, ...opts })
}

// ---- invalidation ----

export const invalidateEnrollmentTokens = (qc: QueryClient) => qc.invalidateQueries({ queryKey: enrollmentKeys.tokens() })
