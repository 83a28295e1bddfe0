// MFA (SPEC §16, /work contract of session 6): the second login step,
// enrolment, confirmation, disabling, an admin's reset and the policy.
//
// These routes are not in internal/apiv1 on this branch yet (the MFA
// backend lands separately), so their requests are spelt here through the
// transport and their answers typed locally. Once apiv1 has them and
// api.gen.ts is regenerated, switch each call to the generated client
// (client.mfaLogin …) and these types to lib/types re-exports.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { transport } from '../api'
import type { LoginResponse } from '../types'
import type { QueryOpts } from './options'

/** POST /api/auth/login's answer for an account with MFA: no token yet, a 5-minute single-use mfa_token. */
export type MFAChallenge = { mfa_required: true; mfa_token: string }
/** POST /api/auth/mfa/enroll: the pending secret, its QR code (a data: URL) and ten recovery codes. */
export type MFAEnrollment = { secret: string; otpauth_url: string; qr_png: string; recovery_codes: string[] }
/** POST /api/auth/mfa/confirm: MFA is on; other sessions were revoked, `session` is this one's fresh token. */
export type MFAConfirmed = { mfa_enabled: boolean; session?: LoginResponse }
export type MFAPolicy = { require_all: boolean }

export const mfaKeys = {
  policy: () => ['mfa', 'policy'],
}

/** Whether a login answer asks for the second step. */
export const isMFAChallenge = (r: unknown): r is MFAChallenge =>
  !!r && typeof r === 'object' && (r as MFAChallenge).mfa_required === true && typeof (r as MFAChallenge).mfa_token === 'string'

// ---- fetchers ----

export const mfaLogin = (mfa_token: string, code: string) =>
  transport({ method: 'POST', path: '/api/auth/mfa', body: { mfa_token, code } }) as Promise<LoginResponse>
export const mfaEnroll = () => transport({ method: 'POST', path: '/api/auth/mfa/enroll' }) as Promise<MFAEnrollment>
export const mfaConfirm = (code: string) => transport({ method: 'POST', path: '/api/auth/mfa/confirm', body: { code } }) as Promise<MFAConfirmed>
export const mfaDisable = (code: string) => transport({ method: 'DELETE', path: '/api/auth/mfa', body: { code } }) as Promise<void>
export const resetAccountMFA = (username: string) =>
  transport({ method: 'DELETE', path: `/api/accounts/${encodeURIComponent(username)}/mfa` }) as Promise<void>
export const getMFAPolicy = (signal?: AbortSignal) => transport({ method: 'GET', path: '/api/auth/mfa/policy', signal }) as Promise<MFAPolicy>
export const putMFAPolicy = (p: MFAPolicy) => transport({ method: 'PUT', path: '/api/auth/mfa/policy', body: p }) as Promise<MFAPolicy>

// ---- hooks ----

export function useMFAPolicy(opts?: QueryOpts<MFAPolicy>) {
  return useQuery({ queryKey: mfaKeys.policy(), queryFn: ({ signal }) => getMFAPolicy(signal), retry: false, ...opts })
}

// ---- invalidation ----

export const invalidateMFAPolicy = (qc: QueryClient) => qc.invalidateQueries({ queryKey: mfaKeys.policy() })
