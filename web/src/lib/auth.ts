// The session token lives in localStorage; a 401 anywhere clears it.
const KEY = 'kanade.token'
const listeners = new Set<() => void>()

export function getToken(): string {
  try {
    return localStorage.getItem(KEY) ?? ''
  } catch {
    return ''
  }
}

export function setToken(t: string) {
  try {
    if (t) localStorage.setItem(KEY, t)
    else localStorage.removeItem(KEY)
  } catch {
    /* storage unavailable: session lives in memory only */
  }
  for (const l of listeners) l()
}

export function onTokenChange(fn: () => void) {
  listeners.add(fn)
  return () => {
    listeners.delete(fn)
  }
}
