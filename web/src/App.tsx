import { useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useEffect, useState, type ReactNode } from 'react'
import { ApiError } from './lib/api'
import { setToken } from './lib/auth'
import { LiveProvider, useFallbackInterval, useLiveStatus } from './lib/live'
import { useMeQuery } from './lib/queries/auth'
import { freezeFleet, invalidateFreeze, thawFleet, useFreeze as useFreezeQuery } from './lib/queries/freeze'
import { useVersion } from './lib/queries/health'
import { useOpenAlertCount } from './lib/queries/checks'
import { Link, matchPath, navigate, useLocation } from './lib/router'
import { SessionProvider, useCanWrite, useMe, useToken } from './lib/session'
import { setTheme, useTheme, type ThemeChoice } from './lib/theme'
import type { FreezeRequest } from './lib/types'
import { languageNames, setLanguage, t, useLanguage, type Key, type Lang } from './i18n'
import { fleetStatus, stuckPending } from './lib/fleetStatus'
import { useExecutionsByStatus } from './lib/queries/executions'
import { useFleetHealth } from './lib/queries/health'
import { Button, ConfirmProvider, Dialog, ErrorBox, Field, RelTime, Spinner, ToastProvider, useConfirm, useToast } from './components/ui'
import { Dashboard } from './pages/Dashboard'
import { Agents } from './pages/Agents'
import { AgentDetail } from './pages/AgentDetail'
import { Jobs } from './pages/Jobs'
import { Activity, ExecutionView, ResultView } from './pages/Activity'
import { Run } from './pages/Run'
import { Schedules } from './pages/Schedules'
import { GroupsConfig } from './pages/GroupsConfig'
import { Audit } from './pages/Audit'
import { Enrollment } from './pages/Enrollment'
import { Releases } from './pages/Releases'
import { AddPCs } from './pages/AddPCs'
import { Rollout } from './pages/Rollout'
import { Inventory } from './pages/Inventory'
import { Compliance } from './pages/Compliance'
import { Alerts } from './pages/Alerts'
import { Login } from './pages/Login'
import { Notifications } from './pages/Notifications'
import { Accounts } from './pages/Accounts'
import { Tokens } from './pages/Tokens'
import { Gate, Security } from './pages/Security'

// write: operators and admins only (viewers do not see the entry; the API refuses them too); admin: admins only.
const nav: { to: string; key: Key; section: Key; write?: boolean; admin?: boolean }[] = [
  { to: '/', key: 'nav.dashboard', section: 'nav.observe' },
  { to: '/agents', key: 'nav.agents', section: 'nav.observe' },
  { to: '/activity', key: 'nav.activity', section: 'nav.observe' },
  { to: '/inventory', key: 'nav.inventory', section: 'nav.observe' },
  { to: '/compliance', key: 'nav.compliance', section: 'nav.observe' },
  { to: '/alerts', key: 'nav.alerts', section: 'nav.observe' },
  { to: '/audit', key: 'nav.audit', section: 'nav.observe' },
  { to: '/run', key: 'nav.run', section: 'nav.execute' },
  { to: '/jobs', key: 'nav.jobs', section: 'nav.execute' },
  { to: '/schedules', key: 'nav.schedules', section: 'nav.execute' },
  { to: '/groups', key: 'nav.groups', section: 'nav.manage' },
  { to: '/add-pcs', key: 'nav.addPCs', section: 'nav.manage', write: true },
  { to: '/enrollment', key: 'nav.enrollment', section: 'nav.manage', write: true },
  { to: '/releases', key: 'nav.releases', section: 'nav.manage' },
  { to: '/rollout', key: 'nav.rollout', section: 'nav.manage' },
  { to: '/notifications', key: 'nav.notifications', section: 'nav.manage', admin: true },
  { to: '/accounts', key: 'nav.accounts', section: 'nav.access', admin: true },
  { to: '/tokens', key: 'nav.tokens', section: 'nav.access', write: true },
  { to: '/security', key: 'nav.security', section: 'nav.access' },
]

