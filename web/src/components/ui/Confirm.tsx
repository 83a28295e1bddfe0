// Confirmation for destructive actions: `await useConfirm()({...})` resolves to the choice.
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react'
import { t } from '../../i18n'
import { Button } from './Button'
import { Dialog } from './Dialog'

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
