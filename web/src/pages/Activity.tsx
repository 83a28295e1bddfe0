import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useCanWrite } from '../lib/session'
import { enc } from '../lib/api'
import { parseResultFilter, sincePresets, skipReason, type ResultFilter } from '../lib/filters'
import { useFallbackInterval } from '../lib/live'
import { invalidateExecution, invalidateExecutions, useExecution, useExecutionList } from '../lib/queries/executions'
import { killJob } from '../lib/queries/jobs'
import { resultsExport, useResult, useResultList } from '../lib/queries/results'
import { Link, navigate, useSearchParams } from '../lib/router'
import { absoluteTime, durationBetween, formatDuration } from '../lib/time'
import type { Result } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { ExportCSV } from '../components/ExportCSV'
import { BulkAction } from '../components/BulkAction'
import { ExecStatus, ExecutionSummary, RolloutControls } from '../components/ExecutionSummary'
import type { Execution } from '../lib/types'
import { Badge, Button, Card, Chips, ErrorBox, KV, Output, Pager, Progress, RelTime, Spinner, StatusBadge, Table, useConfirm, useNow, useToast } from '../components/ui'

const LIMIT = 50

export function Activity() {
  const [params, setParams] = useSearchParams()
  const tab = params.get('tab') === 'executions' ? 'executions' : 'results'
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params)
    if (v) p.set(k, v)
    else p.delete(k)
    setParams(p)
  }
  return (
    <div className="page">
      <h1>{t('nav.activity')}</h1>
      <div className="tabs" role="tablist" aria-label={t('nav.activity')}>
        {(['results', 'executions'] as const).map((x) => (
          <button key={x} role="tab" type="button" aria-selected={tab === x} className={`tab${tab === x ? ' active' : ''}`} onClick={() => set('tab', x === 'results' ? '' : x)}>
            {t(`activity.${x}`)}
          </button>
        ))}
      </div>
      {tab === 'results' ? <ResultsList params={params} set={set} /> : <ExecutionsList params={params} set={set} />}
    </div>
  )
}

