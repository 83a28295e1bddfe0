// Alerts (SPEC §15, docs/checks.md): open (or resolved) alerts, newest
// first; operators acknowledge one (audited; an ack does not resolve it).
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useFallbackInterval } from '../lib/live'
import { ackAlert, alertsExport, invalidateAlerts, useAlerts } from '../lib/queries/checks'
import { Link, useSearchParams } from '../lib/router'
import { useCanWrite } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { Alert } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { ExportCSV } from '../components/ExportCSV'
import { Severity } from '../components/Severity'
import { BulkAction } from '../components/BulkAction'
import { Button, Chips, ErrorBox, Pager, RelTime, Spinner, Table, useToast, type Col } from '../components/ui'

const LIMIT = 100

function AckButton({ a }: { a: Alert }) {
  const qc = useQueryClient()
  const toast = useToast()
  const [busy, setBusy] = useState(false)
  const ack = async () => {
    setBusy(true)
    try {
      await ackAlert(a.id)
      toast(t('alerts.acked', { id: a.id }), 'ok')
      await invalidateAlerts(qc)
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    } finally {
      setBusy(false)
    }
  }
  return (
    <Button small onClick={ack} busy={busy} aria-label={t('alerts.ackLabel', { id: a.id })}>
      {t('alerts.ack')}
    </Button>
  )
}

export function Alerts() {
  const [params, setParams] = useSearchParams()
  const state = params.get('state') ?? 'open'
  const canWrite = useCanWrite()
  const interval = useFallbackInterval()
  const q = { state, limit: LIMIT }
  const a = useAlerts(q, { refetchInterval: interval })
  const cols: Col<Alert>[] = [
    {
      key: 'check', value: (x: Alert) => x.check_id || x.kind,
      header: t('alerts.check'),
      cell: (x) =>
        x.kind === 'check' ? (
          <Link to={`/compliance?check=${encodeURIComponent(x.check_id)}`} className="mono">
            {x.check_id}
          </Link>
        ) : (
          t(`alerts.kind.${x.kind}` as Key)
        ),
    },
    { key: 'pc', value: (x: Alert) => x.pc_id, header: t('comp.pc'), cell: (x) => <Link to={`/agents/${encodeURIComponent(x.pc_id)}`}>{x.pc_id}</Link> },
    { key: 'sev', value: (x: Alert) => x.severity, header: t('comp.severity'), cell: (x) => <Severity s={x.severity} /> },
    { key: 'opened', value: (x: Alert) => x.opened_at, header: t('alerts.opened'), cell: (x) => <span title={absoluteTime(x.opened_at, locale)}><RelTime at={x.opened_at} /></span> },
    ...(state === 'resolved'
      ? [{ key: 'resolved', value: (x: Alert) => x.resolved_at, header: t('alerts.resolved'), cell: (x: Alert) => (x.resolved_at ? <RelTime at={x.resolved_at} /> : '—') }]
      : []),
    {
      key: 'acked', value: (x: Alert) => x.acked_by,
      header: t('alerts.ackedBy'),
      cell: (x) =>
        x.acked_by ? (
          <span data-testid="acked-by" title={x.acked_at ? absoluteTime(x.acked_at, locale) : undefined}>
            {x.acked_by}
          </span>
        ) : canWrite && x.state === 'open' ? (
          <AckButton a={x} />
        ) : (
          '—'
        ),
    },
  ]
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.alerts')}</h1>
        <ExportCSV request={() => alertsExport({ state })} disabled={!a.total} />
      </div>
      <div className="toolbar filters">
        <Chips
          label={t('common.status')}
          value={state}
          options={['open', 'resolved'].map((s) => ({ value: s, label: t(`alerts.state.${s}` as Key) }))}
          onChange={(v) => setParams(v === 'open' ? {} : { state: v })}
        />
      </div>
      <ErrorBox error={a.error} />
      {a.isPending ? (
        <Spinner />
      ) : (
        <>
          <Table filter bulk={{ name: 'alerts', actions: (rows, clear) => <AckSelected rows={rows} clear={clear} /> }} rows={a.rows} rowKey={(x) => x.id} empty={state === 'open' ? t('alerts.noneOpen') : t('alerts.none')} caption={t('nav.alerts')} cols={cols} />
          <Pager shown={a.rows.length} total={a.total} estimated={a.estimated} hasMore={a.hasMore} loading={a.loadingMore} onMore={a.more} />
        </>
      )}
    </div>
  )
}

// Bulk acknowledge: the open, unacknowledged alerts of the selection.
function AckSelected({ rows, clear }: { rows: Alert[]; clear: () => void }) {
  const qc = useQueryClient()
  const canWrite = useCanWrite()
  const open = rows.filter((a) => a.state === 'open' && !a.acked_by)
  return (
    <BulkAction
      rows={open}
      label={t('bulk.ack')}
      disabled={!canWrite}
      run={(a) => ackAlert(a.id)}
      done={(count) => t('bulk.ackDone', { count })}
      after={() => {
        clear()
        invalidateAlerts(qc)
      }}
    />
  )
}
