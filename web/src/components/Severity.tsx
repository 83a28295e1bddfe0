// A check's or an alert's severity (info | warning | critical) as a badge.
import { t, type Key } from '../i18n'
import { Badge, type Tone } from './ui'

const tone: Record<string, Tone> = { critical: 'bad', warning: 'warn', info: 'info' }

export function Severity({ s }: { s: string }) {
  const key = `sev.${s}` as Key
  return <Badge tone={tone[s] ?? 'muted'}>{t(key) === key ? s : t(key)}</Badge>
}
