// A PC's self-update state (SPEC §13) as a chip: nothing while current (or
// for an agent older than self-update), otherwise the state, with the
// error or the quarantined version on hover.
import type { Agent } from '../lib/types'
import { t } from '../i18n'
import { Badge, type Tone } from './ui'

const tone: Record<string, Tone> = { downloading: 'info', restarting: 'info', failed: 'bad', quarantined: 'warn' }

/** compact: the state only (a narrow list column); the version and error are in the title. */
export function UpdateChip({ a, compact }: { a: Pick<Agent, 'update_state' | 'update_error' | 'quarantined_version'>; compact?: boolean }) {
  const s = a.update_state
  if (!s || s === 'current') return null
  const title = s === 'failed' ? a.update_error : s === 'quarantined' ? t('update.quarantinedTitle', { v: a.quarantined_version ?? '' }) : undefined
  return (
    <Badge tone={tone[s] ?? 'muted'} title={title}>
      {t(`update.${s}` as Parameters<typeof t>[0])}
      {s === 'quarantined' && a.quarantined_version && !compact ? ` ${a.quarantined_version}` : ''}
    </Badge>
  )
}
