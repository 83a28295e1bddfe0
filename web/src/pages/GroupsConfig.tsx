import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useCanWrite } from '../lib/session'
import { ApiError, enc } from '../lib/api'
import { useFallbackInterval } from '../lib/live'
import { deleteScope, invalidateConfig, putScope, scopeId, useConfigScope, useEffectiveConfig } from '../lib/queries/config'
import { invalidateMembership, removeFromGroup, useGroups } from '../lib/queries/groups'
import { Link } from '../lib/router'
import type { ConfigScope, ConfigScopeRef } from '../lib/types'
import { t } from '../i18n'
import { Button, Card, Empty, ErrorBox, Field, Spinner, useConfirm, useToast } from '../components/ui'
import { EffectiveView } from './AgentDetail'

export function GroupsConfig() {
  const interval = useFallbackInterval()
  const groups = useGroups({ refetchInterval: interval })
  const [scope, setScope] = useState<ConfigScopeRef>({ kind: 'global' })
  const [pc, setPc] = useState('')
  const [effPc, setEffPc] = useState('')
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()
  const canWrite = useCanWrite()
  const removeMember = async (g: string, m: string) => {
    if (!(await confirm({ title: t('groups.removeTitle', { group: g }), body: t('groups.removeBody', { pc: m, group: g }), confirm: t('common.remove'), danger: true }))) return
    try {
      await removeFromGroup(m, g)
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    invalidateMembership(qc)
  }
  return (
    <div className="page">
      <h1>{t('nav.groups')}</h1>
      <div className="grid-2">
        <Card title={t('groups.title')}>
          <ErrorBox error={groups.error} />
          {groups.isPending ? (
            <Spinner />
          ) : (groups.data ?? []).length === 0 ? (
            <Empty>{t('groups.none')}</Empty>
          ) : (
            <ul className="group-list">
              {(groups.data ?? []).map((g) => (
                <li key={g.group}>
                  <details>
                    <summary>
                      <strong>{g.group}</strong> <span className="muted">{t('groups.members', { count: (g.members ?? []).length })}</span>
                    </summary>
                    <div className="row wrap">
                      <Link to={`/agents?group=${enc(g.group)}`}>{t('groups.openInAgents')}</Link>
                      <Button small onClick={() => setScope({ kind: 'group', name: g.group })}>
                        {t('groups.editConfig')}
                      </Button>
                    </div>
                    <ul className="tag-list">
                      {(g.members ?? []).slice(0, 200).map((m) => (
                        <li key={m} className="tag">
                          <Link to={`/agents/${enc(m)}`}>{m}</Link>
                          {canWrite && (
                            <button type="button" className="icon-btn" aria-label={t('groups.removeMember', { pc: m, group: g.group })} onClick={() => removeMember(g.group, m)}>
                              ×
                            </button>
                          )}
                        </li>
                      ))}
                      {(g.members ?? []).length > 200 && <li className="muted">{t('groups.more', { count: (g.members ?? []).length - 200 })}</li>}
                    </ul>
                  </details>
                </li>
              ))}
            </ul>
          )}
          <p className="muted small">{t('groups.howToAdd')}</p>
        </Card>
        <Card title={t('config.title')}>
          <div className="row wrap">
            <Button small variant={scope.kind === 'global' ? 'primary' : 'default'} onClick={() => setScope({ kind: 'global' })}>
              {t('config.global')}
            </Button>
            <select aria-label={t('config.groupScope')} value={scope.kind === 'group' ? scope.name : ''} onChange={(e) => e.target.value && setScope({ kind: 'group', name: e.target.value })}>
              <option value="">{t('config.pickGroup')}</option>
              {(groups.data ?? []).map((g) => (
                <option key={g.group}>{g.group}</option>
              ))}
            </select>
            <form className="row tight" onSubmit={(e) => (e.preventDefault(), pc.trim() && setScope({ kind: 'pc', name: pc.trim() }))}>
              <input aria-label={t('config.pcScope')} placeholder={t('agents.pc')} value={pc} onChange={(e) => setPc(e.target.value)} />
              <Button small type="submit">
                {t('common.open')}
              </Button>
            </form>
          </div>
          <ScopeEditor key={scopeId(scope)} scope={scope} />
        </Card>
        <Card title={t('config.effectiveFor')}>
          <form className="row" onSubmit={(e) => (e.preventDefault(), setEffPc(pc.trim() || effPc))}>
            <input aria-label={t('agents.pc')} placeholder={t('agents.pc')} value={pc} onChange={(e) => setPc(e.target.value)} />
            <Button small type="submit">
              {t('config.resolve')}
            </Button>
          </form>
          {effPc && <Effective pc={effPc} />}
        </Card>
      </div>
    </div>
  )
}

function Effective({ pc }: { pc: string }) {
  const e = useEffectiveConfig(pc)
  if (e.isPending) return <Spinner />
  if (e.error) return <ErrorBox error={e.error} />
  return <EffectiveView e={e.data} />
}

const fields: { key: keyof ConfigScope; num?: boolean; hint: 'config.hbHint' | 'config.mlcHint' | 'config.tvHint' | 'config.obHint' }[] = [
  { key: 'heartbeat_interval', hint: 'config.hbHint' },
  { key: 'max_local_concurrent', num: true, hint: 'config.mlcHint' },
  { key: 'target_version', hint: 'config.tvHint' },
  { key: 'outbox_max_entries', num: true, hint: 'config.obHint' },
]

function ScopeEditor({ scope }: { scope: ConfigScopeRef }) {
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const canWrite = useCanWrite()
  const cfg = useConfigScope(scope)
  const [form, setForm] = useState<Record<string, string>>({})
  const [err, setErr] = useState<unknown>(null)
  useEffect(() => {
    if (cfg.data) setForm(Object.fromEntries(fields.map((f) => [f.key, cfg.data[f.key] === undefined || cfg.data[f.key] === null ? '' : String(cfg.data[f.key])])))
  }, [cfg.data])
  const label = scope.kind === 'global' ? t('config.global') : `${t(scope.kind === 'group' ? 'groups.group' : 'agents.pc')} ${scope.name}`
  const save = async () => {
    setErr(null)
    const body: Record<string, string | number> = {}
    for (const f of fields) {
      const v = (form[f.key] ?? '').trim()
      if (v) body[f.key] = f.num ? Number(v) : v
    }
    try {
      await putScope(scope, body as ConfigScope)
      toast(t('config.saved', { scope: label }), 'ok')
      invalidateConfig(qc, scope)
    } catch (e) {
      setErr(e)
    }
  }
  const del = async () => {
    if (!(await confirm({ title: t('config.deleteTitle', { scope: label }), body: t('config.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    try {
      await deleteScope(scope)
      invalidateConfig(qc, scope)
    } catch (e) {
      setErr(e)
    }
  }
  const fieldErr = err instanceof ApiError ? err.field : undefined
  return (
    <div className="scope-editor">
      <h3>{t('config.editing', { scope: label })}</h3>
      {cfg.isPending ? (
        <Spinner />
      ) : (
        <>
          {fields.map((f) => (
            <Field key={f.key} label={f.key} hint={t(f.hint)} error={fieldErr === f.key ? (err as Error).message : undefined}>
              <input className="mono" inputMode={f.num ? 'numeric' : undefined} value={form[f.key] ?? ''} placeholder={t('config.inherit')} onChange={(e) => setForm((x) => ({ ...x, [f.key]: e.target.value }))} readOnly={!canWrite} />
            </Field>
          ))}
          {!fieldErr && <ErrorBox error={err ?? cfg.error} />}
          <div className="row">
            <Button variant="primary" onClick={save} disabled={!canWrite}>
              {t('common.save')}
            </Button>
            {scope.kind !== 'global' && (
              <Button variant="danger" onClick={del} disabled={!canWrite}>
                {t('config.deleteOverride')}
              </Button>
            )}
          </div>
        </>
      )}
    </div>
  )
}
