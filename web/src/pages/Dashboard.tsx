import { useFallbackInterval } from '../lib/live'
import { useAgentVersions } from '../lib/queries/agents'
import { useExecutionsByStatus } from '../lib/queries/executions'
import { useFleetHealth } from '../lib/queries/health'
import { useRecentResults } from '../lib/queries/results'
import { useSchedules } from '../lib/queries/schedules'
import { Link, navigate } from '../lib/router'
import type { FleetHealth } from '../lib/types'
import { useMemo } from 'react'
import { has, locale, num, t } from '../i18n'
import { fleetStatus, stuckPending } from '../lib/fleetStatus'
import { useOpenAlertCount } from '../lib/queries/checks'
import { useAgentsOnlineStats, useExecutionStats } from '../lib/queries/stats'
import { execSeries, LineChart, onlineSeries } from '../components/charts'
import { Badge, Card, Empty, Progress, RelTime, Spinner, StatusBadge, Table } from '../components/ui'

function Tile({ to, label, value, sub, tone }: { to: string; label: string; value: string | number; sub?: string; tone?: string }) {
  return (
    <Link to={to} className={`tile${tone ? ' tile-' + tone : ''}`}>
      <span className="tile-label">{label}</span>
      <span className="tile-value">{value}</span>
      {sub && <span className="tile-sub">{sub}</span>}
    </Link>
  )
}

function reasonLabel(reason: string): string {
  const key = `health.${reason}`
  return has(key) ? t(key) : reason
}

/**
 * The health badge says why the fleet is not all green (SPEC §17): the
 * backend's degraded reasons, offline PCs, failures in 24 h, runs stuck
 * pending and open alerts (lib/fleetStatus.ts, shared with the header).
 */
function HealthBadge({ h, alerts, stuck }: { h: FleetHealth; alerts: number; stuck: number }) {
  const s = fleetStatus(h, alerts, stuck)
  if (h.status !== 'ok') {
    const why = h.reasons?.length ? h.reasons.map((r) => reasonLabel(r.reason)) : (h.problems ?? [])
    const text = why.length ? t('dash.degradedWhy', { why: why.join(', ') }) : t('dash.degraded')
    return (
      <span title={(h.problems ?? []).join('\n')}>
        <Badge tone="bad">{[text, ...s.reasons.slice(1)].join(' · ')}</Badge>
      </span>
    )
  }
  return (
    <span data-testid="health-badge">
      <Badge tone={s.tone}>{s.text}</Badge>
    </span>
  )
}

const CHART_DAYS = 14
const fmtCount = (v: number) => num(Math.round(v))

function HistoryCharts({ interval }: { interval: number | false }) {
  const ex = useExecutionStats(CHART_DAYS, { refetchInterval: interval || 5 * 60_000, staleTime: 60_000 })
  const on = useAgentsOnlineStats(24, { refetchInterval: interval || 5 * 60_000, staleTime: 60_000 })
  const exSeries = useMemo(() => execSeries(ex.data?.days ?? [], { ok: t('chart.ok'), failed: t('chart.failed'), other: t('chart.other') }), [ex.data])
  const onSeries = useMemo(() => onlineSeries(on.data?.points ?? [], { known: t('chart.known'), online: t('chart.onlineLine') }), [on.data])
  const sum = (k: 'ok' | 'failed' | 'other') => (ex.data?.days ?? []).reduce((a, d) => a + d[k], 0)
  const pts = on.data?.points ?? []
  const last = pts[pts.length - 1]
  const onl = pts.map((p) => p.online)
  return (
    <div className="grid-2">
      <Card title={t('chart.execs')} id="chart-execs">
        {ex.isPending ? (
          <Spinner />
        ) : ex.error ? (
          <Empty>{(ex.error as Error).message}</Empty>
        ) : (
          <div data-testid="chart-execs">
            <LineChart daily bars series={exSeries} yFormat={fmtCount} height={200} label={t('chart.execsLabel', { days: CHART_DAYS, ok: sum('ok'), failed: sum('failed'), other: sum('other') })} />
            <p className="muted small chart-note">{t('chart.execsExplain')}</p>
          </div>
        )}
      </Card>
      <Card title={t('chart.online')} id="chart-online">
        {on.isPending ? (
          <Spinner />
        ) : on.error ? (
          <Empty>{(on.error as Error).message}</Empty>
        ) : !last ? (
          <Empty>{t('chart.none')}</Empty>
        ) : (
          <div data-testid="chart-online">
            <LineChart series={onSeries} yFormat={fmtCount} height={200} label={t('chart.onlineLabel', { min: Math.min(...onl), max: Math.max(...onl), online: last.online, known: last.known })} />
            <p className="muted small chart-note">{t('chart.onlineExplain')}</p>
          </div>
        )}
      </Card>
    </div>
  )
}

