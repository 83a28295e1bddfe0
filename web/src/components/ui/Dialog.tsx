import { useEffect, useRef, type ReactNode } from 'react'
import { t } from '../../i18n'

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
