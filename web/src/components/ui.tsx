// The component kit: small, accessible primitives styled by styles.css.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ButtonHTMLAttributes,
  type ReactNode,
} from 'react'
import { ApiError } from '../lib/api'
import { downloadText } from '../lib/csv'
import { absoluteTime, relativeTime } from '../lib/time'
import { t } from '../i18n'
import type { Execution } from '../lib/types'

type Variant = 'primary' | 'default' | 'danger' | 'ghost'
export function Button({
  variant = 'default',
  small,
  busy,
  className,
  children,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; small?: boolean; busy?: boolean }) {
  return (
    <button
      type="button"
      className={`btn btn-${variant}${small ? ' btn-sm' : ''}${className ? ' ' + className : ''}`}
      disabled={busy || rest.disabled}
      aria-busy={busy || undefined}
      {...rest}
    >
      {busy && <span className="spinner" aria-hidden />}
      {children}
    </button>
  )
}

export function Card({ title, actions, children, className, id }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; id?: string }) {
  return (
    <section className={`card${className ? ' ' + className : ''}`} aria-labelledby={title && id ? `${id}-h` : undefined}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2 id={id ? `${id}-h` : undefined}>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  )
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted'
export function Badge({ tone = 'muted', children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  )
}

const statusTone: Record<string, Tone> = {
  success: 'ok',
  completed: 'ok',
  ACTIVE: 'ok',
  failure: 'bad',
  expired: 'bad',
  REVOKED: 'bad',
  running: 'info',
  pending: 'warn',
  skipped: 'muted',
}
export function StatusBadge({ status }: { status: string }) {
  const key = `status.${status}` as Parameters<typeof t>[0]
  return <Badge tone={statusTone[status] ?? 'muted'}>{t(key) === key ? status : t(key)}</Badge>
}

export function OnlineDot({ online }: { online: boolean }) {
  return (
    <span className={`dot ${online ? 'dot-on' : 'dot-off'}`} role="img" aria-label={online ? t('agents.online') : t('agents.offline')} />
  )
}

export function Chips<T extends string>({
  label,
  value,
  options,
  onChange,
}: {
  label: string
  value: T
  options: { value: T; label: string; count?: number }[]
  onChange: (v: T) => void
}) {
  return (
    <div className="chips" role="radiogroup" aria-label={label}>
      {options.map((o) => (
        <button
          key={o.value}
          type="button"
          role="radio"
          aria-checked={o.value === value}
          className={`chip${o.value === value ? ' chip-on' : ''}`}
          onClick={() => onChange(o.value)}
        >
          {o.label}
          {o.count !== undefined && <span className="chip-count">{o.count.toLocaleString()}</span>}
        </button>
      ))}
    </div>
  )
}

export function Progress({ e }: { e: Pick<Execution, 'target_count' | 'success_count' | 'failure_count' | 'skipped_count'> }) {
  const total = Math.max(1, e.target_count)
  const pct = (n: number) => `${Math.min(100, (n / total) * 100)}%`
  const done = e.success_count + e.failure_count + e.skipped_count
  const label = t('exec.progress', { done, total: e.target_count, ok: e.success_count, fail: e.failure_count, skip: e.skipped_count })
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={e.target_count} aria-valuenow={done} aria-label={label} title={label}>
      <span className="seg seg-ok" style={{ width: pct(e.success_count) }} />
      <span className="seg seg-bad" style={{ width: pct(e.failure_count) }} />
      <span className="seg seg-skip" style={{ width: pct(e.skipped_count) }} />
    </div>
  )
}

export function Spinner({ label }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden /> {label ?? t('common.loading')}
    </div>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null
  const msg = error instanceof ApiError ? `${error.message}${error.field ? ` (${error.field})` : ''}` : String((error as Error)?.message ?? error)
  return (
    <div className="alert alert-bad" role="alert">
      {msg}
    </div>
  )
}

// A shared ticking clock so every relative time on the page re-renders together.
let now = Date.now()
const clockSubs = new Set<() => void>()
setInterval(() => {
  now = Date.now()
  for (const s of clockSubs) s()
}, 15_000)
export function useNow() {
  return useSyncExternalStore(
    (fn) => {
      clockSubs.add(fn)
      return () => clockSubs.delete(fn)
    },
    () => now,
  )
}

export function RelTime({ at }: { at: string | null | undefined }) {
  const n = useNow()
  if (!at) return <span className="muted">—</span>
  return (
    <time dateTime={at} title={absoluteTime(at)}>
      {relativeTime(at, Math.max(n, Date.now() - 15_000))}
    </time>
  )
}

export function Dialog({
  open,
  onClose,
  title,
  children,
  footer,
  wide,
}: {
  open: boolean
  onClose: () => void
  title: ReactNode
  children: ReactNode
  footer?: ReactNode
  wide?: boolean
}) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (!d) return
    if (open && !d.open) d.showModal()
    if (!open && d.open) d.close()
  }, [open])
  return (
    <dialog ref={ref} className={`dialog${wide ? ' dialog-wide' : ''}`} onClose={onClose} onCancel={onClose} aria-labelledby="dlg-title">
      {open && (
        <form method="dialog" className="dialog-inner" onSubmit={(e) => e.preventDefault()}>
          <header className="dialog-head">
            <h2 id="dlg-title">{title}</h2>
            <button type="button" className="icon-btn" aria-label={t('common.close')} onClick={onClose}>
              ×
            </button>
          </header>
          <div className="dialog-body">{children}</div>
          {footer && <footer className="dialog-foot">{footer}</footer>}
        </form>
      )}
    </dialog>
  )
}

