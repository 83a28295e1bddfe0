import { sinceFromPreset, sincePresets } from '../lib/filters'
import { useFallbackInterval } from '../lib/live'
import { auditExport, useAuditList } from '../lib/queries/audit'
import { useSearchParams } from '../lib/router'
import { absoluteTime } from '../lib/time'
import { t, locale } from '../i18n'
import { Chips, ErrorBox, Pager, RelTime, Spinner, Table } from '../components/ui'
import { ExportCSV } from '../components/ExportCSV'

const LIMIT = 50

export function Audit() {
  const [params, setParams] = useSearchParams()
  const actor = params.get('actor') ?? ''
  const action = params.get('action') ?? ''
  const since = params.get('since') ?? '7d'
  const interval = useFallbackInterval()
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params)
    if (v) p.set(k, v)
    else p.delete(k)
    setParams(p)
  }
  // `since` is relative to now; round to the minute so the query key stays stable.
  const s = sinceFromPreset(since, Math.floor(Date.now() / 60_000) * 60_000)
  const filter = { actor, action, since: s || undefined, limit: LIMIT }
  const a = useAuditList(filter, { refetchInterval: interval })
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.audit')}</h1>
        <div className="row">
          <ExportCSV request={() => auditExport(filter)} disabled={!a.total} />
        </div>
      </div>
      <div className="toolbar filters">
        <input aria-label={t('audit.actor')} placeholder={t('audit.actor')} defaultValue={actor} onKeyDown={(e) => e.key === 'Enter' && set('actor', e.currentTarget.value.trim())} onBlur={(e) => e.target.value.trim() !== actor && set('actor', e.target.value.trim())} />
        <input aria-label={t('audit.action')} placeholder={t('audit.action')} defaultValue={action} onKeyDown={(e) => e.key === 'Enter' && set('action', e.currentTarget.value.trim())} onBlur={(e) => e.target.value.trim() !== action && set('action', e.target.value.trim())} />
        <Chips label={t('activity.since')} value={since} options={sincePresets.map((x) => ({ value: x, label: t(`since.${x}`) }))} onChange={(v) => set('since', v === '7d' ? '' : v)} />
      </div>
      <ErrorBox error={a.error} />
      {a.isPending ? (
        <Spinner />
      ) : (
        <>
          <Table filter bulk={{ name: 'audit' }}
            rows={a.rows}
            rowKey={(e) => String(e.id)}
            empty={t('audit.none')}
            caption={t('nav.audit')}
            cols={[
              { key: 'at', value: e => e.occurred_at, header: t('common.when'), cell: (e) => <span title={absoluteTime(e.occurred_at, locale)}><RelTime at={e.occurred_at} /></span> },
              { key: 'actor', value: e => e.actor, header: t('audit.actor'), cell: (e) => e.actor },
              { key: 'action', value: e => e.action, header: t('audit.action'), cell: (e) => <span className="mono">{e.action}</span> },
              { key: 'target', value: e => e.target, header: t('audit.target'), cell: (e) => <span className="mono">{e.target}</span> },
              { key: 'ip', value: e => e.source_ip, header: t('audit.ip'), cell: (e) => <span className="mono small">{e.source_ip}</span> },
              {
                key: 'payload', value: e => (e.payload ? JSON.stringify(e.payload) : ""),
                header: t('audit.payload'),
                cell: (e) =>
                  e.payload && Object.keys(e.payload as object).length ? (
                    <details>
                      <summary>{t('common.show')}</summary>
                      <pre className="mono small">{JSON.stringify(e.payload, null, 2)}</pre>
                    </details>
                  ) : (
                    '—'
                  ),
              },
            ]}
          />
          <Pager shown={a.rows.length} total={a.total} estimated={a.estimated} hasMore={a.hasMore} loading={a.loadingMore} onMore={a.more} />
        </>
      )}
    </div>
  )
}
