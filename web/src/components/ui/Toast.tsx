import { createContext, useCallback, useContext, useState, type ReactNode } from 'react'
import { t } from '../../i18n'
import type { Tone } from './Badge'

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
