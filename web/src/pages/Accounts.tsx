// Accounts (SPEC §16), admins only: create (must change the password at
// first sign-in by default), disable / enable, reset the password (forced
// change), reset MFA (a lost phone), delete; and the policy that requires
// MFA of every account. Every change is audited by the API.
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { splitList } from '../lib/channels'
import { createAccount, deleteAccount, invalidateAccounts, updateAccount, useAccounts, type AccountRow } from '../lib/queries/accounts'
import { invalidateMFAPolicy, putMFAPolicy, resetAccountMFA, useMFAPolicy } from '../lib/queries/mfa'
import { useMe } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { Role } from '../lib/types'
import { t, locale } from '../i18n'
import { Badge, Button, Card, Chips, Dialog, ErrorBox, Field, RelTime, Spinner, Table, useConfirm, useToast } from '../components/ui'

export const roles: Role[] = ['viewer', 'operator', 'admin']

export function Accounts() {
  const me = useMe()
  if (me.role !== 'admin')
    return (
      <div className="page">
        <h1>{t('nav.accounts')}</h1>
        <p className="muted">{t('auth.adminRequired')}</p>
      </div>
    )
  return <AccountList />
}

function AccountList() {
  const me = useMe()
  const list = useAccounts()
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const [creating, setCreating] = useState(false)
  const [resetting, setResetting] = useState<AccountRow | null>(null)
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn()
      toast(ok, 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    await invalidateAccounts(qc)
  }
  const toggle = (a: AccountRow) =>
    act(() => updateAccount(a.username, { disabled: !a.disabled }), t(a.disabled ? 'acct.enabled' : 'acct.disabledDone', { user: a.username }))
  const resetMFA = async (a: AccountRow) => {
    if (!(await confirm({ title: t('acct.resetMFATitle', { user: a.username }), body: t('acct.resetMFABody'), confirm: t('acct.resetMFA'), danger: true }))) return
    await act(() => resetAccountMFA(a.username), t('acct.mfaReset', { user: a.username }))
  }
  const del = async (a: AccountRow) => {
    if (!(await confirm({ title: t('acct.deleteTitle', { user: a.username }), body: t('acct.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    await act(() => deleteAccount(a.username), t('acct.deleted', { user: a.username }))
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.accounts')}</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          + {t('acct.new')}
        </Button>
      </div>
      <p className="muted">{t('acct.intro')}</p>
      <MFAPolicyCard />
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'accounts' }}
          rows={list.data ?? []}
          rowKey={(a) => a.id || a.username}
          caption={t('nav.accounts')}
          cols={[
            { key: 'user', value: a => a.username, header: t('auth.username'), cell: (a) => <strong data-testid="account-name">{a.username}</strong> },
            { key: 'role', value: a => a.role, header: t('acct.role'), cell: (a) => a.role },
            {
              key: 'state',
              header: t('common.status'),
              cell: (a) => (
                <span className="row">
                  {a.disabled ? <Badge tone="bad">{t('acct.disabled')}</Badge> : <Badge tone="ok">{t('acct.active')}</Badge>}
                  {a.must_change_pw && <Badge tone="warn">{t('acct.mustChange')}</Badge>}
                  {a.locked_until && new Date(a.locked_until) > new Date() && <Badge tone="bad">{t('acct.locked')}</Badge>}
                </span>
              ),
            },
            {
              key: 'mfa',
              header: t('acct.mfa'),
              cell: (a) => (a.mfa_enabled === undefined ? <span className="muted">—</span> : a.mfa_enabled ? <Badge tone="ok">{t('acct.mfaOn')}</Badge> : <Badge tone="muted">{t('acct.mfaOff')}</Badge>),
            },
            {
              key: 'groups', value: a => (a.groups ?? []).join(" "),
              header: t('acct.groups'),
              cell: (a) => ((a.groups ?? []).length ? (a.groups ?? []).map((g) => <span key={g} className="tag">{g}</span>) : <span className="muted">{t('acct.allGroups')}</span>),
            },
            { key: 'last', value: a => a.last_login_at, header: t('acct.lastLogin'), cell: (a) => (a.last_login_at ? <span title={absoluteTime(a.last_login_at, locale)}><RelTime at={a.last_login_at} /></span> : <span className="muted">{t('acct.never')}</span>) },
            {
              key: 'act',
              header: '',
              label: '',
              cell: (a) =>
                a.username === me.username ? (
                  <span className="muted small">{t('acct.you')}</span>
                ) : (
                  <span className="row wrap">
                    <Button small onClick={() => toggle(a)} aria-label={t(a.disabled ? 'acct.enableLabel' : 'acct.disableLabel', { user: a.username })}>
                      {a.disabled ? t('acct.enable') : t('acct.disable')}
                    </Button>
                    <Button small onClick={() => setResetting(a)} aria-label={t('acct.resetPasswordLabel', { user: a.username })}>
                      {t('acct.resetPassword')}
                    </Button>
                    {a.mfa_enabled && (
                      <Button small onClick={() => resetMFA(a)} aria-label={t('acct.resetMFALabel', { user: a.username })}>
                        {t('acct.resetMFA')}
                      </Button>
                    )}
                    <Button small variant="ghost" onClick={() => del(a)} aria-label={t('acct.deleteLabel', { user: a.username })}>
                      {t('common.delete')}
                    </Button>
                  </span>
                ),
            },
          ]}
        />
      )}
      {creating && (
        <CreateAccount
          onClose={() => setCreating(false)}
          onCreated={async (name) => {
            setCreating(false)
            toast(t('acct.created', { user: name }), 'ok')
            await invalidateAccounts(qc)
          }}
        />
      )}
      {resetting && (
        <ResetPassword
          a={resetting}
          onClose={() => setResetting(null)}
          onDone={async () => {
            toast(t('acct.passwordReset', { user: resetting.username }), 'ok')
            setResetting(null)
            await invalidateAccounts(qc)
          }}
        />
      )}
    </div>
  )
}

/** The admin switch: every account must enrol MFA (API tokens are not subject to it). */
function MFAPolicyCard() {
  const p = useMFAPolicy()
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const [busy, setBusy] = useState(false)
  // Before the MFA backend is deployed the route does not exist: say so instead of an error.
  if (p.isError) return <p className="muted small">{t('acct.policyUnavailable')}</p>
  const on = !!p.data?.require_all
  const flip = async () => {
    if (!on && !(await confirm({ title: t('acct.policyOnTitle'), body: t('acct.policyOnBody'), confirm: t('acct.policyOn') }))) return
    setBusy(true)
    try {
      await putMFAPolicy({ require_all: !on })
      toast(on ? t('acct.policyOffDone') : t('acct.policyOnDone'), 'ok')
      await invalidateMFAPolicy(qc)
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    } finally {
      setBusy(false)
    }
  }
  return (
    <Card>
      <div className="row">
        <button type="button" role="switch" aria-checked={on} className={`freeze-switch${on ? ' on' : ''}`} disabled={p.isPending || busy} onClick={flip} data-testid="mfa-policy">
          <span className="knob" aria-hidden />
          {t('acct.policy')}
        </button>
        <span className="muted small">{on ? t('acct.policyOnHint') : t('acct.policyOffHint')}</span>
      </div>
    </Card>
  )
}

function CreateAccount({ onClose, onCreated }: { onClose: () => void; onCreated: (name: string) => void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [groups, setGroups] = useState('')
  const [mustChange, setMustChange] = useState(true)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const submit = async () => {
    setBusy(true)
    setErr(null)
    try {
      const gs = splitList(groups)
      const a = await createAccount({ username: username.trim(), password, role, must_change_pw: mustChange, ...(gs.length ? { groups: gs } : {}) })
      onCreated(a.username)
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
      title={t('acct.createTitle')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!username.trim() || !password}>
            {t('acct.create')}
          </Button>
        </>
      }
    >
      <Field label={t('auth.username')}>
        <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" autoFocus />
      </Field>
      <Field label={t('acct.initialPassword')} hint={t('acct.initialPasswordHint')}>
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
      </Field>
      <div className="field">
        <span className="field-label">{t('acct.role')}</span>
        <Chips<Role> label={t('acct.role')} value={role} options={roles.map((r) => ({ value: r, label: r }))} onChange={setRole} />
      </div>
      <Field label={t('acct.groups')} hint={t('acct.groupsHint')}>
        <input name="groups" value={groups} onChange={(e) => setGroups(e.target.value)} />
      </Field>
      <label className="row">
        <input type="checkbox" name="must_change_pw" checked={mustChange} onChange={(e) => setMustChange(e.target.checked)} /> {t('acct.mustChangeLabel')}
      </label>
      <ErrorBox error={err} />
    </Dialog>
  )
}

function ResetPassword({ a, onClose, onDone }: { a: AccountRow; onClose: () => void; onDone: () => void }) {
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const submit = async () => {
    setBusy(true)
    setErr(null)
    try {
      await updateAccount(a.username, { password, must_change_pw: true })
      onDone()
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
      title={t('acct.resetTitle', { user: a.username })}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!password}>
            {t('acct.resetPassword')}
          </Button>
        </>
      }
    >
      <p className="muted">{t('acct.resetBody')}</p>
      <Field label={t('acct.initialPassword')}>
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" autoFocus />
      </Field>
      <ErrorBox error={err} />
    </Dialog>
  )
}
