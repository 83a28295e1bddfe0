// Inventory (SPEC §14): the tables inventory jobs fill. Pick a table,
// search across PCs, add column filters (versions compare as versions:
// 1.10 > 1.9), load more by cursor, export the same rows as CSV, and open
// a PC.
import { useState } from 'react'
import { inventoryExport, inventoryOps, useInventoryRows, useInventoryTables, type InventoryCond, type InventoryFilter } from '../lib/queries/inventory_tables'
import { Link } from '../lib/router'
import type { InventoryRow } from '../lib/types'
import { t, type Key } from '../i18n'
import { ExportCSV } from '../components/ExportCSV'
import { Button, ErrorBox, Field, Pager, RelTime, Spinner, Table } from '../components/ui'

export function Inventory() {
  const tables = useInventoryTables()
  const [picked, setPicked] = useState('')
  const list = tables.data ?? []
  const table = picked || list[0]?.table || ''
  const columns = list.find((x) => x.table === table)?.columns ?? []
  const [q, setQ] = useState('')
  const [where, setWhere] = useState<InventoryCond[]>([])
  const filter: InventoryFilter = { q, where }
  const rows = useInventoryRows(table, filter, 100)

  const setCond = (i: number, c: Partial<InventoryCond>) => setWhere(where.map((w, j) => (j === i ? { ...w, ...c } : w)))
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.inventory')}</h1>
        {table && (
          <ExportCSV request={() => inventoryExport(table, filter)} label={t('inv.exportCsv')} />
        )}
      </div>
      <p className="muted">{t('inv.intro')}</p>
      <ErrorBox error={tables.error} />
      {tables.isPending ? (
        <Spinner />
      ) : !list.length ? (
        <p className="muted">{t('inv.noTables')}</p>
      ) : (
        <>
          <div className="toolbar filters">
            <Field label={t('inv.table')}>
              <select
                aria-label={t('inv.table')}
                value={table}
                onChange={(e) => {
                  setPicked(e.target.value)
                  setWhere([])
                }}
              >
                {list.map((x) => (
                  <option key={x.table} value={x.table}>
                    {x.table} ({t('inv.tableCounts', { pcs: x.pcs, rows: x.rows })})
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('inv.search')}>
              <input type="search" aria-label={t('inv.search')} value={q} placeholder={t('inv.searchHint')} onChange={(e) => setQ(e.target.value)} />
            </Field>
          </div>
          {where.map((w, i) => (
            <div className="toolbar filters" key={i} data-testid="inv-where">
              <select aria-label={t('inv.column')} value={w.column} onChange={(e) => setCond(i, { column: e.target.value })}>
                {columns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
              <select aria-label={t('inv.op')} value={w.op} onChange={(e) => setCond(i, { op: e.target.value as InventoryCond['op'] })}>
                {inventoryOps.map((o) => (
                  <option key={o} value={o}>
                    {t(`inv.op.${o}` as Key)}
                  </option>
                ))}
              </select>
              <input aria-label={t('inv.value')} value={w.value} onChange={(e) => setCond(i, { value: e.target.value })} />
              <Button small onClick={() => setWhere(where.filter((_, j) => j !== i))}>
                {t('inv.removeFilter')}
              </Button>
            </div>
          ))}
          <div className="toolbar">
            <Button small onClick={() => setWhere([...where, { column: columns[0] ?? '', op: 'eq', value: '' }])}>
              + {t('inv.addFilter')}
            </Button>
          </div>
          <ErrorBox error={rows.error} />
          {rows.isPending ? (
            <Spinner />
          ) : (
            <>
              <Table<InventoryRow> filter bulk={{ name: `inventory-${table}` }}
                rows={rows.rows}
                rowKey={(r) => `${r.pc_id}\u0000${r.key}`}
                empty={t('inv.noRows')}
                caption={table}
                cols={[
                  { key: 'pc', value: r => r.pc_id, header: t('inv.pc'), cell: (r) => <Link to={`/agents/${encodeURIComponent(r.pc_id)}`}>{r.pc_id}</Link> },
                  ...columns.map((c) => ({ key: `c-${c}`, header: c, label: c, value: (r: InventoryRow) => String(r.row?.[c] ?? ''), cell: (r: InventoryRow) => <span className="mono">{r.row?.[c] ?? ''}</span> })),
                  { key: 'updated', value: r => r.updated_at, header: t('inv.updated'), cell: (r) => <RelTime at={r.updated_at} /> },
                ]}
              />
              <Pager shown={rows.rows.length} total={rows.total} estimated={rows.estimated} hasMore={rows.hasMore} loading={rows.loadingMore} onMore={rows.more} />
            </>
          )}
        </>
      )}
    </div>
  )
}
