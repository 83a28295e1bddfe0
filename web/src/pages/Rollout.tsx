// Rollout (SPEC §13): the fleet's agent versions, where target_version is
// set and how far each scope got, and the PCs whose update failed or that
// quarantined a version. Halting a rollout = unsetting target_version.
import { useQueryClient } from '@tanstack/react-query'
import { enc } from '../lib/api'
import { useFallbackInterval } from '../lib/live'
import { invalidateAgents, useVersionDistribution } from '../lib/queries/agents'
import { invalidateRollout, unsetTarget, useAgentsInState, useRolloutTargets, type RolloutTarget } from '../lib/queries/rollout'
import { Link } from '../lib/router'
import { useCanWrite } from '../lib/session'
import type { Agent, AgentVersion, ConfigScopeRef } from '../lib/types'
import { t } from '../i18n'
import { Button, Card, Empty, ErrorBox, OnlineDot, RelTime, Spinner, Table, useConfirm, useToast } from '../components/ui'
import { UpdateChip } from '../components/UpdateState'

const LIST = 50

const scopeName = (s: ConfigScopeRef) => (s.kind === 'global' ? t('rollout.global') : s.kind === 'group' ? t('rollout.group', { g: s.name }) : s.name)
const scopeAgents = (s: ConfigScopeRef, extra: string) =>
  s.kind === 'group' ? `/agents?group=${enc(s.name)}${extra ? '&' + extra : ''}` : `/agents${extra ? '?' + extra : ''}`

export function Rollout() {
  const interval = useFallbackInterval()
  const refetch = { refetchInterval: interval || 30_000 }
  const versions = useVersionDistribution(refetch)
  const targets = useRolloutTargets(refetch)
  const failed = useAgentsInState('failed', LIST, refetch)
  const quarantined = useAgentsInState('quarantined', LIST, refetch)
  return (
    <div className="page">
      <h1>{t('rollout.title')}</h1>
      <p className="muted">{t('rollout.intro')}</p>
      <div className="grid-2">
        <Card title={t('rollout.versions')} id="rollout-versions" className="span-2">
          <ErrorBox error={versions.error} />
          {versions.isPending ? <Spinner /> : <Versions rows={versions.data ?? []} />}
        </Card>
        <Card title={t('rollout.targets')} id="rollout-targets" className="span-2">
          <ErrorBox error={targets.error} />
          {targets.isPending ? <Spinner /> : <Targets rows={targets.data ?? []} />}
          <p className="muted small">{t('rollout.targetsHint')}</p>
        </Card>
        <Card title={t('rollout.failed')} id="rollout-failed" actions={<Link to="/agents?update_state=failed">{t('common.all')}</Link>}>
          <ErrorBox error={failed.error} />
          {failed.isPending ? <Spinner /> : <PCs rows={failed.data?.items ?? []} total={failed.data?.total ?? 0} empty={t('rollout.noFailed')} />}
        </Card>
        <Card title={t('rollout.quarantined')} id="rollout-quarantined" actions={<Link to="/agents?update_state=quarantined">{t('common.all')}</Link>}>
          <ErrorBox error={quarantined.error} />
          {quarantined.isPending ? <Spinner /> : <PCs rows={quarantined.data?.items ?? []} total={quarantined.data?.total ?? 0} empty={t('rollout.noQuarantined')} />}
        </Card>
      </div>
    </div>
  )
}

