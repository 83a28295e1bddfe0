import { t } from '../../i18n'
import type { Execution } from '../../lib/types'

export function Progress({ e }: { e: Pick<Execution, 'target_count' | 'success_count' | 'failure_count' | 'skipped_count'> }) {
  const total = Math.max(1, e.target_count)
  const pct = (n: number) => `${Math.min(100, (n / total) * 100)}%`
  const done = e.success_count + e.failure_count + e.skipped_count
  const label = t('exec.progress', { done, total: e.target_count, ok: e.success_count, fail: e.failure_count, skip: e.skipped_count })
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={e.target_count} aria-valuenow={done} aria-label={label} title={label}>
      <span className="seg seg-ok" style={{ width: pct(e.success_count) }} />
      <span className="seg seg-bad" style={{ width: pct(e.failure_count) }} />
      <span className="seg seg-skip" style={{ width: pct(e.skipped_count) }} />
    </div>
  )
}
