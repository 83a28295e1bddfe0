// Accounts (admin) and API tokens (SPEC §16). Account routes are by
// username; an API token's secret exists only in createAPIToken's answer.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { allPages } from '../api'
import { client } from '../client'
import type { Account, APIToken, CreateAccountRequest, CreateAPITokenRequest, UpdateAccountRequest } from '../types'
import type { QueryOpts } from './options'

// Fields of the MFA and scopes contract that the generated types gain when
// that backend lands (optional until then, so both shapes type-check).
export type AccountRow = Account & { mfa_enabled?: boolean; groups?: string[] | null }
export type NewAccount = CreateAccountRequest & { groups?: string[] }

export const accountKeys = {
  list: () => ['accounts'],
  tokens: () => ['api-tokens'],
}

// ---- fetchers ----

export const listAccounts = (signal?: AbortSignal) => allPages<AccountRow>((p) => client.listAccounts(p, { signal }))
export const createAccount = (req: NewAccount) => client.createAccount(req)
export const updateAccount = (username: string, req: UpdateAccountRequest) => client.updateAccount(username, req)
export const deleteAccount = (username: string) => client.deleteAccount(username)
export const listAPITokens = (signal?: AbortSignal) => client.listAPITokens({ signal }).then((l) => l ?? [])
export const createAPIToken = (req: CreateAPITokenRequest) => client.createAPIToken(req)
export const revokeAPIToken = (id: string) => client.revokeAPIToken(id)
export const changePassword = (old_password: string, new_password: string) => client.changePassword({ old_password, new_password })

// ---- hooks ----

export function useAccounts(opts?: QueryOpts<AccountRow[]>) {
  return useQuery({ queryKey: accountKeys.list(), queryFn: ({ signal }) => listAccounts(signal), ...opts })
}

export function useAPITokens(opts?: QueryOpts<APIToken[]>) {
  return useQuery({ queryKey: accountKeys.tokens(), queryFn: ({ signal }) => listAPITokens(signal), ...opts })
}

// ---- invalidation ----

export const invalidateAccounts = (qc: QueryClient) => qc.invalidateQueries({ queryKey: accountKeys.list() })
export const invalidateAPITokens = (qc: QueryClient) => qc.invalidateQueries({ queryKey: accountKeys.tokens() })