type Route = { path: string; render: (p: Record<string, string>) => ReactNode; title: Key }
const routes: Route[] = [
  { path: '/', render: () => <Dashboard />, title: 'nav.dashboard' },
  { path: '/agents', render: () => <Agents />, title: 'nav.agents' },
  { path: '/agents/:pc', render: (p) => <AgentDetail pc={p.pc} />, title: 'nav.agents' },
  { path: '/jobs', render: () => <Jobs />, title: 'nav.jobs' },
  { path: '/activity', render: () => <Activity />, title: 'nav.activity' },
  { path: '/activity/exec/:id', render: (p) => <ExecutionView id={p.id} />, title: 'nav.activity' },
  { path: '/activity/result/:id', render: (p) => <ResultView id={p.id} />, title: 'nav.activity' },
  { path: '/run', render: () => <Run />, title: 'nav.run' },
  { path: '/schedules', render: () => <Schedules />, title: 'nav.schedules' },
  { path: '/groups', render: () => <GroupsConfig />, title: 'nav.groups' },
  { path: '/audit', render: () => <Audit />, title: 'nav.audit' },
  { path: '/enrollment', render: () => <Enrollment />, title: 'nav.enrollment' },
  { path: '/releases', render: () => <Releases />, title: 'nav.releases' },
  { path: '/add-pcs', render: () => <AddPCs />, title: 'nav.addPCs' },
  { path: '/rollout', render: () => <Rollout />, title: 'nav.rollout' },
  { path: '/inventory', render: () => <Inventory />, title: 'nav.inventory' },
  { path: '/compliance', render: () => <Compliance />, title: 'nav.compliance' },
  { path: '/alerts', render: () => <Alerts />, title: 'nav.alerts' },
  { path: '/notifications', render: () => <Notifications />, title: 'nav.notifications' },
  { path: '/accounts', render: () => <Accounts />, title: 'nav.accounts' },
  { path: '/tokens', render: () => <Tokens />, title: 'nav.tokens' },
  { path: '/security', render: () => <Security />, title: 'nav.security' },
]

export function App({ qc }: { qc: QueryClient }) {
  const token = useToken()
  const me = useMeQuery(token)
  const { pathname } = useLocation()
  const signOut = () => {
    setToken('')
    qc.clear()
    navigate('/login')
  }

  let content: ReactNode
  if (me.isPending) content = <Spinner />
  else if (me.error instanceof ApiError && me.error.status === 401) content = <Login />
  else if (me.error)
    content = (
      <div className="center-page">
        <ErrorBox error={me.error} />
        <Button onClick={() => me.refetch()}>{t('common.retry')}</Button>
      </div>
    )
  // An account that must change its password, then one that must enrol
  // MFA, can do nothing else (the API answers 403 everywhere but here).
  else if (me.data?.must_change_pw) content = <Gate kind="password" onSignOut={signOut} />
  else if (me.data?.mfa_enrolment_required) content = <Gate kind="mfa" onSignOut={signOut} />
  else if (pathname === '/login') {
    navigate('/', { replace: true })
    content = null
  } else
    content = (
      <SessionProvider me={me.data!}>
        <LiveProvider qc={qc} enabled>
          <Shell />
        </LiveProvider>
      </SessionProvider>
    )
  return (
    <ToastProvider>
      <ConfirmProvider>{content}</ConfirmProvider>
    </ToastProvider>
  )
}

function Shell() {
  const { pathname } = useLocation()
  const [menu, setMenu] = useState(false)
  let page: ReactNode = <NotFound />
  let title: Key = 'nav.notFound'
  for (const r of routes) {
    const p = matchPath(r.path, pathname)
    if (p) {
      page = r.render(p)
      title = r.title
      break
    }
  }
  useEffect(() => {
    document.title = `${t(title)} · kanade`
    setMenu(false)
  }, [title, pathname])
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('nav.skip')}
      </a>
      <aside className={`sidebar${menu ? ' open' : ''}`} aria-label={t('nav.main')}>
        <div className="brand">
          <img className="brand-mark" src="/favicon.svg" alt="" /> kanade
        </div>
        <Nav pathname={pathname} />
        <SideFooter />
      </aside>
      {menu && <div className="scrim" onClick={() => setMenu(false)} />}
      <div className="main-col">
        <TopBar onMenu={() => setMenu((m) => !m)} menuOpen={menu} />
        <FreezeBanner />
        <main id="main" className="main" tabIndex={-1}>
          {page}
        </main>
      </div>
    </div>
  )
}

