import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useCanWrite } from '../lib/session'
import { ApiError } from '../lib/api'
import { allTags, filterJobs } from '../lib/filters'
import { useFallbackInterval } from '../lib/live'
import { invalidateExecutions } from '../lib/queries/executions'
import { deleteJob, invalidateJobDocs, invalidateJobs, killJob, revokeJob, saveJob, unrevokeJob, useJob, useJobs } from '../lib/queries/jobs'
import { useSearchParams } from '../lib/router'
import { lineForError } from '../lib/yaml'
import type { Job } from '../lib/types'
import { t } from '../i18n'
import { Badge, Button, Card, Dialog, Empty, ErrorBox, Spinner, StatusBadge, useConfirm, useToast } from '../components/ui'
import { YamlEditor } from '../components/YamlEditor'
import { ExecDialog } from '../components/ExecDialog'

export const jobTemplate = `id: my-job
version: 1.0.0
description: What this job does
tags: [maintenance]
execute:
  shell: sh
  script: |
    echo "hello from $(hostname)"
  timeout: 60s
`

export function Jobs() {
  const interval = useFallbackInterval()
  const jobs = useJobs({ refetchInterval: interval })
  const [params, setParams] = useSearchParams()
  const text = params.get('q') ?? ''
  const tags = params.getAll('tag')
  const [editing, setEditing] = useState<{ id?: string } | null>(null)
  const [running, setRunning] = useState<string | null>(null)
  const canWrite = useCanWrite()
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()

  const setFilter = (q: string, tg: string[]) => {
    const p = new URLSearchParams()
    if (q) p.set('q', q)
    for (const x of tg) p.append('tag', x)
    setParams(p)
  }
  const list = filterJobs(jobs.data ?? [], text, tags)
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn()
      toast(ok, 'ok')
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'bad')
    } finally {
      invalidateJobs(qc)
    }
  }
  const revoke = async (j: Job) => {
    if (!(await confirm({ title: t('jobs.revokeTitle', { job: j.id }), body: t('jobs.revokeBody'), confirm: t('jobs.revoke'), danger: true }))) return
    act(() => revokeJob(j.id), t('jobs.revoked', { job: j.id }))
  }
  const unrevoke = (j: Job) => act(() => unrevokeJob(j.id), t('jobs.unrevoked', { job: j.id }))
  const kill = async (j: Job) => {
    if (!(await confirm({ title: t('jobs.killTitle', { job: j.id }), body: t('jobs.killBody'), confirm: t('jobs.kill'), danger: true }))) return
    act(async () => {
      const r = await killJob(j.id)
      toast(t('jobs.killed', { count: r?.killed_exec_ids?.length ?? 0, waves: r?.cancelled_waves ?? 0 }), 'warn')
      invalidateExecutions(qc)
    }, t('jobs.killSent'))
  }
  const del = async (j: Job) => {
    if (!(await confirm({ title: t('jobs.deleteTitle', { job: j.id }), body: t('jobs.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    act(() => deleteJob(j.id), t('jobs.deleted', { job: j.id }))
  }

  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.jobs')}</h1>
        <Button variant="primary" onClick={() => setEditing({})} disabled={!canWrite} title={canWrite ? undefined : t('auth.operatorRequired')}>
          + {t('jobs.new')}
        </Button>
      </div>
      <div className="toolbar">
        <input type="search" className="search" placeholder={t('jobs.search')} aria-label={t('jobs.search')} value={text} onChange={(e) => setFilter(e.target.value, tags)} />
        <div className="chips" role="group" aria-label={t('jobs.tags')}>
          {allTags(jobs.data ?? []).map((tg) => (
            <button key={tg} type="button" className={`chip${tags.includes(tg) ? ' chip-on' : ''}`} aria-pressed={tags.includes(tg)} onClick={() => setFilter(text, tags.includes(tg) ? tags.filter((x) => x !== tg) : [...tags, tg])}>
              #{tg}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox error={jobs.error} />
      {jobs.isPending ? (
        <Spinner />
      ) : list.length === 0 ? (
        <Empty>{jobs.data?.length ? t('jobs.noMatch') : t('jobs.none')}</Empty>
      ) : (
        <div className="job-grid">
          {list.map((j) => (
            <Card
              key={j.id}
              className={j.status === 'REVOKED' ? 'revoked' : ''}
              title={
                <>
                  <span className="mono">{j.id}</span> <span className="muted small">{j.version}</span>
                </>
              }
              actions={<StatusBadge status={j.status} />}
            >
              {j.description && <p>{j.description}</p>}
              <p className="small muted">
                {j.execute?.shell} · {t('jobs.timeout')} {j.execute?.timeout}
                {j.execute?.run_as ? ` · ${j.execute.run_as}` : ''}
                {j.pinned_version && j.pinned_version !== j.version ? ` · ${t('jobs.pinned', { v: j.pinned_version })}` : ''}
              </p>
              <div className="tag-list">
                {(j.tags ?? []).map((tg) => (
                  <Badge key={tg}>#{tg}</Badge>
                ))}
              </div>
              <div className="row wrap">
                <Button small variant="primary" onClick={() => setRunning(j.id)} disabled={!canWrite || j.status === 'REVOKED'} aria-label={t('jobs.runJob', { job: j.id })}>
                  {t('jobs.run')}
                </Button>
                <Button small onClick={() => setEditing({ id: j.id })} aria-label={t('jobs.editJob', { job: j.id })}>
                  {canWrite ? t('common.edit') : t('common.view')}
                </Button>
                {j.status === 'REVOKED' ? (
                  <Button small onClick={() => unrevoke(j)} disabled={!canWrite}>
                    {t('jobs.unrevoke')}
                  </Button>
                ) : (
                  <Button small variant="danger" onClick={() => revoke(j)} disabled={!canWrite} aria-label={t('jobs.revokeJob', { job: j.id })}>
                    {t('jobs.revoke')}
                  </Button>
                )}
                <Button small variant="danger" onClick={() => kill(j)} disabled={!canWrite} aria-label={t('jobs.killJob', { job: j.id })}>
                  {t('jobs.kill')}
                </Button>
                <Button small variant="ghost" onClick={() => del(j)} disabled={!canWrite} aria-label={t('jobs.deleteJob', { job: j.id })}>
                  {t('common.delete')}
                </Button>
              </div>
            </Card>
          ))}
        </div>
      )}
      {editing && <JobEditor id={editing.id} onClose={() => setEditing(null)} readOnly={!canWrite} />}
      {running && <ExecDialog open jobId={running} onClose={() => setRunning(null)} />}
    </div>
  )
}

export function YamlDialog({
  title,
  initial,
  loading,
  onSave,
  onClose,
  readOnly,
}: {
  title: string
  initial: string
  loading?: boolean
  onSave: (yaml: string) => Promise<void>
  onClose: () => void
  readOnly?: boolean
}) {
  const [text, setText] = useState<string | null>(null)
  const [err, setErr] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const value = text ?? initial
  const field = err instanceof ApiError ? err.field : undefined
  const line = err ? lineForError(value, field, (err as Error).message) : null
  const save = async () => {
    setBusy(true)
    setErr(null)
    try {
      await onSave(value)
      onClose()
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={title}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          {!readOnly && (
            <Button variant="primary" onClick={save} busy={busy}>
              {t('common.save')}
            </Button>
          )}
        </>
      }
    >
      {loading ? (
        <Spinner />
      ) : (
        <>
          <YamlEditor label={title} value={value} onChange={(v) => setText(v)} errorLine={line} errorMessage={err ? `${field ? field + ': ' : ''}${(err as Error).message}` : undefined} readOnly={readOnly} />
          {err ? (
            <div className="alert alert-bad" role="alert">
              {line ? <strong>{t('yaml.line', { line })} </strong> : null}
              {field ? <code>{field}</code> : null} {(err as Error).message}
            </div>
          ) : null}
        </>
      )}
    </Dialog>
  )
}

function JobEditor({ id, onClose, readOnly }: { id?: string; onClose: () => void; readOnly: boolean }) {
  const qc = useQueryClient()
  const toast = useToast()
  const job = useJob(id, { enabled: !!id })
  return (
    <YamlDialog
      title={id ? t('jobs.editTitle', { job: id }) : t('jobs.new')}
      initial={id ? job.data?.yaml ?? '' : jobTemplate}
      loading={!!id && job.isPending}
      readOnly={readOnly}
      onClose={onClose}
      onSave={async (yaml) => {
        const j = await saveJob(yaml)
        toast(t('jobs.saved', { job: j?.id ?? '' }), 'ok')
        invalidateJobDocs(qc)
      }}
    />
  )
}
