// MFA (SPEC §16): the second login step, enrolment, confirmation,
// disabling, an admin's reset and the policy, through the generated client.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { LoginResponse, MFAConfirmResponse, MFAEnrollment, MFAPolicy } from '../types'
import type { QueryOpts } from './options'

export type { MFAEnrollment, MFAPolicy }

/** POST /api/auth/login's answer for an account with MFA: no token yet, a 5-minute single-use mfa_token. */
export type MFAChallenge = LoginResponse & { mfa_required: true; mfa_token: string }

export const mfaKeys = {
  policy: () => ['mfa', 'policy'],
}

/** Whether a login answer asks for the second step. */
export const isMFAChallenge = (r: LoginResponse): r is MFAChallenge => r.mfa_required === true && typeof r.mfa_token === 'string'

// ---- fetchers ----

export const mfaLogin = (mfa_token: string, code: string): Promise<LoginResponse> => client.loginMFA({ mfa_token, code })
export const mfaEnroll = (): Promise<MFAEnrollment> => client.enrollMFA()
export const mfaConfirm = (code: string): Promise<MFAConfirmResponse> => client.confirmMFA({ code })
export const mfaDisable = (code: string): Promise<void> => client.disableMFA({ code })
export const resetAccountMFA = (username: string): Promise<void> => client.resetAccountMFA(username)
export const getMFAPolicy = (signal?: AbortSignal): Promise<MFAPolicy> => client.getMFAPolicy({ signal })
export const putMFAPolicy = (p: MFAPolicy): Promise<MFAPolicy> => client.putMFAPolicy(p)

// ---- hooks ----

export function useMFAPolicy(opts?: QueryOpts<MFAPolicy>) {
  return useQuery({ queryKey: mfaKeys.policy(), queryFn: ({ signal }) => getMFAPolicy(signal), retry: false, ...opts })
}

// ---- invalidation ----

export const invalidateMFAPolicy = (qc: QueryClient) => qc.invalidateQueries({ queryKey: mfaKeys.policy() })