// ---- confirmation for destructive actions ----
interface ConfirmReq {
  title: string
  body: ReactNode
  confirm: string
  danger?: boolean
  resolve: (ok: boolean) => void
}
const ConfirmCtx = createContext<(r: Omit<ConfirmReq, 'resolve'>) => Promise<boolean>>(async () => false)
export const useConfirm = () => useContext(ConfirmCtx)

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [req, setReq] = useState<ConfirmReq | null>(null)
  const ask = useCallback((r: Omit<ConfirmReq, 'resolve'>) => new Promise<boolean>((resolve) => setReq({ ...r, resolve })), [])
  const done = (ok: boolean) => {
    req?.resolve(ok)
    setReq(null)
  }
  return (
    <ConfirmCtx.Provider value={ask}>
      {children}
      <Dialog
        open={!!req}
        onClose={() => done(false)}
        title={req?.title ?? ''}
        footer={
          <>
            <Button onClick={() => done(false)}>{t('common.cancel')}</Button>
            <Button variant={req?.danger ? 'danger' : 'primary'} onClick={() => done(true)} autoFocus>
              {req?.confirm}
            </Button>
          </>
        }
      >
        <div className="confirm-body">{req?.body}</div>
      </Dialog>
    </ConfirmCtx.Provider>
  )
}

// ---- toasts ----
interface Toast {
  id: number
  text: string
  tone: Tone
}
const ToastCtx = createContext<(text: string, tone?: Tone) => void>(() => {})
export const useToast = () => useContext(ToastCtx)
let toastSeq = 0
export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Toast[]>([])
  const push = useCallback((text: string, tone: Tone = 'info') => {
    const id = ++toastSeq
    setItems((xs) => [...xs.slice(-3), { id, text, tone }])
    setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), 5000)
  }, [])
  return (
    <ToastCtx.Provider value={push}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {items.map((x) => (
          <div key={x.id} className={`toast toast-${x.tone}`}>
            {x.text}
            <button type="button" className="icon-btn" aria-label={t('common.close')} onClick={() => setItems((xs) => xs.filter((y) => y.id !== x.id))}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastCtx.Provider>
  )
}

export function Field({ label, children, hint, error }: { label: string; children: ReactNode; hint?: ReactNode; error?: string }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="field-hint">{hint}</span>}
      {error && <span className="field-error">{error}</span>}
    </label>
  )
}

// ---- tables that turn into cards on a phone (CSS uses data-label) ----
export interface Col<T> {
  key: string
  header: ReactNode
  label?: string
  cell: (row: T) => ReactNode
  className?: string
}
export function Table<T>({
  cols,
  rows,
  rowKey,
  onRow,
  empty,
  caption,
}: {
  cols: Col<T>[]
  rows: readonly T[]
  rowKey: (r: T) => string
  onRow?: (r: T) => void
  empty?: ReactNode
  caption?: string
}) {
  if (!rows.length) return <Empty>{empty ?? t('common.none')}</Empty>
  return (
    <div className="table-wrap">
      <table className="table cardify">
        {caption && <caption className="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c.key} scope="col" className={c.className}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={rowKey(r)}
              className={onRow ? 'clickable' : undefined}
              onClick={onRow ? (e) => (e.target as HTMLElement).closest('a,button,input') || onRow(r) : undefined}
            >
              {cols.map((c) => (
                <td key={c.key} data-label={c.label ?? (typeof c.header === 'string' ? c.header : '')} className={c.className}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number; onChange: (o: number) => void }) {
  if (total <= limit) return null
  const from = Math.min(total, offset + 1)
  const to = Math.min(total, offset + limit)
  return (
    <nav className="pager" aria-label={t('common.pages')}>
      <Button small disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ‹ {t('common.prev')}
      </Button>
      <span>{t('common.range', { from, to, total: total.toLocaleString() })}</span>
      <Button small disabled={to >= total} onClick={() => onChange(offset + limit)}>
        {t('common.next')} ›
      </Button>
    </nav>
  )
}

export function Output({ label, text, filename }: { label: string; text: string; filename: string }) {
  const toast = useToast()
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      toast(t('common.copied'), 'ok')
    } catch {
      toast(t('common.copyFailed'), 'bad')
    }
  }
  return (
    <div className="output">
      <div className="output-head">
        <strong>{label}</strong>
        <span className="muted">{t('common.chars', { count: text.length })}</span>
        <span className="grow" />
        <Button small onClick={copy} disabled={!text}>
          {t('common.copy')}
        </Button>
        <Button small onClick={() => downloadText(filename, text)} disabled={!text}>
          {t('common.download')}
        </Button>
      </div>
      <pre className="mono output-body" tabIndex={0} aria-label={label}>
        {text || <span className="muted">{t('common.empty')}</span>}
      </pre>
    </div>
  )
}

export function KV({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  )
}
