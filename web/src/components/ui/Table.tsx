// The one list table of the dashboard (cards on a phone; CSS uses
// data-label). A column with a `value` can be sorted and filtered and goes
// into the CSV of selected rows. Sorting and the text filter work on the
// rows loaded on the page: no list API but /api/agents sorts (the Agents
// page sorts there), so the header's tooltip says so. Selection adds a
// checkbox column and a bulk action bar whose actions the page supplies;
// "Export selected as CSV" is always there.
import { useMemo, useState, type ReactNode } from 'react'
import { t, locale } from '../../i18n'
import { downloadText, toCSV } from '../../lib/csv'
import { Button } from './Button'
import { Empty } from './Status'

export type CellValue = string | number | null | undefined

export interface Col<T> {
  key: string
  header: ReactNode
  label?: string
  cell: (row: T) => ReactNode
  className?: string
  /** Plain value for sorting, filtering and CSV; without one the column is display only. */
  value?: (row: T) => CellValue
}

export interface Bulk<T> {
  /** Name of the CSV of selected rows (without .csv). */
  name: string
  /** Page-specific actions on the selected rows; clear() empties the selection. */
  actions?: (rows: T[], clear: () => void) => ReactNode
}

type Sort = { key: string; dir: 1 | -1 } | null

const text = (v: CellValue) => (v === null || v === undefined ? '' : String(v))

export function compareValues(a: CellValue, b: CellValue, loc = locale): number {
  if (a === b) return 0
  if (a === null || a === undefined || a === '') return 1
  if (b === null || b === undefined || b === '') return -1
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return String(a).localeCompare(String(b), loc, { numeric: true, sensitivity: 'base' })
}

/** The rows a filter text and a sort leave, in order (exported for tests). */
export function viewRows<T>(rows: readonly T[], cols: readonly Col<T>[], filter: string, sort: Sort, loc = locale): T[] {
  const vcols = cols.filter((c) => c.value)
  const needle = filter.trim().toLocaleLowerCase(loc)
  let out = needle ? rows.filter((r) => vcols.some((c) => text(c.value!(r)).toLocaleLowerCase(loc).includes(needle))) : [...rows]
  const sc = sort && cols.find((c) => c.key === sort.key && c.value)
  if (sort && sc) out = out.map((r, i) => [r, i] as const).sort(([a, i], [b, j]) => sort.dir * compareValues(sc.value!(a), sc.value!(b), loc) || i - j).map(([r]) => r)
  return out
}

export function Table<T>({
  cols,
  rows,
  rowKey,
  onRow,
  empty,
  caption,
  filter,
  bulk,
}: {
  cols: Col<T>[]
  rows: readonly T[]
  rowKey: (r: T) => string
  onRow?: (r: T) => void
  empty?: ReactNode
  caption?: string
  /** Show a text filter over the value columns of the loaded rows. */
  filter?: boolean
  /** Enable row selection with a bulk action bar. */
  bulk?: Bulk<T>
}) {
  const [sort, setSort] = useState<Sort>(null)
  const [needle, setNeedle] = useState('')
  const [sel, setSel] = useState<Set<string>>(new Set())
  const shown = useMemo(() => viewRows(rows, cols, needle, sort), [rows, cols, needle, sort])
  if (!rows.length) return <Empty>{empty ?? t('common.none')}</Empty>

  const keys = new Set(rows.map(rowKey))
  const selected = rows.filter((r) => sel.has(rowKey(r)))
  const clear = () => setSel(new Set())
  const shownSel = shown.filter((r) => sel.has(rowKey(r))).length
  const toggle = (k: string) =>
    setSel((s) => {
      const n = new Set([...s].filter((x) => keys.has(x)))
      if (n.has(k)) n.delete(k)
      else n.add(k)
      return n
    })
  const toggleAll = (on: boolean) => setSel(on ? new Set(shown.map(rowKey)) : new Set())
  const headerText = (c: Col<T>) => c.label ?? (typeof c.header === 'string' ? c.header : c.key)
  const exportSel = () => {
    const vcols = cols.filter((c) => c.value).map((c) => ({ header: headerText(c), value: (r: T) => c.value!(r) }))
    downloadText(`${bulk!.name}.csv`, toCSV(selected, vcols), 'text/csv;charset=utf-8')
  }

  return (
    <div className="table-block">
      {(filter || (bulk && selected.length > 0)) && (
        <div className="table-tools">
          {filter && (
            <input
              type="search"
              className="search table-filter"
              value={needle}
              onChange={(e) => setNeedle(e.target.value)}
              placeholder={t('table.filter')}
              aria-label={caption ? t('table.filterOf', { list: caption }) : t('table.filter')}
              title={t('table.filterHint')}
              data-testid="table-filter"
            />
          )}
          {bulk && selected.length > 0 && (
            <div className="bulkbar" role="region" aria-label={t('agents.bulk')} data-testid="bulkbar">
              <strong>{t('agents.selected', { count: selected.length })}</strong>
              {bulk.actions?.(selected, clear)}
              <Button small onClick={exportSel} data-testid="export-selected">
                {t('table.exportSelected')}
              </Button>
              <Button small variant="ghost" onClick={clear}>
                {t('common.clear')}
              </Button>
            </div>
          )}
        </div>
      )}
      <div className="table-wrap">
        <table className="table cardify">
          {caption && <caption className="sr-only">{caption}</caption>}
          <thead>
            <tr>
              {bulk && (
                <th scope="col" className="c-check">
                  <input
                    type="checkbox"
                    aria-label={t('table.selectAll', { count: shown.length })}
                    checked={shown.length > 0 && shownSel === shown.length}
                    ref={(el) => {
                      if (el) el.indeterminate = shownSel > 0 && shownSel < shown.length
                    }}
                    onChange={(e) => toggleAll(e.target.checked)}
                  />
                </th>
              )}
              {cols.map((c) => {
                const on = sort?.key === c.key
                return (
                  <th key={c.key} scope="col" className={c.className} aria-sort={c.value ? (on ? (sort!.dir === 1 ? 'ascending' : 'descending') : 'none') : undefined}>
                    {c.value ? (
                      <button
                        type="button"
                        className="sort-btn"
                        title={t('table.sortLocal')}
                        onClick={() => setSort(on ? (sort!.dir === 1 ? { key: c.key, dir: -1 } : null) : { key: c.key, dir: 1 })}
                      >
                        {c.header}
                        <span aria-hidden className="sort-mark">
                          {on ? (sort!.dir === 1 ? ' ▲' : ' ▼') : ''}
                        </span>
                      </button>
                    ) : (
                      c.header
                    )}
                  </th>
                )
              })}
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => {
              const k = rowKey(r)
              return (
                <tr
                  key={k}
                  className={`${onRow ? 'clickable' : ''}${sel.has(k) ? ' selected' : ''}` || undefined}
                  onClick={onRow ? (e) => (e.target as HTMLElement).closest('a,button,input,label') || onRow(r) : undefined}
                >
                  {bulk && (
                    <td className="c-check" data-label="">
                      <input type="checkbox" aria-label={t('table.selectRow', { row: k })} checked={sel.has(k)} onChange={() => toggle(k)} />
                    </td>
                  )}
                  {cols.map((c) => (
                    <td key={c.key} data-label={headerText(c) === c.key ? '' : headerText(c)} className={c.className}>
                      {c.cell(r)}
                    </td>
                  ))}
                </tr>
              )
            })}
          </tbody>
        </table>
        {shown.length === 0 && <p className="empty">{t('table.noMatch')}</p>}
      </div>
    </div>
  )
}
