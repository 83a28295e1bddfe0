// Sign-in and the signed-in account. (The token itself lives in lib/auth.ts.)
import { useQuery } from '@tanstack/react-query'
import { ApiError } from '../api'
import { client } from '../client'
import type { LoginResponse, Me } from '../types'

/** GET /api/auth/me: the signed-in account. */
export type Session = Me

export const authKeys = {
  me: (token: string) => ['me', token],
}

// ---- fetchers ----

export async function getMe(): Promise<Session> {
  try {
    return await client.me()
  } catch (e) {
    // With auth disabled (dev) there may be no account endpoint at all.
    if (e instanceof ApiError && e.status === 404) return { username: 'anonymous', role: 'admin', must_change_pw: false, mfa_enabled: false, mfa_enrolment_required: false }
    throw e
  }
}

/** A token, or (an account with MFA) the challenge of the second step. */
export const login = (username: string, password: string): Promise<LoginResponse> =>
  client.login({ username, password })

// ---- hooks ----

/** The account of `token` (keyed by it, so signing in as someone else refetches). A 401 means: sign in. */
export function useMeQuery(token: string) {
  return useQuery({ queryKey: authKeys.me(token), queryFn: getMe, retry: false, staleTime: 60_000 })
}
