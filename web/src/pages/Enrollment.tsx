// Enrollment tokens (SPEC §12): create one, hand its one-time secret to a new
// PC, see what is left of the others, delete them. Operators and admins only.
import { useQueryClient } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { useFallbackInterval } from '../lib/live'
import { createEnrollmentToken, deleteEnrollmentToken, invalidateEnrollmentTokens, useEnrollmentTokens } from '../lib/queries/enrollment'
import { useGroups } from '../lib/queries/groups'
import { useCanWrite } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { CreatedEnrollmentToken, EnrollmentToken } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { BulkAction } from '../components/BulkAction'
import { Badge, Button, Chips, Dialog, ErrorBox, Field, RelTime, Spinner, Table, useConfirm, useCopy, useToast } from '../components/ui'

const groupRe = /^[A-Za-z0-9_-]{1,64}$/
const expiries = ['1h', '24h', '168h', '720h'] as const
type Expiry = (typeof expiries)[number]

/** The command a new PC runs, against the address this dashboard is served from. */
export const enrollCommand = (origin: string, token: string) => `kanade-agent enroll --server ${origin} --token ${token}`

function State({ tk }: { tk: EnrollmentToken }) {
  if (tk.usable) return <Badge tone="ok">{t('enroll.usable')}</Badge>
  if (tk.uses_left <= 0) return <Badge tone="muted">{t('enroll.spent')}</Badge>
  return <Badge tone="bad">{t('enroll.expired')}</Badge>
}

export function Enrollment() {
  const canWrite = useCanWrite()
  if (!canWrite)
    return (
      <div className="page">
        <h1>{t('nav.enrollment')}</h1>
        <p className="muted">{t('auth.operatorRequired')}</p>
      </div>
    )
  return <Tokens />
}

function Tokens() {
  const interval = useFallbackInterval()
  // No live events carry token changes; a slow poll keeps "uses left" honest while enrolling PCs.
  const list = useEnrollmentTokens({ refetchInterval: interval || 30_000 })
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<CreatedEnrollmentToken | null>(null)
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const del = async (tk: EnrollmentToken) => {
    if (!(await confirm({ title: t('enroll.deleteTitle', { id: tk.id }), body: t('enroll.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    try {
      await deleteEnrollmentToken(tk.id)
      toast(t('enroll.deleted', { id: tk.id }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    invalidateEnrollmentTokens(qc)
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.enrollment')}</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          + {t('enroll.new')}
        </Button>
      </div>
      <p className="muted">{t('enroll.intro')}</p>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'enrollment-tokens', actions: (rows, clear) => <DeleteSelected rows={rows} clear={clear} /> }}
          rows={list.data ?? []}
          rowKey={(tk) => tk.id}
          empty={t('enroll.none')}
          caption={t('nav.enrollment')}
          cols={[
            { key: 'id', value: tk => tk.id, header: t('enroll.id'), cell: (tk) => <strong className="mono">{tk.id}</strong> },
            {
              key: 'groups', value: tk => (tk.groups ?? []).join(" "),
              header: t('enroll.groups'),
              className: 'c-groups',
              cell: (tk) =>
                (tk.groups ?? []).length ? (
                  (tk.groups ?? []).map((g) => (
                    <span key={g} className="tag">
                      {g}
                    </span>
                  ))
                ) : (
                  <span className="muted">{t('enroll.noGroups')}</span>
                ),
            },
            { key: 'left', value: tk => tk.uses_left, header: t('enroll.usesLeft'), cell: (tk) => t('enroll.usesOf', { left: tk.uses_left, uses: tk.uses }) },
            { key: 'state', header: t('enroll.state'), cell: (tk) => <State tk={tk} /> },
            { key: 'expires', value: tk => tk.expires_at, header: t('enroll.expires'), cell: (tk) => <RelTime at={tk.expires_at} /> },
            { key: 'by', value: tk => tk.created_by, header: t('enroll.createdBy'), cell: (tk) => tk.created_by || '—' },
            { key: 'at', value: tk => tk.created_at, header: t('enroll.createdAt'), cell: (tk) => <RelTime at={tk.created_at} /> },
            {
              key: 'act',
              header: '',
              label: '',
              cell: (tk) => (
                <Button small variant="ghost" aria-label={t('enroll.deleteLabel', { id: tk.id })} onClick={() => del(tk)}>
                  {t('common.delete')}
                </Button>
              ),
            },
          ]}
        />
      )}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false)
            setCreated(c)
            invalidateEnrollmentTokens(qc)
          }}
        />
      )}
      {created && <SecretDialog created={created} onClose={() => setCreated(null)} />}
    </div>
  )
}

