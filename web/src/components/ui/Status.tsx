// Loading, empty and error states.
import type { ReactNode } from 'react'
import { ApiError } from '../../lib/api'
import { t } from '../../i18n'

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
