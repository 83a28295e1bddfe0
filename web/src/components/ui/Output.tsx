import { downloadText } from '../../lib/csv'
import { t } from '../../i18n'
import { Button } from './Button'
import { useToast } from './Toast'

// useCopy returns a function that copies text to the clipboard and says
// whether it worked in a toast.
export function useCopy() {
  const toast = useToast()
  return async (text: string) => {
    try {
      await navigator.clipboard.writeText(text)
      toast(t('common.copied'), 'ok')
    } catch {
      toast(t('common.copyFailed'), 'bad')
    }
  }
}

export function Output({ label, text, filename }: { label: string; text: string; filename: string }) {
  const copyText = useCopy()
  const copy = () => copyText(text)
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
