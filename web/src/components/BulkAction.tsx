// One bulk action of a list's bulk bar (components/ui/Table.tsx): confirms
// when asked, runs the action on each selected item (8 at a time), then
// says how many failed and why.
import { useState } from 'react'
import { mapLimit } from '../lib/api'
import { t } from '../i18n'
import { Button, useConfirm, useToast } from './ui'

export function BulkAction<T>({
  rows,
  label,
  run,
  done,
  confirm,
  danger,
  disabled,
  after,
}: {
  rows: T[]
  label: string
  run: (row: T) => Promise<unknown>
  done: (count: number) => string
  confirm?: { title: string; body: string }
  danger?: boolean
  disabled?: boolean
  after?: () => void
}) {
  const [busy, setBusy] = useState(false)
  const ask = useConfirm()
  const toast = useToast()
  const go = async () => {
    if (confirm && !(await ask({ title: confirm.title, body: confirm.body, confirm: label, danger }))) return
    setBusy(true)
    const res = await mapLimit(rows, 8, run)
    setBusy(false)
    const bad = res.filter((r) => !r.ok)
    const ok = res.length - bad.length
    if (bad.length) toast(t('bulk.partial', { bad: bad.length, total: res.length, msg: String((bad[0] as { error: Error }).error?.message) }), 'bad')
    else toast(done(ok), 'ok')
    after?.()
  }
  return (
    <Button small variant={danger ? 'danger' : 'default'} onClick={go} busy={busy} disabled={disabled || !rows.length}>
      {label}
    </Button>
  )
}