/** The token form (groups, uses, expiry); Add PCs uses it too. */
export function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (c: CreatedEnrollmentToken) => void }) {
  const [groups, setGroups] = useState<string[]>([])
  const [draft, setDraft] = useState('')
  const [uses, setUses] = useState('1')
  const [expiry, setExpiry] = useState<Expiry>('24h')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const known = useGroups()
  const names = useMemo(() => (known.data ?? []).map((g) => g.group).filter((g) => !groups.includes(g)), [known.data, groups])
  const g = draft.trim()
  const addGroup = () => {
    if (!groupRe.test(g)) return
    if (!groups.includes(g)) setGroups([...groups, g])
    setDraft('')
  }
  const n = Number(uses)
  const usesOk = Number.isInteger(n) && n >= 1 && n <= 100_000
  const submit = async () => {
    setBusy(true)
    setErr(null)
    try {
      // A group typed but not yet added counts: that is what the operator meant.
      const all = groupRe.test(g) && !groups.includes(g) ? [...groups, g] : groups
      onCreated(await createEnrollmentToken({ groups: all, uses: n, expires_in: expiry }))
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Dialog
      open
      onClose={onClose}
      title={t('enroll.createTitle')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!usesOk || (g !== '' && !groupRe.test(g))}>
            {t('enroll.create')}
          </Button>
        </>
      }
    >
      <div className="field">
        <span className="field-label" id="enroll-groups">
          {t('enroll.groupsLabel')}
        </span>
        {groups.length > 0 && (
          <ul className="tag-list">
            {groups.map((x) => (
              <li key={x} className="tag">
                {x}
                <button type="button" className="icon-btn" aria-label={t('enroll.removeGroup', { group: x })} onClick={() => setGroups(groups.filter((y) => y !== x))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <span className="row">
          <input
            aria-labelledby="enroll-groups"
            list="enroll-group-names"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' || e.key === ',') {
                e.preventDefault()
                addGroup()
              }
            }}
          />
          <datalist id="enroll-group-names">
            {names.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
          <Button small onClick={addGroup} disabled={!groupRe.test(g)}>
            {t('enroll.addGroup')}
          </Button>
        </span>
        <span className="field-hint">{t('enroll.groupsHint')}</span>
      </div>
      <Field label={t('enroll.uses')} hint={t('enroll.usesHint')} error={usesOk ? undefined : t('enroll.usesHint')}>
        <input type="number" min={1} max={100000} step={1} value={uses} onChange={(e) => setUses(e.target.value)} />
      </Field>
      <div className="field">
        <span className="field-label">{t('enroll.expiresIn')}</span>
        <Chips label={t('enroll.expiresIn')} value={expiry} options={expiries.map((x) => ({ value: x, label: t(`enroll.exp.${x}` as Key) }))} onChange={setExpiry} />
      </div>
      <ErrorBox error={err} />
    </Dialog>
  )
}

function SecretDialog({ created, onClose }: { created: CreatedEnrollmentToken; onClose: () => void }) {
  const cmd = enrollCommand(window.location.origin, created.token)
  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={t('enroll.createdTitle')}
      footer={
        <Button variant="primary" onClick={onClose}>
          {t('enroll.done')}
        </Button>
      }
    >
      <p className="banner banner-warn" role="note">
        {t('enroll.onceWarning')}
      </p>
      <CopyBlock label={t('enroll.secret')} copyLabel={t('enroll.copySecret')} text={created.token} />
      <CopyBlock label={t('enroll.command')} copyLabel={t('enroll.copyCommand')} text={cmd} />
      <p className="muted small">{t('enroll.commandHint', { when: absoluteTime(created.expires_at, locale) })}</p>
    </Dialog>
  )
}

export function CopyBlock({ label, copyLabel, text }: { label: string; copyLabel: string; text: string }) {
  const copyText = useCopy()
  const copy = () => copyText(text)
  return (
    <div className="output copy-block">
      <div className="output-head">
        <strong>{label}</strong>
        <span className="grow" />
        <Button small onClick={copy}>
          {copyLabel}
        </Button>
      </div>
      <pre className="mono output-body secret" tabIndex={0} aria-label={label}>
        {text}
      </pre>
    </div>
  )
}

function DeleteSelected({ rows, clear }: { rows: EnrollmentToken[]; clear: () => void }) {
  const qc = useQueryClient()
  return (
    <BulkAction
      rows={rows}
      label={t('bulk.delete')}
      danger
      confirm={{ title: t('bulk.deleteTitle', { count: rows.length }), body: t('enroll.deleteBody') }}
      run={(tk) => deleteEnrollmentToken(tk.id)}
      done={(count) => t('bulk.deleteDone', { count })}
      after={() => {
        clear()
        invalidateEnrollmentTokens(qc)
      }}
    />
  )
}
