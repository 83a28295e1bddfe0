// Compliance (SPEC §15, docs/checks.md): per check the share of PCs passing
// with the passing / failing / unknown counts; pick a check (?check=) to list
// its PCs in a state (failing by default), each linking to its agent page.
import { useFallbackInterval } from '../lib/live'
import { checkStatusExport, checksExport, useChecks, useCheckStatus, useCheckTrend } from '../lib/queries/checks'
import { Link, useSearchParams } from '../lib/router'
import { absoluteTime } from '../lib/time'
import type { CheckSummary } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { ExportCSV } from '../components/ExportCSV'
import { Severity } from '../components/Severity'
import { useMemo } from 'react'
import { LineChart, pctRange, trendSeries } from '../components/charts'
import { Badge, Card, Chips, ErrorBox, Pager, RelTime, Spinner, Table } from '../components/ui'

const LIMIT = 100
const states = ['failing', 'unknown', 'passing'] as const

/** The passing / failing / unknown split of one check as a bar. */
function ComplianceBar({ c }: { c: CheckSummary }) {
  const total = Math.max(1, c.passing + c.failing + c.unknown)
  const pct = (n: number) => `${(n / total) * 100}%`
  const label = t('comp.split', { passing: c.passing, failing: c.failing, unknown: c.unknown })
  return (
    <div className="progress" role="img" aria-label={label} title={label}>
      <span className="seg seg-ok" style={{ width: pct(c.passing) }} />
      <span className="seg seg-bad" style={{ width: pct(c.failing) }} />
      <span className="seg seg-skip" style={{ width: pct(c.unknown) }} />
    </div>
  )
}

export function Compliance() {
  const [params, setParams] = useSearchParams()
  const check = params.get('check') ?? ''
  const state = params.get('state') ?? 'failing'
  const interval = useFallbackInterval()
  const checks = useChecks({ refetchInterval: interval || 60_000 })
  const list = checks.data ?? []
  const pick = (id: string) => setParams(id ? { check: id } : {}, false)
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.compliance')}</h1>
        <ExportCSV request={checksExport} disabled={!list.length} />
      </div>
      <p className="muted">{t('comp.intro')}</p>
      <ErrorBox error={checks.error} />
      {checks.isPending ? (
        <Spinner />
      ) : (
        <Table<CheckSummary> filter bulk={{ name: 'checks' }}
          rows={list}
          rowKey={(c) => c.id}
          onRow={(c) => pick(c.id)}
          empty={t('comp.none')}
          caption={t('nav.compliance')}
          cols={[
            {
              key: 'id', value: c => c.id,
              header: t('comp.check'),
              cell: (c) => (
                <Link to={`/compliance?check=${encodeURIComponent(c.id)}`} className="mono" aria-current={c.id === check ? 'true' : undefined}>
                  {c.id}
                </Link>
              ),
            },
            { key: 'sev', value: c => c.severity, header: t('comp.severity'), cell: (c) => <Severity s={c.severity} /> },
            { key: 'pct', value: c => c.compliance_pct, header: t('comp.pct'), cell: (c) => <strong data-testid="compliance-pct">{t('comp.pctValue', { pct: c.compliance_pct })}</strong> },
            { key: 'bar', header: t('comp.split.header'), cell: (c) => <ComplianceBar c={c} /> },
            { key: 'passing', value: c => c.passing, header: t('comp.col.passing'), cell: (c) => c.passing },
            { key: 'failing', value: c => c.failing, header: t('comp.col.failing'), cell: (c) => (c.failing ? <Badge tone="bad">{c.failing}</Badge> : 0) },
            { key: 'unknown', value: c => c.unknown, header: t('comp.col.unknown'), cell: (c) => c.unknown },
          ]}
        />
      )}
      {check && (
        <CheckTrendCard
          check={check}
          days={Number(params.get('days')) || 30}
          onDays={(d) => setParams({ check, state: state === 'failing' ? '' : state, days: d === 30 ? '' : String(d) })}
          interval={interval}
        />
      )}
      {check && <CheckPCs check={check} state={state} onState={(s) => setParams({ check, state: s === 'failing' ? '' : s })} interval={interval} />}
    </div>
  )
}

