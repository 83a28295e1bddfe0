import { t, locale } from '../../i18n'
import { Button } from './Button'

/** "N of M" under a cursor-loaded list, "about M" when the server estimated M, and "Load more" while pages remain. */
export function Pager({ shown, total, estimated, hasMore, loading, onMore }: { shown: number; total: number; estimated: boolean; hasMore: boolean; loading: boolean; onMore: () => void }) {
  if (!hasMore && shown >= total && !estimated) return null
  const of = estimated ? t('common.about', { n: total.toLocaleString(locale) }) : total.toLocaleString(locale)
  return (
    <nav className="pager" aria-label={t('common.pages')}>
      <span>{t('common.shown', { shown: shown.toLocaleString(locale), total: of })}</span>
      {hasMore && (
        <Button small disabled={loading} onClick={onMore}>
          {loading ? t('common.loading') : t('common.loadMore')}
        </Button>
      )}
    </nav>
  )
}

/** A total as the list header shows it: "about N" when estimated. */
export function totalText(total: number, estimated: boolean): string {
  return estimated ? t('common.about', { n: total.toLocaleString(locale) }) : total.toLocaleString(locale)
}
