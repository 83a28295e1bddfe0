import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useCanWrite } from '../lib/session'
import { enc } from '../lib/api'
import { useFallbackInterval } from '../lib/live'
import { useExecution } from '../lib/queries/executions'
import { deleteSchedule, invalidateSchedules, saveSchedule, setScheduleEnabled, useScheduleDoc, useSchedulePreview, useSchedules } from '../lib/queries/schedules'
import { Link } from '../lib/router'
import { absoluteTime } from '../lib/time'
import type { ScheduleRow } from '../lib/types'
import { t, locale } from '../i18n'
import { Button, Dialog, ErrorBox, RelTime, Spinner, StatusBadge, Table, useConfirm, useToast } from '../components/ui'
import { YamlDialog } from './Jobs'

export const scheduleTemplate = `id: nightly-cleanup
job_id: my-job
enabled: true
tz: utc
cron: "0 3 * * *"
target:
  groups: [canary]
jitter: 5m
`

function when(s: ScheduleRow): string {
  const w = s.when
  if (w.cron) return `cron ${w.cron}`
  if (w.calendar) return `calendar ${JSON.stringify(w.calendar)}`
  if (w.per_pc) return `per_pc ${typeof w.per_pc === 'string' ? w.per_pc : JSON.stringify(w.per_pc)}`
  return '—'
}

function target(s: ScheduleRow): string {
  const tg = s.target
  if (!tg) return '—'
  if (tg.all) return t('exec.mode.all')
  const parts = [...(tg.groups ?? []).map((g) => `@${g}`), ...(tg.pcs ?? [])]
  return parts.join(', ') || '—'
}

/** A schedule as YAML for editing when the server did not keep the original text. */
function toYaml(s: ScheduleRow): string {
  if (s.yaml) return s.yaml
  const skip = new Set(['next_fire', 'last_fire', 'last_exec_id', 'yaml', 'when'])
  // The list nests the trigger under `when`; the document has it at the top level.
  const flat = { ...s, ...s.when }
  return Object.entries(flat)
    .filter(([k, v]) => !skip.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n') + '\n'
}

export function Schedules() {
  const interval = useFallbackInterval()
  const list = useSchedules({ refetchInterval: interval })
  const [edit, setEdit] = useState<ScheduleRow | 'new' | null>(null)
  const [preview, setPreview] = useState<string | null>(null)
  const canWrite = useCanWrite()
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const refresh = () => invalidateSchedules(qc)
  const setEnabled = async (s: ScheduleRow, on: boolean) => {
    if (!on && !(await confirm({ title: t('sched.disableTitle', { id: s.id }), body: t('sched.disableBody'), confirm: t('sched.disable'), danger: true }))) return
    try {
      await setScheduleEnabled(s.id, on)
      toast(on ? t('sched.enabled', { id: s.id }) : t('sched.disabled', { id: s.id }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    refresh()
  }
  const del = async (s: ScheduleRow) => {
    if (!(await confirm({ title: t('sched.deleteTitle', { id: s.id }), body: t('sched.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    try {
      await deleteSchedule(s.id)
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    refresh()
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.schedules')}</h1>
        <Button variant="primary" onClick={() => setEdit('new')} disabled={!canWrite}>
          + {t('sched.new')}
        </Button>
      </div>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'schedules' }}
          rows={list.data ?? []}
          rowKey={(s) => s.id}
          empty={t('sched.none')}
          caption={t('nav.schedules')}
          cols={[
            { key: 'id', value: s => s.id, header: t('sched.id'), cell: (s) => <strong className="mono">{s.id}</strong> },
            { key: 'job', value: s => s.job_id, header: t('jobs.job'), cell: (s) => s.job_id },
            { key: 'when', value: s => when(s), header: t('sched.when'), cell: (s) => <span className="mono small">{when(s)}</span> },
            { key: 'target', header: t('exec.target'), cell: (s) => target(s) },
            { key: 'next', value: s => (s.enabled ? s.next_fire : ""), header: t('sched.next'), cell: (s) => (s.enabled ? <RelTime at={s.next_fire} /> : <span className="muted">{t('sched.off')}</span>) },
            { key: 'last', header: t('sched.last'), cell: (s) => <LastOutcome s={s} /> },
            {
              key: 'on',
              header: t('sched.enabledCol'),
              cell: (s) => (
                <button type="button" role="switch" aria-checked={s.enabled} aria-label={t('sched.toggle', { id: s.id })} className={`switch${s.enabled ? ' on' : ''}`} disabled={!canWrite} onClick={() => setEnabled(s, !s.enabled)}>
                  <span className="knob" />
                </button>
              ),
            },
            {
              key: 'act',
              header: '',
              label: '',
              cell: (s) => (
                <span className="row tight">
                  <Button small onClick={() => setPreview(s.id)}>
                    {t('sched.preview')}
                  </Button>
                  <Button small onClick={() => setEdit(s)} disabled={!canWrite}>
                    {t('common.edit')}
                  </Button>
                  <Button small variant="ghost" onClick={() => del(s)} disabled={!canWrite}>
                    {t('common.delete')}
                  </Button>
                </span>
              ),
            },
          ]}
        />
      )}
      {edit && edit !== 'new' && <ScheduleEditor s={edit} onClose={() => setEdit(null)} onSaved={refresh} />}
      {edit === 'new' && (
        <YamlDialog
          title={t('sched.new')}
          initial={scheduleTemplate}
          onClose={() => setEdit(null)}
          onSave={async (yaml) => {
            await saveSchedule(yaml)
            toast(t('sched.saved'), 'ok')
            refresh()
          }}
        />
      )}
      {preview && <PreviewDialog id={preview} onClose={() => setPreview(null)} />}
    </div>
  )
}

function ScheduleEditor({ s, onClose, onSaved }: { s: ScheduleRow; onClose: () => void; onSaved: () => void }) {
  const toast = useToast()
  // Prefer the text the operator wrote (comments included) when the server kept it.
  const d = useScheduleDoc(s)
  return (
    <YamlDialog
      title={t('sched.editTitle', { id: s.id })}
      initial={d.data ? toYaml(d.data) : ''}
      loading={d.isPending}
      onClose={onClose}
      onSave={async (yaml) => {
        await saveSchedule(yaml)
        toast(t('sched.saved'), 'ok')
        onSaved()
      }}
    />
  )
}

function LastOutcome({ s }: { s: ScheduleRow }) {
  const ex = useExecution(s.last_exec_id, { enabled: !!s.last_exec_id, staleTime: 30_000 })
  if (!s.last_fire) return <span className="muted">{t('sched.never')}</span>
  return (
    <span className="row tight">
      <RelTime at={s.last_fire} />
      {ex.data && (
        <Link to={`/activity/exec/${enc(ex.data.exec_id)}`}>
          <StatusBadge status={ex.data.failure_count > 0 ? 'failure' : ex.data.status} />
        </Link>
      )}
    </span>
  )
}

function PreviewDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const p = useSchedulePreview(id, 10)
  return (
    <Dialog open onClose={onClose} title={t('sched.previewTitle', { id })}>
      {p.isPending ? (
        <Spinner />
      ) : p.error ? (
        <ErrorBox error={p.error} />
      ) : (p.data?.fires ?? []).length === 0 ? (
        <p className="muted">{t('sched.noFires')}</p>
      ) : (
        <ol className="plain-list">
          {(p.data?.fires ?? []).map((f) => (
            <li key={f}>
              {absoluteTime(f, locale)} <span className="muted">(<RelTime at={f} />)</span>
            </li>
          ))}
        </ol>
      )}
    </Dialog>
  )
}
