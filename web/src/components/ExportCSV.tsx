// "Export CSV" for a list page: the backend streams the whole filtered list
// as CSV (every page, the list's own filters and role; see docs/operations.md,
// "Exporting lists as CSV"), so the dashboard neither pages nor builds the file itself.
import { useState } from 'react'
import { downloadCSV } from '../lib/api'
import type { ApiRequest } from '../lib/types'
import { t } from '../i18n'
import { Button, useToast } from './ui'

/** request: the list's request as the page sends it (lib/queries/*Export). */
export function ExportCSV({ request, label, disabled }: { request: () => ApiRequest; label?: string; disabled?: boolean }) {
  const [busy, setBusy] = useState(false)
  const toast = useToast()
  const run = async () => {
    setBusy(true)
    try {
      const name = await downloadCSV(request())
      toast(t('export.done', { name }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    } finally {
      setBusy(false)
    }
  }
  return (
    <Button onClick={run} busy={busy} disabled={disabled} data-testid="export-csv">
      {label ?? t('export.csv')}
    </Button>
  )
}
