import type { ReactNode } from 'react'
import { t } from '../../i18n'

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted'

export function Badge({ tone = 'muted', children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  )
}

const statusTone: Record<string, Tone> = {
  success: 'ok',
  completed: 'ok',
  ACTIVE: 'ok',
  failure: 'bad',
  expired: 'bad',
  REVOKED: 'bad',
  running: 'info',
  pending: 'warn',
  skipped: 'muted',
}

export function StatusBadge({ status }: { status: string }) {
  const key = `status.${status}` as Parameters<typeof t>[0]
  return <Badge tone={statusTone[status] ?? 'muted'}>{t(key) === key ? status : t(key)}</Badge>
}

export function OnlineDot({ online }: { online: boolean }) {
  return (
    <span className={`dot ${online ? 'dot-on' : 'dot-off'}`} role="img" aria-label={online ? t('agents.online') : t('agents.offline')} />
  )
}