const trendDays = [7, 30, 90]
const pctFormat = (v: number) => t('comp.pctValue', { pct: Math.round(v * 10) / 10 })
const pctRangeY: [number, number] = [0, 100]

/** % passing per day (GET /api/checks/{id}/trend), drawn by the lazily loaded chart. */
function CheckTrendCard({ check, days, onDays, interval }: { check: string; days: number; onDays: (d: number) => void; interval: number | false }) {
  const trend = useCheckTrend(check, days, { refetchInterval: interval || 300_000 })
  const series = useMemo(() => trendSeries(trend.data?.days ?? [], t('comp.trend.line')), [trend.data])
  const range = pctRange(series)
  return (
    <Card title={t('comp.trend.title', { check })}>
      <div className="toolbar filters">
        <Chips
          label={t('comp.trend.window')}
          value={String(days)}
          options={trendDays.map((d) => ({ value: String(d), label: t('comp.trend.days', { count: d }) }))}
          onChange={(v) => onDays(Number(v))}
        />
      </div>
      <ErrorBox error={trend.error} />
      {trend.isPending ? (
        <Spinner />
      ) : range ? (
        <div data-testid="compliance-trend">
          <LineChart daily series={series} yRange={pctRangeY} yFormat={pctFormat} label={t('comp.trend.label', { check, min: pctFormat(range.min), max: pctFormat(range.max), count: days })} />
          <p className="muted small">{t('comp.trend.explain')}</p>
        </div>
      ) : (
        <p className="muted">{t('comp.trend.none')}</p>
      )}
    </Card>
  )
}

function CheckPCs({ check, state, onState, interval }: { check: string; state: string; onState: (s: string) => void; interval: number | false }) {
  const q = { check_id: check, state, limit: LIMIT }
  const rows = useCheckStatus(q, { refetchInterval: interval })
  return (
    <Card
      title={t('comp.pcsOf', { check })}
      actions={<ExportCSV request={() => checkStatusExport({ check_id: check, state })} disabled={!rows.total} />}
    >
      <div className="toolbar filters">
        <Chips label={t('common.status')} value={state} options={states.map((s) => ({ value: s, label: t(`comp.${s}` as Key) }))} onChange={onState} />
      </div>
      <ErrorBox error={rows.error} />
      {rows.isPending ? (
        <Spinner />
      ) : (
        <>
          <Table filter bulk={{ name: 'check-status' }}
            rows={rows.rows}
            rowKey={(r) => r.pc_id}
            empty={t('comp.noPCs')}
            caption={t('comp.pcsOf', { check })}
            cols={[
              { key: 'pc', value: r => r.pc_id, header: t('comp.pc'), cell: (r) => <Link to={`/agents/${encodeURIComponent(r.pc_id)}`}>{r.pc_id}</Link> },
              { key: 'state', value: r => r.state, header: t('common.status'), cell: (r) => <Badge tone={r.state === 'passing' ? 'ok' : r.state === 'failing' ? 'bad' : 'muted'}>{t(`comp.${r.state}` as Key)}</Badge> },
              { key: 'since', value: r => r.since, header: t('comp.since'), cell: (r) => <span title={absoluteTime(r.since, locale)}><RelTime at={r.since} /></span> },
              { key: 'consecutive', value: r => r.consecutive, header: t('comp.consecutive'), cell: (r) => r.consecutive },
              { key: 'last', value: r => r.last_at, header: t('comp.lastResult'), cell: (r) => (r.last_result_id ? <Link to={`/activity/result/${encodeURIComponent(r.last_result_id)}`}><RelTime at={r.last_at} /></Link> : '—') },
            ]}
          />
          <Pager shown={rows.rows.length} total={rows.total} estimated={rows.estimated} hasMore={rows.hasMore} loading={rows.loadingMore} onMore={rows.more} />
        </>
      )}
    </Card>
  )
}