function Versions({ rows }: { rows: AgentVersion[] }) {
  const total = rows.reduce((n, v) => n + v.agents, 0)
  if (!rows.length) return <Empty>{t('rollout.noVersions')}</Empty>
  const n = (v: AgentVersion, state: string) => v.states?.[state] ?? 0
  const count = (v: AgentVersion, state: string) =>
    n(v, state) ? <Link to={`/agents?version=${enc(v.version)}&update_state=${state}`}>{n(v, state)}</Link> : <span className="muted">0</span>
  return (
    <Table filter bulk={{ name: 'agent-versions' }}
      rows={rows}
      rowKey={(v) => v.version}
      caption={t('rollout.versions')}
      cols={[
        { key: 'v', value: v => v.version, header: t('rollout.version'), cell: (v) => <Link className="mono" to={`/agents?version=${enc(v.version)}`}>{v.version || '—'}</Link> },
        {
          key: 'share', value: v => v.agents,
          header: t('rollout.share'),
          className: 'c-share',
          cell: (v) => (
            <span className="bar-track" title={`${v.agents} / ${total}`} aria-hidden>
              <span className="bar-fill" style={{ width: `${total ? (v.agents / total) * 100 : 0}%` }} />
            </span>
          ),
        },
        { key: 'agents', value: v => v.agents, header: t('rollout.agents'), cell: (v) => v.agents },
        { key: 'online', value: v => v.online, header: t('rollout.online'), cell: (v) => v.online },
        { key: 'current', value: v => n(v, 'current'), header: t('update.current'), cell: (v) => count(v, 'current') },
        { key: 'downloading', value: v => n(v, 'downloading'), header: t('update.downloading'), cell: (v) => count(v, 'downloading') },
        { key: 'restarting', value: v => n(v, 'restarting'), header: t('update.restarting'), cell: (v) => count(v, 'restarting') },
        { key: 'failed', value: v => n(v, 'failed'), header: t('update.failed'), cell: (v) => count(v, 'failed') },
        { key: 'quarantined', value: v => n(v, 'quarantined'), label: t('rollout.rolledBack'), header: <span title={t('rollout.rolledBackHint')}>{t('rollout.rolledBack')}</span>, cell: (v) => count(v, 'quarantined') },
        {
          key: 'quarantinedBy',
          label: t('rollout.quarantinedBy'),
          header: <span title={t('rollout.quarantinedByHint')}>{t('rollout.quarantinedBy')}</span>,
          cell: (v) => (v.quarantined ? <Link to={`/agents?quarantined=${enc(v.version)}`}>{v.quarantined}</Link> : <span className="muted">0</span>),
        },
      ]}
    />
  )
}

function Targets({ rows }: { rows: RolloutTarget[] }) {
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()
  const canWrite = useCanWrite()
  if (!rows.length) return <Empty>{t('rollout.noTargets')}</Empty>
  const halt = async (r: RolloutTarget) => {
    const scope = scopeName(r.scope)
    if (!(await confirm({ title: t('rollout.haltTitle', { scope }), body: t('rollout.haltBody', { scope, v: r.target }), confirm: t('rollout.halt'), danger: true }))) return
    try {
      await unsetTarget(r.scope)
      toast(t('rollout.halted', { scope }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    invalidateRollout(qc, r.scope)
    invalidateAgents(qc)
  }
  return (
    <Table filter bulk={{ name: 'rollout-targets' }}
      rows={rows}
      rowKey={(r) => `${r.scope.kind}:${'name' in r.scope ? r.scope.name : ''}`}
      caption={t('rollout.targets')}
      cols={[
        { key: 'scope', value: r => scopeName(r.scope), header: t('rollout.scope'), cell: (r) => <Link to={scopeAgents(r.scope, '')}>{scopeName(r.scope)}</Link> },
        { key: 'target', value: r => r.target, header: t('rollout.target'), cell: (r) => <span className="mono">{r.target}</span> },
        {
          key: 'progress',
          header: t('rollout.atTarget'),
          cell: (r) => (
            <span className="row nowrap">
              <span className="bar-track progress-track" aria-hidden>
                <span className="bar-fill" style={{ width: `${r.total ? (r.atTarget / r.total) * 100 : 0}%` }} />
              </span>
              <Link to={scopeAgents(r.scope, `version=${enc(r.target)}`)}>{t('rollout.atTargetOf', { at: r.atTarget, total: r.total })}</Link>
            </span>
          ),
        },
        {
          key: 'halt',
          header: '',
          cell: (r) =>
            canWrite ? (
              <Button small variant="danger" onClick={() => halt(r)} aria-label={`${t('rollout.halt')} ${scopeName(r.scope)}`}>
                {t('rollout.halt')}
              </Button>
            ) : null,
        },
      ]}
    />
  )
}

function PCs({ rows, total, empty }: { rows: Agent[]; total: number; empty: string }) {
  if (!rows.length) return <Empty>{empty}</Empty>
  return (
    <>
      <ul className="plain-list update-list">
        {rows.map((a) => (
          <li key={a.pc_id}>
            <OnlineDot online={a.online} /> <Link className="mono" to={`/agents/${enc(a.pc_id)}`}>{a.pc_id}</Link> <span className="mono muted">{a.agent_version}</span> <UpdateChip a={a} />{' '}
            <RelTime at={a.last_heartbeat} />
            {a.update_state === 'failed' && a.update_error && <div className="small muted update-error">{a.update_error}</div>}
          </li>
        ))}
      </ul>
      {total > rows.length && <p className="muted small">{t('common.shown', { shown: rows.length, total })}</p>}
    </>
  )
}
