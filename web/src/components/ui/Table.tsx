// Tables that turn into cards on a phone (CSS uses data-label).
import type { ReactNode } from 'react'
import { t } from '../../i18n'
import { Empty } from './Status'

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