export function Dashboard() {
  const interval = useFallbackInterval()
  const health = useFleetHealth({ refetchInterval: interval })
  const running = useExecutionsByStatus('running', 10, { refetchInterval: interval })
  const pending = useExecutionsByStatus('pending', 10, { refetchInterval: interval })
  const results = useRecentResults(8, { refetchInterval: interval })
  const schedules = useSchedules({ refetchInterval: interval })
  const agents = useAgentVersions({ refetchInterval: interval || 60_000, staleTime: 30_000 })
  const openAlerts = useOpenAlertCount({ refetchInterval: interval || 60_000 })

  const failed: [string, unknown][] = (
    [
      [t('dash.health'), health.error],
      [t('dash.running'), running.error ?? pending.error],
      [t('dash.recent'), results.error],
      [t('dash.upcoming'), schedules.error],
      [t('dash.versions'), agents.error],
    ] as [string, unknown][]
  ).filter(([, e]) => e)

  const h = health.data
  const offline = h ? h.agents_known - h.agents_online : 0
  const js = h?.jetstream
  const inflight = [...(running.data ?? []), ...(pending.data ?? [])]
  const upcoming = (schedules.data ?? [])
    .filter((s) => s.enabled && s.next_fire)
    .sort((a, b) => (a.next_fire! < b.next_fire! ? -1 : 1))
    .slice(0, 6)

  return (
    <div className="page">
      <h1>{t('nav.dashboard')}</h1>
      {failed.length > 0 && (
        <div className="banner banner-bad" role="alert">
          <strong>{t('dash.degradedData')}</strong> {failed.map(([n, e]) => `${n}: ${(e as Error).message}`).join(' · ')}
        </div>
      )}
      <Card title={t('dash.health')} id="health" actions={h && <HealthBadge h={h} alerts={openAlerts.data ?? 0} stuck={stuckPending(pending.data, Date.now())} />}>
        {h && h.status !== 'ok' && (
          <ul className="banner banner-bad health-reasons" role="alert">
            {(h.reasons?.length ? h.reasons.map((r) => r.message) : h.problems ?? []).map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        )}
        {health.isPending ? (
          <Spinner />
        ) : h ? (
          <div className="tiles">
            <Tile to="/agents?status=online" label={t('dash.online')} value={`${h.agents_online.toLocaleString(locale)} / ${h.agents_known.toLocaleString(locale)}`} sub={t('dash.onlineSub')} tone={h.agents_known && h.agents_online === 0 ? 'bad' : 'ok'} />
            <Tile to="/agents?status=offline" label={t('dash.offline')} value={offline.toLocaleString(locale)} sub={t('dash.offlineSub')} tone={offline ? 'warn' : undefined} />
            <Tile to="/activity?status=failure&since=24h" label={t('dash.failures')} value={h.failures_24h.toLocaleString(locale)} sub={t('dash.failuresSub')} tone={h.failures_24h ? 'bad' : undefined} />
            <Tile to="/activity?tab=executions&estatus=running" label={t('dash.runningExec')} value={h.running_executions.toLocaleString(locale)} sub={t('dash.runningSub')} />
            <Tile
              to="/groups"
              label={t('dash.broker')}
              value={`${js?.streams?.length ?? 0} / ${js?.kv?.length ?? 0}`}
              sub={t('dash.brokerSub', { msgs: (js?.streams ?? []).reduce((a, s) => a + s.messages, 0).toLocaleString(locale) })}
              tone={h.status === 'ok' ? undefined : 'bad'}
            />
          </div>
        ) : null}
      </Card>
      <HistoryCharts interval={interval} />
      <div className="grid-2">
        <Card title={t('dash.running')} id="running" actions={<Link to="/activity?tab=executions">{t('common.all')}</Link>}>
          {running.isPending ? (
            <Spinner />
          ) : inflight.length === 0 ? (
            <Empty>{t('dash.noRunning')}</Empty>
          ) : (
            <ul className="exec-list">
              {inflight.map((e) => (
                <li key={e.exec_id}>
                  <Link to={`/activity/exec/${encodeURIComponent(e.exec_id)}`} className="exec-item">
                    <span className="exec-title">
                      <strong>{e.job_id}</strong> <span className="muted">{e.version}</span> <StatusBadge status={e.status} />
                    </span>
                    <Progress e={e} />
                    <span className="muted small">
                      {t('exec.counts', { ok: e.success_count, fail: e.failure_count, skip: e.skipped_count, total: e.target_count })} · <RelTime at={e.initiated_at} />
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('dash.upcoming')} id="upcoming" actions={<Link to="/schedules">{t('common.all')}</Link>}>
          {schedules.isPending ? (
            <Spinner />
          ) : (
            <Table
              rows={upcoming}
              rowKey={(s) => s.id}
              empty={t('dash.noUpcoming')}
              onRow={() => navigate('/schedules')}
              cols={[
                { key: 'id', header: t('sched.id'), cell: (s) => s.id },
                { key: 'job', header: t('jobs.job'), cell: (s) => s.job_id },
                { key: 'next', header: t('sched.next'), cell: (s) => <RelTime at={s.next_fire} /> },
              ]}
            />
          )}
        </Card>
        <Card title={t('dash.recent')} id="recent" actions={<Link to="/activity">{t('common.all')}</Link>}>
          {results.isPending ? (
            <Spinner />
          ) : (
            <Table
              rows={results.data ?? []}
              rowKey={(r) => r.result_id}
              onRow={(r) => navigate(`/activity/result/${encodeURIComponent(r.result_id)}`)}
              empty={t('dash.noResults')}
              cols={[
                { key: 'job', header: t('jobs.job'), cell: (r) => r.job_id || <span className="muted">{t('run.adhoc')}</span> },
                { key: 'pc', header: t('agents.pc'), cell: (r) => r.pc_id },
                { key: 'st', header: t('common.status'), cell: (r) => <StatusBadge status={r.status} /> },
                { key: 'at', header: t('common.when'), cell: (r) => <RelTime at={r.finished_at ?? r.started_at} /> },
              ]}
            />
          )}
        </Card>
        <Card title={t('dash.versions')} id="versions" actions={<Link to="/agents?sort=agent_version">{t('nav.agents')}</Link>}>
          {agents.isPending ? (
            <Spinner />
          ) : !agents.data?.total ? (
            <Empty>{t('agents.none')}</Empty>
          ) : (
            <ul className="bars">
              {agents.data.versions.map(([v, c]) => (
                <li key={v}>
                  <Link to={`/agents?q=&sort=agent_version`} className="bar-row" title={t('dash.versionTitle', { v, online: c.online, total: c.total })}>
                    <span className="bar-label mono">{v}</span>
                    <span className="bar-track">
                      <span className="bar-fill" style={{ width: `${(c.total / agents.data.total) * 100}%` }} />
                    </span>
                    <span className="bar-num">
                      {c.online}/{c.total}
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  )
}
