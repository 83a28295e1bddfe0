// API tokens for automation (SPEC §16): create one (shown once), see when
// each was last used and when it expires, revoke it at once. Operators see
// their own tokens, admins all; a token's role is at most its creator's.
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { splitList } from '../lib/channels'
import { createAPIToken, invalidateAPITokens, revokeAPIToken, useAPITokens } from '../lib/queries/accounts'
import { useCanWrite, useMe } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { APIToken, CreatedAPIToken, Role } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { BulkAction } from '../components/BulkAction'
import { Badge, Button, Chips, Dialog, ErrorBox, Field, RelTime, Spinner, Table, useConfirm, useToast } from '../components/ui'
import { roles } from './Accounts'
import { CopyBlock } from './Enrollment'

const expiries = ['', '24h', '168h', '720h', '2160h'] as const
type Expiry = (typeof expiries)[number]

export function Tokens() {
  const canWrite = useCanWrite()
  if (!canWrite)
    return (
      <div className="page">
        <h1>{t('nav.tokens')}</h1>
        <p className="muted">{t('auth.operatorRequired')}</p>
      </div>
    )
  return <TokenList />
}

function TokenList() {
  const list = useAPITokens({ refetchInterval: 60_000 })
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<CreatedAPIToken | null>(null)
  const revoke = async (tk: APIToken) => {
    if (!(await confirm({ title: t('tok.revokeTitle', { name: tk.name }), body: t('tok.revokeBody'), confirm: t('tok.revoke'), danger: true }))) return
    try {
      await revokeAPIToken(tk.id)
      toast(t('tok.revoked', { name: tk.name }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    await invalidateAPITokens(qc)
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.tokens')}</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          + {t('tok.new')}
        </Button>
      </div>
      <p className="muted">{t('tok.intro')}</p>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'api-tokens', actions: (rows, clear) => <RevokeSelected rows={rows} clear={clear} /> }}
          rows={list.data ?? []}
          rowKey={(tk) => tk.id}
          empty={t('tok.none')}
          caption={t('nav.tokens')}
          cols={[
            { key: 'name', value: tk => tk.name, header: t('tok.name'), cell: (tk) => <strong data-testid="token-name">{tk.name}</strong> },
            { key: 'role', value: tk => tk.role, header: t('acct.role'), cell: (tk) => tk.role },
            { key: 'groups', value: tk => (tk.groups ?? []).join(" "), header: t('acct.groups'), cell: (tk) => ((tk.groups ?? []).length ? (tk.groups ?? []).map((g) => <span key={g} className="tag">{g}</span>) : <span className="muted">{t('acct.allGroups')}</span>) },
            { key: 'by', value: tk => tk.created_by, header: t('enroll.createdBy'), cell: (tk) => tk.created_by },
            { key: 'last', value: tk => tk.last_used_at, header: t('tok.lastUsed'), cell: (tk) => (tk.last_used_at ? <span title={absoluteTime(tk.last_used_at, locale)}><RelTime at={tk.last_used_at} /></span> : <span className="muted">{t('acct.never')}</span>) },
            {
              key: 'exp', value: tk => tk.expires_at,
              header: t('enroll.expires'),
              cell: (tk) => (tk.expired ? <Badge tone="bad">{t('enroll.expired')}</Badge> : tk.expires_at ? <span title={absoluteTime(tk.expires_at, locale)}><RelTime at={tk.expires_at} /></span> : <span className="muted">{t('tok.noExpiry')}</span>),
            },
            {
              key: 'act',
              header: '',
              label: '',
              cell: (tk) => (
                <Button small variant="ghost" onClick={() => revoke(tk)} aria-label={t('tok.revokeLabel', { name: tk.name })}>
                  {t('tok.revoke')}
                </Button>
              ),
            },
          ]}
        />
      )}
      {creating && (
        <CreateToken
          onClose={() => setCreating(false)}
          onCreated={async (c) => {
            setCreating(false)
            setCreated(c)
            await invalidateAPITokens(qc)
          }}
        />
      )}
      {created && (
        <Dialog
          open
          wide
          onClose={() => setCreated(null)}
          title={t('tok.createdTitle', { name: created.name })}
          footer={
            <Button variant="primary" onClick={() => setCreated(null)}>
              {t('enroll.done')}
            </Button>
          }
        >
          <p className="banner banner-warn" role="note">
            {t('tok.onceWarning')}
          </p>
          <CopyBlock label={t('tok.secret')} copyLabel={t('tok.copy')} text={created.token} />
          <p className="muted small">{t('tok.useHint')}</p>
        </Dialog>
      )}
    </div>
  )
}

function CreateToken({ onClose, onCreated }: { onClose: () => void; onCreated: (c: CreatedAPIToken) => void }) {
  const me = useMe()
  const mine = roles.slice(0, roles.indexOf(me.role) + 1)
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [expiry, setExpiry] = useState<Expiry>('720h')
  const [groups, setGroups] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const submit = async () => {
    setBusy(true)
    setErr(null)
    try {
      const gs = splitList(groups)
      onCreated(await createAPIToken({ name: name.trim(), role, ...(expiry ? { expires_in: expiry } : {}), ...(gs.length ? { groups: gs } : {}) }))
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
      title={t('tok.createTitle')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!name.trim()}>
            {t('tok.create')}
          </Button>
        </>
      }
    >
      <Field label={t('tok.name')} hint={t('tok.nameHint')}>
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" autoFocus />
      </Field>
      <div className="field">
        <span className="field-label">{t('acct.role')}</span>
        <Chips<Role> label={t('acct.role')} value={role} options={mine.map((r) => ({ value: r, label: r }))} onChange={setRole} />
      </div>
      <div className="field">
        <span className="field-label">{t('enroll.expiresIn')}</span>
        <Chips<Expiry> label={t('enroll.expiresIn')} value={expiry} options={expiries.map((x) => ({ value: x, label: t(`tok.exp.${x || 'never'}` as Key) }))} onChange={setExpiry} />
      </div>
      <Field label={t('acct.groups')} hint={t('tok.groupsHint')}>
        <input name="groups" value={groups} onChange={(e) => setGroups(e.target.value)} />
      </Field>
      <ErrorBox error={err} />
    </Dialog>
  )
}

function RevokeSelected({ rows, clear }: { rows: APIToken[]; clear: () => void }) {
  const qc = useQueryClient()
  return (
    <BulkAction
      rows={rows}
      label={t('bulk.revoke')}
      danger
      confirm={{ title: t('bulk.revokeTitle', { count: rows.length }), body: t('tok.revokeBody') }}
      run={(tk) => revokeAPIToken(tk.id)}
      done={(count) => t('bulk.revokeDone', { count })}
      after={() => {
        clear()
        invalidateAPITokens(qc)
      }}
    />
  )
}
