// The signed-in session: the token (localStorage, see ./auth) and the account
// it belongs to. Pages read the account here, never from App.tsx, so that
// App.tsx (which imports every page) is imported by main.tsx alone.
import { createContext, useContext, useSyncExternalStore, type ReactNode } from 'react'
import { getToken, onTokenChange } from './auth'
import type { Me } from './types'

const MeCtx = createContext<Me>({ username: '', role: 'viewer', must_change_pw: false, mfa_enabled: false, mfa_enrolment_required: false })

/** Makes `me` the account useMe returns below it. */
export function SessionProvider({ me, children }: { me: Me; children: ReactNode }) {
  return <MeCtx.Provider value={me}>{children}</MeCtx.Provider>
}

export const useMe = () => useContext(MeCtx)

/** Operators and admins may change things; viewers only read. */
export const useCanWrite = () => useMe().role !== 'viewer'

/** The current session token; re-renders when it is set or cleared (a 401 clears it). */
export function useToken() {
  return useSyncExternalStore(onTokenChange, getToken)
}
