// Time formatting. `now` is a parameter so tests (and the ticking clock hook) control it.

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
]

const rtfCache = new Map<string, Intl.RelativeTimeFormat>()
function rtf(locale: string) {
  let f = rtfCache.get(locale)
  if (!f) {
    f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'long' })
    rtfCache.set(locale, f)
  }
  return f
}

export function parseTime(v: string | null | undefined): number | null {
  if (!v) return null
  const t = Date.parse(v)
  return Number.isNaN(t) ? null : t
}

/** "3 minutes ago", "in 2 hours", "now"; "—" for missing or invalid times. */
export function relativeTime(v: string | null | undefined, now: number = Date.now(), locale = 'en'): string {
  const t = parseTime(v)
  if (t === null) return '—'
  const diff = Math.round((t - now) / 1000)
  const abs = Math.abs(diff)
  if (abs < 5) return rtf(locale).format(0, 'second') // "now", 「今」
  for (const [unit, secs] of units) {
    if (abs >= secs || unit === 'second') {
      return rtf(locale).format(Math.trunc(diff / secs), unit)
    }
  }
  return '—'
}

/** Compact duration: 850ms, 12.3s, 4m 05s, 2h 03m, 3d 4h. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`
  const total = Math.floor(s)
  const d = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const sec = total % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${pad(m)}m`
  return `${m}m ${pad(sec)}s`
}

export function durationBetween(a: string | null | undefined, b: string | null | undefined, now = Date.now()): number | null {
  const s = parseTime(a)
  if (s === null) return null
  const e = parseTime(b) ?? (b === null ? now : null)
  return e === null ? null : e - s
}

/** Absolute local time for titles and detail views. */
export function absoluteTime(v: string | null | undefined, locale = 'en'): string {
  const t = parseTime(v)
  if (t === null) return '—'
  return new Date(t).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'medium' })
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`
}
