import { useState, type FormEvent } from 'react'
import { setToken } from '../lib/auth'
import { login } from '../lib/queries/auth'
import { isMFAChallenge, mfaLogin } from '../lib/queries/mfa'
import { t } from '../i18n'
import { Button, ErrorBox, Field } from '../components/ui'

export function Login() {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [token, setTok] = useState('')
  const [useToken, setUseToken] = useState(false)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  // The second step (SPEC §16): the password was right, the account has MFA.
  const [mfaToken, setMfaToken] = useState('')
  const [code, setCode] = useState('')
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setErr(null)
    try {
      if (useToken) {
        setToken(token.trim())
      } else if (mfaToken) {
        const r = await mfaLogin(mfaToken, code.replace(/\s+/g, ''))
        setToken(r.token)
      } else {
        const r = await login(username, password)
        if (isMFAChallenge(r)) {
          setMfaToken(r.mfa_token)
          setCode('')
          return
        }
        setToken(r.token)
      }
      if (window.location.pathname === '/login') window.history.replaceState(null, '', '/')
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main className="login-page">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-h">
        <div className="brand login-brand">
          <img className="brand-mark" src="/favicon.svg" alt="" /> kanade
        </div>
        <h1 id="login-h">{t('auth.title')}</h1>
        {mfaToken ? (
          <>
            <p className="muted">{t('auth.mfaPrompt', { user: username })}</p>
            <Field label={t('auth.mfaCode')} hint={t('auth.mfaCodeHint')}>
              <input name="code" value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" autoComplete="one-time-code" required autoFocus />
            </Field>
          </>
        ) : useToken ? (
          <Field label={t('auth.token')} hint={t('auth.tokenHint')}>
            <input type="password" value={token} onChange={(e) => setTok(e.target.value)} autoComplete="off" required autoFocus />
          </Field>
        ) : (
          <>
            <Field label={t('auth.username')}>
              <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" required autoFocus />
            </Field>
            <Field label={t('auth.password')}>
              <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
            </Field>
          </>
        )}
        <ErrorBox error={err} />
        <Button variant="primary" type="submit" busy={busy} className="wide">
          {t('auth.signIn')}
        </Button>
        {mfaToken ? (
          <button type="button" className="link-btn" onClick={() => (setMfaToken(''), setErr(null), setPassword(''))}>
            {t('auth.mfaBack')}
          </button>
        ) : (
          <button type="button" className="link-btn" onClick={() => setUseToken((u) => !u)}>
            {useToken ? t('auth.usePassword') : t('auth.useToken')}
          </button>
        )}
      </form>
    </main>
  )
}
