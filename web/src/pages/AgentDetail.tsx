import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useCanWrite } from '../lib/session'
import { ApiError, enc } from '../lib/api'
import { useFallbackInterval } from '../lib/live'
import { deleteAgent, invalidateAgents, pingAgent, useAgent } from '../lib/queries/agents'
import { useEffectiveConfig } from '../lib/queries/config'
import { addToGroup, invalidateMembership, removeFromGroup } from '../lib/queries/groups'
import { usePcResults } from '../lib/queries/results'
import { Link, navigate } from '../lib/router'
import { formatBytes } from '../lib/time'
import type { EffectiveView as EffectiveViewData } from '../lib/types'
import { t } from '../i18n'
import { Button, Card, ErrorBox, KV, OnlineDot, RelTime, Spinner, StatusBadge, Table, useConfirm, useToast } from '../components/ui'
import { ExecDialog } from '../components/ExecDialog'
import { UpdateChip } from '../components/UpdateState'
import { InventoryChanges, InventoryFacts } from '../components/AgentInventory'

export function AgentDetail({ pc }: { pc: string }) {
  const interval = useFallbackInterval()
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const canWrite = useCanWrite()
  const agent = useAgent(pc, { refetchInterval: interval })
  const eff = useEffectiveConfig(pc)
  const runs = usePcResults(pc, 20, { refetchInterval: interval })
  const [newGroup, setNewGroup] = useState('')
  const [exec, setExec] = useState(false)
  const [pinging, setPinging] = useState(false)

  if (agent.isPending) return <Spinner />
  if (agent.error)
    return (
      <div className="page">
        <h1 className="mono">{pc}</h1>
        <ErrorBox error={agent.error} />
        {agent.error instanceof ApiError && agent.error.status === 404 && <Link to="/agents">{t('agents.back')}</Link>}
      </div>
    )
  const a = agent.data
  const groups = a.groups ?? []
  const refresh = () => invalidateMembership(qc, pc)
  const addGroup = async () => {
    try {
      await addToGroup(pc, newGroup.trim())
      setNewGroup('')
      refresh()
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
  }
  const removeGroup = async (g: string) => {
    if (!(await confirm({ title: t('groups.removeTitle', { group: g }), body: t('groups.removeBody', { pc, group: g }), confirm: t('common.remove'), danger: true }))) return
    try {
      await removeFromGroup(pc, g)
      refresh()
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
  }
  const ping = async () => {
    setPinging(true)
    try {
      await pingAgent(pc)
      toast(t('agents.pongFrom', { pc }), 'ok')
    } catch (e) {
      toast(t('agents.noPong', { pc, msg: (e as Error).message }), 'bad')
    } finally {
      setPinging(false)
    }
  }
  const del = async () => {
    if (!(await confirm({ title: t('agents.deleteTitle', { pc }), body: t('agents.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    try {
      await deleteAgent(pc)
      invalidateAgents(qc)
      navigate('/agents')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          <OnlineDot online={a.online} /> <span className="mono">{a.pc_id}</span>
        </h1>
        <div className="row">
          <Button onClick={ping} busy={pinging}>
            {t('agents.ping')}
          </Button>
          <Button variant="primary" onClick={() => setExec(true)} disabled={!canWrite}>
            {t('agents.execJob')}
          </Button>
          <Button onClick={() => navigate(`/run?pc=${enc(pc)}`)} disabled={!canWrite}>
            {t('nav.run')}
          </Button>
          <Button variant="danger" onClick={del} disabled={!canWrite}>
            {t('common.delete')}
          </Button>
        </div>
      </div>
      <div className="grid-2">
        <Card title={t('agents.facts')}>
          <KV
            items={[
              [t('agents.status'), a.online ? t('agents.online') : t('agents.offline')],
              [t('agents.hostname'), a.hostname],
              [t('agents.os'), `${a.os_family} ${a.os_version} (${a.arch})`],
              [t('agents.version'), <span className="mono">{a.agent_version}</span>],
              // Self-update (SPEC §13); "—" for an agent older than self-update.
              [t('update.state'), a.update_state ? <span>{a.update_state} <UpdateChip a={a} /></span> : '—'],
              [t('update.error'), a.update_error ? <span className="update-error">{a.update_error}</span> : '—'],
              [t('update.quarantinedVersion'), a.quarantined_version ? <span className="mono">{a.quarantined_version}</span> : '—'],
              [t('agents.lastSeen'), <RelTime at={a.last_heartbeat} />],
              [t('agents.boot'), <RelTime at={a.boot_time} />],
              [t('agents.rss'), formatBytes(a.agent_rss_bytes)],
              [t('agents.cpu'), `${(a.agent_cpu_pct ?? 0).toFixed(1)} %`],
              [t('agents.running'), String(a.running ?? 0)],
            ]}
          />
        </Card>
        <InventoryFacts pc={pc} interval={interval} />
        <InventoryChanges pc={pc} interval={interval} />
        <Card title={t('agents.groups')}>
          <ul className="tag-list">
            {groups.length === 0 && <li className="muted">{t('agents.noGroups')}</li>}
            {groups.map((g) => (
              <li key={g} className="tag">
                <Link to={`/agents?group=${enc(g)}`}>{g}</Link>
                {canWrite && (
                  <button type="button" className="icon-btn" aria-label={t('groups.removeFrom', { group: g })} onClick={() => removeGroup(g)}>
                    ×
                  </button>
                )}
              </li>
            ))}
          </ul>
          {canWrite && (
            <form className="row" onSubmit={(e) => (e.preventDefault(), addGroup())}>
              <input aria-label={t('groups.group')} placeholder={t('groups.group')} value={newGroup} onChange={(e) => setNewGroup(e.target.value)} />
              <Button type="submit" small disabled={!newGroup.trim()}>
                {t('common.add')}
              </Button>
            </form>
          )}
        </Card>
        <Card title={t('config.effective')}>
          {eff.isPending ? <Spinner /> : eff.error ? <ErrorBox error={eff.error} /> : <EffectiveView e={eff.data} />}
        </Card>
        <Card title={t('agents.recentRuns')} actions={<Link to={`/activity?pc_id=${enc(pc)}`}>{t('common.all')}</Link>}>
          {runs.isPending ? (
            <Spinner />
          ) : (
            <Table
              rows={runs.data ?? []}
              rowKey={(r) => r.result_id}
              onRow={(r) => navigate(`/activity/result/${enc(r.result_id)}`)}
              cols={[
                { key: 'job', header: t('jobs.job'), cell: (r) => r.job_id || t('run.adhoc') },
                { key: 'st', header: t('common.status'), cell: (r) => <StatusBadge status={r.status} /> },
                { key: 'exit', header: t('results.exit'), cell: (r) => r.exit_code ?? '—' },
                { key: 'at', header: t('common.when'), cell: (r) => <RelTime at={r.started_at ?? r.recorded_at} /> },
              ]}
            />
          )}
        </Card>
      </div>
      {exec && <ExecDialog open onClose={() => setExec(false)} pcs={[pc]} />}
    </div>
  )
}

export function EffectiveView({ e }: { e: EffectiveViewData }) {
  return (
    <>
      <KV items={Object.entries(e.effective ?? {}).map(([k, v]) => [k, <span className="mono">{typeof v === 'object' ? JSON.stringify(v) : String(v)}</span>])} />
      {(e.warnings ?? []).map((w) => (
        <div key={w} className="alert alert-warn">
          {w}
        </div>
      ))}
      {e.layers && Object.keys(e.layers).length > 0 && (
        <details>
          <summary>{t('config.layers')}</summary>
          <pre className="mono small">{JSON.stringify(e.layers, null, 2)}</pre>
        </details>
      )}
    </>
  )
}