function Nav({ pathname }: { pathname: string }) {
  const canWrite = useCanWrite()
  const admin = useMe().role === 'admin'
  const items = nav.filter((n) => (canWrite || !n.write) && (admin || !n.admin))
  const sections = [...new Set(items.map((n) => n.section))]
  return (
    <nav>
      {sections.map((s) => (
        <div key={s} className="nav-section">
          <div className="nav-title">{t(s)}</div>
          <ul>
            {items
              .filter((n) => n.section === s)
              .map((n) => {
                const active = n.to === '/' ? pathname === '/' : pathname === n.to || pathname.startsWith(n.to + '/')
                return (
                  <li key={n.to}>
                    <Link to={n.to} className={`nav-link${active ? ' active' : ''}`} aria-current={active ? 'page' : undefined}>
                      {t(n.key)}
                    </Link>
                  </li>
                )
              })}
          </ul>
        </div>
      ))}
    </nav>
  )
}

function SideFooter() {
  const v = useVersion()
  const me = useMe()
  return (
    <div className="side-foot">
      <div className="phone-only side-account">
        <span>
          {me.username} <span className="muted">({me.role})</span>
        </span>
        <ThemeSelect id="theme-sel-side" />
        <LangSelect id="lang-sel-side" />
        <SignOut />
      </div>
      <span className="muted">{v.data ? `kanade ${v.data.version}${v.data.commit ? ` · ${v.data.commit.slice(0, 7)}` : ''}` : ''}</span>
    </div>
  )
}

function ThemeSelect({ id }: { id: string }) {
  const theme = useTheme()
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {t('theme.label')}
      </label>
      <select id={id} className="theme-sel" value={theme} onChange={(e) => setTheme(e.target.value as ThemeChoice)}>
        <option value="system">{t('theme.system')}</option>
        <option value="light">{t('theme.light')}</option>
        <option value="dark">{t('theme.dark')}</option>
      </select>
    </>
  )
}

// The language switch: English and Japanese; the choice is kept in
// localStorage (i18n/index.ts) and the page re-renders in it at once.
function LangSelect({ id }: { id: string }) {
  const lang = useLanguage()
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {t('lang.label')}
      </label>
      <select id={id} className="theme-sel" value={lang} onChange={(e) => setLanguage(e.target.value, true)} data-testid="lang-select">
        {(Object.keys(languageNames) as Lang[]).map((l) => (
          <option key={l} value={l} lang={l}>
            {languageNames[l]}
          </option>
        ))}
      </select>
    </>
  )
}

// The fleet's state in the header, honest (SPEC §17): not "all green" with a
// PC offline, failures in the last 24 h, a run stuck pending or an alert
// open; it says which. The same queries as the dashboard (shared cache).
function FleetBadge() {
  const interval = useFallbackInterval(30_000)
  const opts = { refetchInterval: interval || 60_000 }
  const health = useFleetHealth(opts)
  const pending = useExecutionsByStatus('pending', 10, opts)
  const alerts = useOpenAlertCount(opts)
  const s = fleetStatus(health.data, alerts.data ?? 0, stuckPending(pending.data, Date.now()))
  const label = t('hs.label', { why: s.text })
  return (
    <Link to="/" className={`fleet-badge fleet-${s.tone}`} title={label} aria-label={label} data-testid="fleet-badge">
      <span className="dot" aria-hidden />
      <span className="fleet-text">{s.text}</span>
    </Link>
  )
}

function SignOut() {
  const qc = useQueryClient()
  return (
    <Button
      small
      variant="ghost"
      onClick={() => {
        setToken('')
        qc.clear()
        navigate('/login')
      }}
    >
      {t('auth.logout')}
    </Button>
  )
}

function TopBar({ onMenu, menuOpen }: { onMenu: () => void; menuOpen: boolean }) {
  const live = useLiveStatus()
  const me = useMe()
  return (
    <header className="topbar">
      <button type="button" className="icon-btn menu-btn" aria-label={t('nav.menu')} aria-expanded={menuOpen} onClick={onMenu}>
        ☰
      </button>
      <span className="brand topbar-brand">
        <img className="brand-mark" src="/favicon.svg" alt="kanade" />
      </span>
      <span className="grow" />
      <span className={`live live-${live}`} title={t(`live.${live}Hint`)} role="status">
        <span className="dot" aria-hidden /> {t(`live.${live}`)}
      </span>
      <FleetBadge />
      <AlertBadge />
      <FreezeSwitch />
      <span className="desk-only row">
        <ThemeSelect id="theme-sel" />
        <LangSelect id="lang-sel" />
        <span className="user" title={t('auth.role', { role: me.role })}>
          {me.username} <span className="muted">({me.role})</span>
        </span>
        <SignOut />
      </span>
    </header>
  )
}

