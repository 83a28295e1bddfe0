// A tiny history router: enough for a dozen routes, far smaller than a library.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react'

const listeners = new Set<() => void>()
function emit() {
  for (const l of listeners) l()
}
if (typeof window !== 'undefined') window.addEventListener('popstate', emit)

function subscribe(fn: () => void) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}
const snapshot = () => window.location.pathname + window.location.search

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === snapshot()) return
  if (opts.replace) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  emit()
  if (!opts.replace) window.scrollTo(0, 0)
}

export function useLocation() {
  const s = useSyncExternalStore(subscribe, snapshot)
  const i = s.indexOf('?')
  return { pathname: i < 0 ? s : s.slice(0, i), search: i < 0 ? '' : s.slice(i) }
}

export function useSearchParams(): [URLSearchParams, (p: URLSearchParams | Record<string, string>, replace?: boolean) => void] {
  const { pathname, search } = useLocation()
  const params = new URLSearchParams(search)
  const set = (p: URLSearchParams | Record<string, string>, replace = true) => {
    const sp = p instanceof URLSearchParams ? p : new URLSearchParams(Object.entries(p).filter(([, v]) => v !== ''))
    const qs = sp.toString()
    navigate(pathname + (qs ? `?${qs}` : ''), { replace })
  }
  return [params, set]
}

/** Matches "/agents/:pc" against a path; returns decoded params or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const pp = pattern.split('/').filter(Boolean)
  const sp = path.split('/').filter(Boolean)
  if (pp.length !== sp.length) return null
  const out: Record<string, string> = {}
  for (let i = 0; i < pp.length; i++) {
    if (pp[i].startsWith(':')) {
      try {
        out[pp[i].slice(1)] = decodeURIComponent(sp[i])
      } catch {
        return null
      }
    } else if (pp[i] !== sp[i]) return null
  }
  return out
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a href={to} onClick={click} {...rest} />
}
