// The signed-in account's own security (SPEC §16): change the password and
// turn MFA (TOTP) on or off. The same forms are the full-page gates App
// shows an account that must change its password or enrol MFA first.
import { useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { setToken } from '../lib/auth'
import { changePassword } from '../lib/queries/accounts'
import { mfaConfirm, mfaDisable, mfaEnroll, type MFAEnrollment } from '../lib/queries/mfa'
import type { Session } from '../lib/queries/auth'
import { useMe } from '../lib/session'
import { t } from '../i18n'
import { Badge, Button, Card, ErrorBox, Field, useToast } from '../components/ui'
import { CopyBlock } from './Enrollment'

export function Security() {
  const me = useMe() as Session
  return (
    <div className="page">
      <h1>{t('nav.security')}</h1>
      <p className="muted">{t('sec.intro', { user: me.username })}</p>
      <Card title={t('sec.password')}>
        <PasswordForm />
      </Card>
      <Card title={t('sec.mfa')}>
        {me.mfa_enabled ? (
          <DisableMFA />
        ) : (
          <>
            <p>
              <Badge tone="warn">{t('sec.mfaOff')}</Badge> {t('sec.mfaOffHint')}
            </p>
            <EnrolMFA />
          </>
        )}
      </Card>
    </div>
  )
}

/** Change the own password; the answer is a fresh token (the old ones stop). */
export function PasswordForm({ onDone }: { onDone?: () => void }) {
  const [old, setOld] = useState('')
  const [next, setNext] = useState('')
  const [again, setAgain] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const toast = useToast()
  const qc = useQueryClient()
  const mismatch = again !== '' && again !== next
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (mismatch || !next) return
    setBusy(true)
    setErr(null)
    try {
      const r = await changePassword(old, next)
      setToken(r.token)
      await qc.invalidateQueries()
      toast(t('sec.passwordChanged'), 'ok')
      setOld('')
      setNext('')
      setAgain('')
      onDone?.()
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form onSubmit={submit} className="form-grid" aria-label={t('sec.password')}>
      <Field label={t('sec.oldPassword')}>
        <input name="old_password" type="password" value={old} onChange={(e) => setOld(e.target.value)} autoComplete="current-password" required />
      </Field>
      <Field label={t('sec.newPassword')}>
        <input name="new_password" type="password" value={next} onChange={(e) => setNext(e.target.value)} autoComplete="new-password" required />
      </Field>
      <Field label={t('sec.repeatPassword')} error={mismatch ? t('sec.mismatch') : undefined}>
        <input name="repeat_password" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" required />
      </Field>
      <ErrorBox error={err} />
      <div>
        <Button variant="primary" type="submit" busy={busy} disabled={mismatch}>
          {t('sec.changePassword')}
        </Button>
      </div>
    </form>
  )
}

/**
 * MFA enrolment: start it (secret, QR code, recovery codes), then confirm
 * with a code from the app. Confirming revokes the other sessions; the
 * answer carries this one's fresh token.
 */
export function EnrolMFA({ onDone }: { onDone?: () => void }) {
  const [enr, setEnr] = useState<MFAEnrollment | null>(null)
  const [code, setCode] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const qc = useQueryClient()
  const toast = useToast()
  const start = async () => {
    setBusy(true)
    setErr(null)
    try {
      setEnr(await mfaEnroll())
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  const confirm = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setErr(null)
    try {
      const r = await mfaConfirm(code.replace(/\s+/g, ''))
      if (r.session?.token) setToken(r.session.token)
      await qc.invalidateQueries()
      toast(t('sec.mfaEnabled'), 'ok')
      onDone?.()
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  if (!enr)
    return (
      <>
        <ErrorBox error={err} />
        <Button variant="primary" onClick={start} busy={busy}>
          {t('sec.mfaStart')}
        </Button>
      </>
    )
  return (
    <div className="mfa-enrol">
      <ol className="steps">
        <li>
          {t('sec.mfaScan')}
          <div className="mfa-qr">
            <img src={enr.qr_png} alt={t('sec.mfaQR')} width={200} height={200} data-testid="mfa-qr" />
          </div>
          <CopyBlock label={t('sec.mfaSecret')} copyLabel={t('common.copy')} text={enr.secret} />
        </li>
        <li>
          {t('sec.mfaRecovery')}
          <pre className="mono output-body recovery-codes" data-testid="recovery-codes" tabIndex={0} aria-label={t('sec.mfaRecoveryLabel')}>
            {(enr.recovery_codes ?? []).join('\n')}
          </pre>
        </li>
        <li>
          <form onSubmit={confirm} className="row">
            <Field label={t('sec.mfaCode')}>
              <input name="code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
            </Field>
            <Button variant="primary" type="submit" busy={busy}>
              {t('sec.mfaConfirm')}
            </Button>
          </form>
        </li>
      </ol>
      <ErrorBox error={err} />
    </div>
  )
}

function DisableMFA() {
  const [code, setCode] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const qc = useQueryClient()
  const toast = useToast()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setErr(null)
    try {
      await mfaDisable(code.trim())
      await qc.invalidateQueries()
      toast(t('sec.mfaDisabled'), 'ok')
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form onSubmit={submit} className="form-grid">
      <p>
        <Badge tone="ok">{t('sec.mfaOn')}</Badge> {t('sec.mfaOnHint')}
      </p>
      <Field label={t('sec.mfaCodeOrRecovery')}>
        <input name="code" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
      </Field>
      <ErrorBox error={err} />
      <div>
        <Button variant="danger" type="submit" busy={busy}>
          {t('sec.mfaDisable')}
        </Button>
      </div>
    </form>
  )
}

/** The full-page screens App shows before the dashboard: a forced password change, then a required MFA enrolment. */
export function Gate({ kind, onSignOut }: { kind: 'password' | 'mfa'; onSignOut: () => void }) {
  return (
    <main className="login-page">
      <div className="card login-card gate-card">
        <div className="brand login-brand">
          <img className="brand-mark" src="/favicon.svg" alt="" /> kanade
        </div>
        <h1>{kind === 'password' ? t('sec.mustChangeTitle') : t('sec.mustEnrolTitle')}</h1>
        <p className="muted">{kind === 'password' ? t('sec.mustChangeBody') : t('sec.mustEnrolBody')}</p>
        {kind === 'password' ? <PasswordForm /> : <EnrolMFA />}
        <button type="button" className="link-btn" onClick={onSignOut}>
          {t('auth.logout')}
        </button>
      </div>
    </main>
  )
}