// Open alerts in the header: refreshed by the "alert" live event (lib/live.tsx)
// and, in case an event is missed, every minute (every 30 s while not live).
function AlertBadge() {
  const interval = useFallbackInterval(30_000)
  const n = useOpenAlertCount({ refetchInterval: interval || 60_000 })
  const count = n.data ?? 0
  const label = t('alerts.badge', { count })
  return (
    <Link to="/alerts" className={`alert-badge${count ? ' on' : ''}`} title={label} aria-label={label} data-testid="alert-badge">
      <svg aria-hidden width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" strokeLinejoin="round">
        <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      <span className="alert-count" data-testid="alert-count">
        {n.isPending ? '…' : count}
      </span>
    </Link>
  )
}

function useFreeze() {
  const interval = useFallbackInterval()
  return useFreezeQuery({ refetchInterval: interval || 60_000 })
}

function FreezeBanner() {
  const f = useFreeze()
  if (!f.data?.frozen) return null
  const d = f.data
  return (
    <div className="banner banner-freeze" role="alert">
      <strong>{t('freeze.bannerTitle')}</strong> {t('freeze.bannerBody')}{' '}
      {d.reason && <>— “{d.reason}”</>} {d.by && t('freeze.by', { by: d.by })} {d.since && <RelTime at={d.since} />}
      {d.until && (
        <>
          {' '}
          · {t('freeze.until')} <RelTime at={d.until} />
        </>
      )}
    </div>
  )
}

function FreezeSwitch() {
  const f = useFreeze()
  const qc = useQueryClient()
  const confirm = useConfirm()
  const toast = useToast()
  const canWrite = useCanWrite()
  const [open, setOpen] = useState(false)
  const [reason, setReason] = useState('')
  const [until, setUntil] = useState('')
  const [err, setErr] = useState<unknown>(null)
  const frozen = !!f.data?.frozen
  const freeze = async () => {
    try {
      const body: FreezeRequest = { reason }
      if (until) body.until = new Date(until).toISOString().replace(/\.\d{3}Z$/, 'Z')
      await freezeFleet(body)
      setOpen(false)
      toast(t('freeze.done'), 'warn')
      invalidateFreeze(qc)
    } catch (e) {
      setErr(e)
    }
  }
  const thaw = async () => {
    if (!(await confirm({ title: t('freeze.thawTitle'), body: t('freeze.thawBody'), confirm: t('freeze.thaw') }))) return
    try {
      await thawFleet()
      toast(t('freeze.thawed'), 'ok')
      invalidateFreeze(qc)
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
  }
  return (
    <>
      <button
        type="button"
        role="switch"
        aria-checked={frozen}
        className={`freeze-switch${frozen ? ' on' : ''}`}
        disabled={!canWrite || f.isPending}
        title={canWrite ? t('freeze.hint') : t('auth.operatorRequired')}
        onClick={() => (frozen ? thaw() : (setErr(null), setOpen(true)))}
      >
        <span className="knob" aria-hidden />
        {frozen ? t('freeze.on') : t('freeze.off')}
      </button>
      <Dialog
        open={open}
        onClose={() => setOpen(false)}
        title={t('freeze.title')}
        footer={
          <>
            <Button onClick={() => setOpen(false)}>{t('common.cancel')}</Button>
            <Button variant="danger" onClick={freeze} disabled={!reason.trim()}>
              {t('freeze.freeze')}
            </Button>
          </>
        }
      >
        <p>{t('freeze.explain')}</p>
        <Field label={t('freeze.reason')}>
          <input value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
        </Field>
        <Field label={t('freeze.untilLabel')} hint={t('freeze.untilHint')}>
          <input type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} />
        </Field>
        <ErrorBox error={err} />
      </Dialog>
    </>
  )
}

function NotFound() {
  return (
    <div className="center-page">
      <h1>{t('nav.notFound')}</h1>
      <Link to="/">{t('nav.home')}</Link>
    </div>
  )
}
