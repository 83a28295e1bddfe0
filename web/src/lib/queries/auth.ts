// Sign-in and the signed-in account. (The token itself lives in lib/auth.ts.)
import { useQuery } from '@tanstack/react-query'
import { api, ApiError } from '../api'
import type { LoginResponse, Me } from '../types'

export const authKeys = {
  me: (token: string) => ['me', token],
}

// ---- fetchers ----

export async function getMe(): Promise<Me> {
  try {
    return await api<Me>('/api/auth/me')
  } catch (e) {
    // With auth disabled (dev) there may be no account endpoint at all.
    if (e instanceof ApiError && e.status === 404) return { username: 'anonymous', role: 'admin' } as Me
    throw e
  }
}

export const login = (username: string, password: string) => api<LoginResponse>('/api/auth/login', { method: 'POST', body: { username, password } })

// ---- hooks ----

/** The account of `token` (keyed by it, so signing in as someone else refetches). A 401 means: sign in. */
export function useMeQuery(token: string) {
  return useQuery({ queryKey: authKeys.me(token), queryFn: getMe, retry: false, staleTime: 60_000 })
}
