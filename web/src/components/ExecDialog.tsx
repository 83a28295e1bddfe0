import { useState } from 'react'
import { ApiError, enc } from '../lib/api'
import { splitList } from '../lib/filters'
import { startExecution } from '../lib/queries/executions'
import { useGroups } from '../lib/queries/groups'
import { useJobs } from '../lib/queries/jobs'
import { navigate } from '../lib/router'
import type { ExecRequest } from '../lib/types'
import { t } from '../i18n'
import { Button, Dialog, ErrorBox, Field, useConfirm, useToast } from './ui'

type Mode = 'all' | 'groups' | 'pcs' | 'waves'

export function ExecDialog({
  open,
  onClose,
  jobId,
  pcs: initialPcs,
  groups: initialGroups,
}: {
  open: boolean
  onClose: () => void
  jobId?: string
  pcs?: string[]
  groups?: string[]
}) {
  const [job, setJob] = useState(jobId ?? '')
  const [mode, setMode] = useState<Mode>(initialPcs?.length ? 'pcs' : initialGroups?.length ? 'groups' : 'groups')
  const [groups, setGroups] = useState<string[]>(initialGroups ?? [])
  const [pcs, setPcs] = useState((initialPcs ?? []).join('\n'))
  const [waves, setWaves] = useState([{ group: '', delay: '0s' }])
  const [jitter, setJitter] = useState('')
  const [deadline, setDeadline] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const confirm = useConfirm()
  const toast = useToast()
  const jobs = useJobs({ enabled: open })
  const gq = useGroups({ enabled: open })

  const pcList = splitList(pcs)
  const body = (): ExecRequest => {
    const r: ExecRequest = { target: {} }
    if (mode === 'all') r.target = { all: true }
    if (mode === 'groups') r.target = { groups }
    if (mode === 'pcs') r.target = { pcs: pcList }
    if (mode === 'waves') {
      const w = waves.filter((x) => x.group)
      r.target = { groups: [...new Set(w.map((x) => x.group))] }
      r.rollout = { waves: w }
    }
    if (jitter.trim()) r.jitter = jitter.trim()
    if (deadline) r.deadline_at = new Date(deadline).toISOString().replace(/\.\d{3}Z$/, 'Z')
    return r
  }
  const invalid = !job || (mode === 'groups' && !groups.length) || (mode === 'pcs' && !pcList.length) || (mode === 'waves' && !waves.some((w) => w.group))

  const submit = async () => {
    if (mode === 'all') {
      const ok = await confirm({ title: t('exec.confirmAllTitle'), body: t('exec.confirmAllBody', { job }), confirm: t('exec.run'), danger: true })
      if (!ok) return
    }
    setBusy(true)
    setErr(null)
    try {
      const r = await startExecution(job, body())
      toast(t('exec.started', { count: r.target_count, job: r.job_id }), 'ok')
      onClose()
      navigate(`/activity/exec/${enc(r.exec_id)}`)
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }

  const allGroups = (gq.data ?? []).map((g) => g.group)
  return (
    <Dialog
      open={open}
      onClose={onClose}
      wide
      title={job ? t('exec.titleJob', { job }) : t('exec.title')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={invalid}>
            {t('exec.run')}
          </Button>
        </>
      }
    >
      <div className="form-grid">
        {!jobId && (
          <Field label={t('exec.job')}>
            <select value={job} onChange={(e) => setJob(e.target.value)}>
              <option value="">{t('exec.pickJob')}</option>
              {(jobs.data ?? []).map((j) => (
                <option key={j.id} value={j.id} disabled={j.status === 'REVOKED'}>
                  {j.id} {j.version}
                  {j.status === 'REVOKED' ? ` (${t('status.REVOKED')})` : ''}
                </option>
              ))}
            </select>
          </Field>
        )}
        <fieldset className="radio-row">
          <legend>{t('exec.target')}</legend>
          {(['groups', 'pcs', 'waves', 'all'] as Mode[]).map((m) => (
            <label key={m}>
              <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} /> {t(`exec.mode.${m}`)}
            </label>
          ))}
        </fieldset>
        {mode === 'groups' && (
          <fieldset className="check-list">
            <legend>{t('exec.groups')}</legend>
            {allGroups.length === 0 && <span className="muted">{t('groups.none')}</span>}
            {allGroups.map((g) => (
              <label key={g}>
                <input
                  type="checkbox"
                  checked={groups.includes(g)}
                  onChange={(e) => setGroups((xs) => (e.target.checked ? [...xs, g] : xs.filter((x) => x !== g)))}
                />{' '}
                {g} <span className="muted">({gq.data?.find((x) => x.group === g)?.members?.length ?? 0})</span>
              </label>
            ))}
          </fieldset>
        )}
        {mode === 'pcs' && (
          <Field label={t('exec.pcs')} hint={t('exec.pcsHint', { count: pcList.length })}>
            <textarea className="mono" rows={4} value={pcs} onChange={(e) => setPcs(e.target.value)} />
          </Field>
        )}
        {mode === 'waves' && (
          <fieldset className="waves">
            <legend>{t('exec.waves')}</legend>
            {waves.map((w, i) => (
              <div className="wave-row" key={i}>
                <span className="muted">#{i + 1}</span>
                <select aria-label={t('exec.waveGroup', { n: i + 1 })} value={w.group} onChange={(e) => setWaves((ws) => ws.map((x, j) => (j === i ? { ...x, group: e.target.value } : x)))}>
                  <option value="">{t('exec.pickGroup')}</option>
                  {allGroups.map((g) => (
                    <option key={g}>{g}</option>
                  ))}
                </select>
                <input aria-label={t('exec.waveDelay', { n: i + 1 })} value={w.delay} placeholder="10m" onChange={(e) => setWaves((ws) => ws.map((x, j) => (j === i ? { ...x, delay: e.target.value } : x)))} />
                <Button small variant="ghost" aria-label={t('common.remove')} onClick={() => setWaves((ws) => ws.filter((_, j) => j !== i))} disabled={waves.length === 1}>
                  ×
                </Button>
              </div>
            ))}
            <Button small onClick={() => setWaves((ws) => [...ws, { group: '', delay: '10m' }])}>
              + {t('exec.addWave')}
            </Button>
          </fieldset>
        )}
        {mode === 'all' && <div className="alert alert-warn">{t('exec.allWarn')}</div>}
        <div className="row">
          <Field label={t('exec.jitter')} hint={t('exec.jitterHint')}>
            <input value={jitter} placeholder="30s" onChange={(e) => setJitter(e.target.value)} />
          </Field>
          <Field label={t('exec.deadline')} hint={t('exec.deadlineHint')}>
            <input type="datetime-local" value={deadline} onChange={(e) => setDeadline(e.target.value)} />
          </Field>
        </div>
        <ErrorBox error={err} />
        {err instanceof ApiError && err.status === 404 && <p className="muted">{t('exec.notFound')}</p>}
      </div>
    </Dialog>
  )
}
