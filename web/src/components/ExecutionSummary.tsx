// The execution page's fleet-wide view (SPEC §17): its finished results
// grouped by outcome, exit code and normalised stdout, and the controls of
// its pending rollout waves.
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { t } from '../i18n'
import { enc } from '../lib/api'
import { invalidateExecution, rolloutAction, useExecutionSummary, type RolloutAction } from '../lib/queries/executions'
import { Link } from '../lib/router'
import { useCanWrite } from '../lib/session'
import type { Execution, ResultGroup } from '../lib/types'
import { Badge, Button, Card, ErrorBox, Spinner, StatusBadge, useConfirm, useToast } from './ui'

const GROUPS = 50
/** Sample lines shown before "Show all". */
const SAMPLE_LINES = 6

export function ExecutionSummary({ e }: { e: Execution }) {
  // Live result events invalidate the execution's key and, under it, this
  // one; a new count of finished results (the execution polled while the
  // stream is down) is a new key.
  const q = useExecutionSummary(e.exec_id, GROUPS, e.success_count + e.failure_count + e.skipped_count)
  const groups = q.data ?? []
  return (
    <Card title={t('summary.title')} id="exec-summary">
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Spinner />
      ) : groups.length === 0 ? (
        <p className="muted">{t('summary.empty')}</p>
      ) : (
        <ol className="summary-groups">
          {groups.map((g) => (
            <Group key={`${g.status}/${g.reason ?? ''}/${g.exit_code}/${g.stdout_hash}`} g={g} />
          ))}
        </ol>
      )}
    </Card>
  )
}

function Group({ g }: { g: ResultGroup }) {
  const pcs = g.pcs ?? []
  const more = g.count - pcs.length
  return (
    <li className="summary-group" data-testid="summary-group">
      <div className="row tight summary-head">
        <strong className="summary-count">{t('summary.count', { count: g.count })}</strong>
        <StatusBadge status={g.status} />
        {g.reason && <Badge tone="warn">{reasonLabel(g.reason)}</Badge>}
        <span className="muted small">
          {t('results.exit')} <span className="mono">{g.exit_code}</span>
        </span>
        <span className="grow" />
        {g.sample_result_id && (
          <Link to={`/activity/result/${enc(g.sample_result_id)}`} className="small">
            {t('summary.sampleLink')}
          </Link>
        )}
      </div>
      <div className="summary-pcs" aria-label={t('summary.pcs')}>
        {pcs.map((pc) => (
          <Link key={pc} to={`/agents/${enc(pc)}`} className="tag">
            {pc}
          </Link>
        ))}
        {more > 0 && <span className="muted small">{t('summary.more', { count: more })}</span>}
      </div>
      <Sample label={sampleLabel('stdout', pcs[0])} text={g.sample_stdout} />
      <Sample label={sampleLabel('stderr', pcs[0])} text={g.sample_stderr} />
    </li>
  )
}

// The sample is the group's first PC's output (stderr is not part of the key: it may differ per PC).
const sampleLabel = (stream: string, pc: string | undefined) => (pc ? t('summary.sampleOf', { stream, pc }) : stream)

function reasonLabel(reason: string): string {
  switch (reason) {
    case 'timed_out':
      return t('results.timedOut')
    case 'killed':
      return t('results.killed')
    case 'reaped':
      return t('results.reaped')
    default:
      return reason
  }
}

/** A sample output, its first lines only until expanded. */
function Sample({ label, text }: { label: string; text: string }) {
  const [open, setOpen] = useState(false)
  if (!text) return null
  const lines = text.replace(/\n$/, '').split('\n')
  const long = lines.length > SAMPLE_LINES
  const shown = open || !long ? lines.join('\n') : lines.slice(0, SAMPLE_LINES).join('\n')
  return (
    <div className="summary-sample">
      <span className="muted small">{label}</span>
      <pre className="mono small">{shown}</pre>
      {long && (
        <Button small onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? t('summary.showLess') : t('summary.showAll', { count: lines.length })}
        </Button>
      )}
    </div>
  )
}

/** The execution's status with its rollout state: "completed (halted)". */
export function ExecStatus({ e }: { e: Pick<Execution, 'status' | 'rollout_state' | 'halt_reason'> }) {
  return (
    <span className="row tight inline">
      <StatusBadge status={e.status} />
      {e.rollout_state && <RolloutChip e={e} />}
    </span>
  )
}

function RolloutChip({ e }: { e: Pick<Execution, 'rollout_state' | 'halt_reason'> }) {
  const s = e.rollout_state
  if (!s) return null
  const text = s === 'halted' && e.halt_reason ? t('rolloutState.haltedWhy', { reason: e.halt_reason }) : t(`rolloutState.${s}`)
  return (
    <Badge tone={s === 'halted' ? 'bad' : s === 'paused' ? 'warn' : 'muted'} title={t('rolloutState.label')}>
      <span data-testid="rollout-state">{text}</span>
    </Badge>
  )
}

/** Pause / Resume / Cancel of an execution's pending waves (operators). */
export function RolloutControls({ e }: { e: Execution }) {
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()
  const canWrite = useCanWrite()
  const [busy, setBusy] = useState<RolloutAction | null>(null)
  const [error, setError] = useState<unknown>(null)
  if (!e.rollout_state && !e.pending_waves) return null
  const pending = e.pending_waves > 0 && e.rollout_state !== 'halted'
  const act = async (a: RolloutAction) => {
    if (a === 'cancel' && !(await confirm({ title: t('waves.cancelTitle', { job: e.job_id }), body: t('waves.cancelBody', { count: e.pending_waves }), confirm: t('waves.cancel'), danger: true }))) return
    setBusy(a)
    setError(null)
    try {
      const r = await rolloutAction(e.exec_id, a)
      toast(t(`waves.done.${a}`, { count: r.waves }), a === 'cancel' ? 'warn' : 'ok')
    } catch (err) {
      setError(err)
    } finally {
      setBusy(null)
      invalidateExecution(qc, e.exec_id)
    }
  }
  return (
    <Card title={t('waves.title')} id="exec-rollout">
      <p className="row tight">
        <RolloutChip e={e} />
        <span className="muted small">{t('waves.pending', { count: e.pending_waves })}</span>
      </p>
      <ErrorBox error={error} />
      {pending && (
        <div className="row tight">
          {e.rollout_state === 'paused' ? (
            <Button onClick={() => act('resume')} busy={busy === 'resume'} disabled={!canWrite || !!busy}>
              {t('waves.resume')}
            </Button>
          ) : (
            <Button onClick={() => act('pause')} busy={busy === 'pause'} disabled={!canWrite || !!busy}>
              {t('waves.pause')}
            </Button>
          )}
          <Button variant="danger" onClick={() => act('cancel')} busy={busy === 'cancel'} disabled={!canWrite || !!busy}>
            {t('waves.cancel')}
          </Button>
        </div>
      )}
    </Card>
  )
}
