import { t } from '../../i18n'
import { Button } from './Button'

export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number; onChange: (o: number) => void }) {
  if (total <= limit) return null
  const from = Math.min(total, offset + 1)
  const to = Math.min(total, offset + limit)
  return (
    <nav className="pager" aria-label={t('common.pages')}>
      <Button small disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ‹ {t('common.prev')}
      </Button>
      <span>{t('common.range', { from, to, total: total.toLocaleString() })}</span>
      <Button small disabled={to >= total} onClick={() => onChange(offset + limit)}>
        {t('common.next')} ›
      </Button>
    </nav>
  )
}
