import { useSyncExternalStore } from 'react'
import { absoluteTime, relativeTime } from '../../lib/time'
import { locale } from '../../i18n'

// A shared ticking clock so every relative time on the page re-renders together.
let now = Date.now()
const clockSubs = new Set<() => void>()
setInterval(() => {
  now = Date.now()
  for (const s of clockSubs) s()
}, 15_000)

export function useNow() {
  return useSyncExternalStore(
    (fn) => {
      clockSubs.add(fn)
      return () => clockSubs.delete(fn)
    },
    () => now,
  )
}

export function RelTime({ at }: { at: string | null | undefined }) {
  const n = useNow()
  if (!at) return <span className="muted">—</span>
  return (
    <time dateTime={at} title={absoluteTime(at, locale)}>
      {relativeTime(at, Math.max(n, Date.now() - 15_000), locale)}
    </time>
  )
}