function ResultsList({ params, set }: { params: URLSearchParams; set: (k: string, v: string) => void }) {
  const f: ResultFilter = parseResultFilter(params)
  const interval = useFallbackInterval()
  // `since` is relative to now; round to the minute so the query key stays stable.
  const minute = Math.floor(Date.now() / 60_000) * 60_000
  const res = useResultList(f, minute, LIMIT, { refetchInterval: interval })
  return (
    <>
      <div className="toolbar filters">
        <input aria-label={t('jobs.job')} placeholder={t('jobs.job')} defaultValue={f.job_id} onKeyDown={(e) => e.key === 'Enter' && set('job_id', e.currentTarget.value.trim())} onBlur={(e) => e.target.value.trim() !== f.job_id && set('job_id', e.target.value.trim())} />
        <input aria-label={t('agents.pc')} placeholder={t('agents.pc')} defaultValue={f.pc_id} onKeyDown={(e) => e.key === 'Enter' && set('pc_id', e.currentTarget.value.trim())} onBlur={(e) => e.target.value.trim() !== f.pc_id && set('pc_id', e.target.value.trim())} />
        <select aria-label={t('common.status')} value={f.status} onChange={(e) => set('status', e.target.value)}>
          <option value="">{t('activity.anyStatus')}</option>
          {(['running', 'success', 'failure', 'skipped'] as const).map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
        <Chips label={t('activity.since')} value={f.since} options={sincePresets.map((s) => ({ value: s, label: t(`since.${s}`) }))} onChange={(v) => set('since', v === '24h' ? '' : v)} />
        <ExportCSV request={() => resultsExport(f, minute)} disabled={!res.total} />
        {f.exec_id && (
          <span className="tag">
            exec {f.exec_id.slice(0, 8)}
            <button type="button" className="icon-btn" aria-label={t('common.clear')} onClick={() => set('exec_id', '')}>
              ×
            </button>
          </span>
        )}
      </div>
      <ErrorBox error={res.error} />
      {res.isPending ? (
        <Spinner />
      ) : (
        <>
          <ResultTable rows={res.rows} />
          <Pager shown={res.rows.length} total={res.total} estimated={res.estimated} hasMore={res.hasMore} loading={res.loadingMore} onMore={res.more} />
        </>
      )}
    </>
  )
}

export function ResultTable({ rows, showJob = true }: { rows: Result[]; showJob?: boolean }) {
  const now = useNow()
  return (
    <Table filter bulk={{ name: 'results' }}
      rows={rows}
      rowKey={(r) => r.result_id}
      onRow={(r) => navigate(`/activity/result/${enc(r.result_id)}`)}
      empty={t('activity.noResults')}
      caption={t('activity.results')}
      cols={[
        ...(showJob ? [{ key: 'job', value: (r: Result) => r.job_id, header: t('jobs.job'), cell: (r: Result) => r.job_id || <span className="muted">{t('run.adhoc')}</span> }] : []),
        { key: 'pc', value: r => r.pc_id, header: t('agents.pc'), cell: (r) => <Link to={`/agents/${enc(r.pc_id)}`}>{r.pc_id}</Link> },
        { key: 'st', value: r => r.status, header: t('common.status'), cell: (r) => <ResultStatus r={r} /> },
        { key: 'exit', value: r => r.exit_code, header: t('results.exit'), cell: (r) => <span className="mono">{r.exit_code ?? '—'}</span> },
        { key: 'stderr', value: r => r.stderr_excerpt ?? '', header: t('results.stderr'), className: 'c-stderr', cell: (r) => r.stderr_excerpt ? <span className="mono small muted stderr-excerpt" title={r.stderr_excerpt}>{r.stderr_excerpt}</span> : null },
        { key: 'start', value: r => r.started_at ?? r.recorded_at, header: t('results.started'), cell: (r) => <RelTime at={r.started_at ?? r.recorded_at} /> },
        { key: 'dur', value: r => durationBetween(r.started_at, r.finished_at, now), header: t('results.duration'), cell: (r) => formatDuration(durationBetween(r.started_at, r.finished_at, now)) },
        { key: 'open', header: '', label: '', cell: (r) => <Link to={`/activity/result/${enc(r.result_id)}`}>{t('common.open')}</Link> },
      ]}
    />
  )
}

function ResultStatus({ r }: { r: Result }) {
  const reason = r.skipped ? skipReason(r.exit_code) : null
  return (
    <span className="row tight">
      <StatusBadge status={r.status} />
      {r.timed_out && <Badge tone="warn">{t('results.timedOut')}</Badge>}
      {r.killed && <Badge tone="warn">{t('results.killed')}</Badge>}
      {r.reaped && <Badge tone="warn">{t('results.reaped')}</Badge>}
      {reason && <span className="muted small">{t(reason as Key)}</span>}
    </span>
  )
}

function ExecutionsList({ params, set }: { params: URLSearchParams; set: (k: string, v: string) => void }) {
  const job = params.get('job_id') ?? ''
  const st = params.get('estatus') ?? ''
  const interval = useFallbackInterval()
  const ex = useExecutionList({ job_id: job, status: st, limit: LIMIT }, { refetchInterval: interval })
  return (
    <>
      <div className="toolbar filters">
        <input aria-label={t('jobs.job')} placeholder={t('jobs.job')} defaultValue={job} onKeyDown={(e) => e.key === 'Enter' && set('job_id', e.currentTarget.value.trim())} onBlur={(e) => e.target.value.trim() !== job && set('job_id', e.target.value.trim())} />
        <select aria-label={t('common.status')} value={st} onChange={(e) => set('estatus', e.target.value)}>
          <option value="">{t('activity.anyStatus')}</option>
          {(['pending', 'running', 'completed', 'expired'] as const).map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={ex.error} />
      {ex.isPending ? (
        <Spinner />
      ) : (
        <>
          <Table filter bulk={{ name: 'executions', actions: (rows, clear) => <KillSelected rows={rows} clear={clear} /> }}
            rows={ex.rows}
            rowKey={(e) => e.exec_id}
            onRow={(e) => navigate(`/activity/exec/${enc(e.exec_id)}`)}
            empty={t('activity.noExecutions')}
            caption={t('activity.executions')}
            cols={[
              { key: 'job', value: e => e.job_id, header: t('jobs.job'), cell: (e) => <><strong>{e.job_id}</strong> <span className="muted small">{e.version}</span></> },
              { key: 'st', value: e => e.status, header: t('common.status'), cell: (e) => <ExecStatus e={e} /> },
              { key: 'prog', value: e => e.target_count ? (e.success_count + e.failure_count + e.skipped_count) / e.target_count : 0, header: t('exec.progressLabel'), className: 'w-prog', cell: (e) => <><Progress e={e} /><span className="small muted">{t('exec.counts', { ok: e.success_count, fail: e.failure_count, skip: e.skipped_count, total: e.target_count })}</span></> },
              { key: 'by', value: e => e.initiated_by, header: t('activity.by'), cell: (e) => e.initiated_by },
              { key: 'at', value: e => e.initiated_at, header: t('common.when'), cell: (e) => <RelTime at={e.initiated_at} /> },
            ]}
          />
          <Pager shown={ex.rows.length} total={ex.total} estimated={ex.estimated} hasMore={ex.hasMore} loading={ex.loadingMore} onMore={ex.more} />
        </>
      )}
    </>
  )
}

export function ExecutionView({ id }: { id: string }) {
  const interval = useFallbackInterval(5000)
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()
  const canWrite = useCanWrite()
  const ex = useExecution(id, {
    // Live events drive this page; poll only while the stream is down and the run is not done.
    refetchInterval: (q) => (q.state.data?.status === 'completed' || q.state.data?.status === 'expired' ? false : interval),
  })
  const [killing, setKilling] = useState(false)
  if (ex.isPending) return <Spinner />
  if (ex.error) return <ErrorBox error={ex.error} />
  const e = ex.data
  const done = e.status === 'completed' || e.status === 'expired'
  const kill = async () => {
    if (!(await confirm({ title: t('jobs.killTitle', { job: e.job_id }), body: t('jobs.killBody'), confirm: t('jobs.kill'), danger: true }))) return
    setKilling(true)
    try {
      await killJob(e.job_id)
      toast(t('jobs.killSent'), 'warn')
      invalidateExecution(qc, id)
    } catch (err) {
      toast(String((err as Error).message), 'bad')
    } finally {
      setKilling(false)
    }
  }
  const results = e.results ?? []
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          {e.job_id} <span className="muted small">{e.version}</span> <ExecStatus e={e} />
        </h1>
        {!done && (
          <Button variant="danger" onClick={kill} busy={killing} disabled={!canWrite}>
            {t('jobs.kill')}
          </Button>
        )}
      </div>
      <Card title={t('exec.progressLabel')}>
        <Progress e={e} />
        <p className="exec-counts" aria-live="polite">
          {t('exec.counts', { ok: e.success_count, fail: e.failure_count, skip: e.skipped_count, total: e.target_count })}
          {!done && <> · {t('exec.following')}</>}
        </p>
        <KV
          items={[
            [t('exec.id'), <span className="mono">{e.exec_id}</span>],
            [t('activity.by'), e.initiated_by],
            [t('common.when'), absoluteTime(e.initiated_at, locale)],
          ]}
        />
      </Card>
      <RolloutControls e={e} />
      <ExecutionSummary e={e} />
      <Card title={t('activity.perPc', { count: results.length })}>
        <ResultTable rows={results} showJob={false} />
      </Card>
    </div>
  )
}

export function ResultView({ id }: { id: string }) {
  const interval = useFallbackInterval(5000)
  const now = useNow()
  const r = useResult(id, {
    refetchInterval: (q) => (q.state.data && q.state.data.status !== 'running' ? false : interval),
  })
  if (r.isPending) return <Spinner />
  if (r.error) return <ErrorBox error={r.error} />
  const x = r.data
  const reason = x.skipped ? skipReason(x.exit_code) : null
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          {x.job_id || t('run.adhoc')} <span className="muted small">@</span> <Link to={`/agents/${enc(x.pc_id)}`}>{x.pc_id}</Link> <ResultStatus r={x} />
        </h1>
        {x.exec_id && <Link to={`/activity/exec/${enc(x.exec_id)}`}>{t('results.toExec')}</Link>}
      </div>
      {reason && (
        <div className="alert alert-warn" role="note">
          {t('results.skippedBecause')} {t(reason as Key)}
        </div>
      )}
      <Card title={t('results.timing')}>
        <KV
          items={[
            [t('results.exit'), <span className="mono">{x.exit_code ?? t('status.running')}</span>],
            [t('results.started'), absoluteTime(x.started_at, locale)],
            [t('results.finished'), absoluteTime(x.finished_at, locale)],
            [t('results.duration'), formatDuration(durationBetween(x.started_at, x.finished_at, now))],
            [t('results.recorded'), absoluteTime(x.recorded_at, locale)],
            [t('results.expires'), absoluteTime(x.expires_at, locale)],
            [t('results.version'), x.version || '—'],
            [t('results.id'), <span className="mono">{x.result_id}</span>],
            [t('exec.id'), <span className="mono">{x.exec_id}</span>],
          ]}
        />
      </Card>
      <Output label="stdout" text={x.stdout ?? ''} filename={`${x.pc_id}-${x.result_id}.stdout.txt`} />
      <Output label="stderr" text={x.stderr ?? ''} filename={`${x.pc_id}-${x.result_id}.stderr.txt`} />
    </div>
  )
}

// Bulk kill: kill is per job (POST /api/jobs/{id}/kill stops every running
// run of it), so the selection's unfinished executions name the jobs.
function KillSelected({ rows, clear }: { rows: Execution[]; clear: () => void }) {
  const qc = useQueryClient()
  const canWrite = useCanWrite()
  const jobs = [...new Set(rows.filter((e) => e.status === 'pending' || e.status === 'running').map((e) => e.job_id))]
  return (
    <BulkAction
      rows={jobs}
      label={t('bulk.kill')}
      danger
      disabled={!canWrite}
      confirm={{ title: t('bulk.killTitle', { count: jobs.length }), body: t('jobs.killBody') }}
      run={(job) => killJob(job)}
      done={(count) => t('bulk.killDone', { count })}
      after={() => {
        clear()
        invalidateExecutions(qc)
      }}
    />
  )
}
