// Inventory job tables (SPEC §14): the tables inventory jobs fill, and one
// table's rows across PCs with where=column:op:value filters.
import { useQuery } from '@tanstack/react-query'
import { requestOf } from '../api'
import { client } from '../client'
import type { InventoryRow, InventoryRowQuery, InventoryTable } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const inventoryOps = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'contains'] as const
export type InventoryOp = (typeof inventoryOps)[number]
export interface InventoryCond {
  column: string
  op: InventoryOp
  value: string
}
export interface InventoryFilter {
  q: string
  where: InventoryCond[]
}

export const inventoryTableKeys = {
  tables: () => ['inventory', 'tables'],
  rows: (table: string, qs: string) => ['inventory', 'rows', table, qs],
}

/** The API query of a filter (conditions with an empty column or value are left out). */
export function inventoryQuery(f: InventoryFilter, limit: number): InventoryRowQuery {
  const where = f.where.filter((c) => c.column && c.value !== '').map((c) => `${c.column}:${c.op}:${c.value}`)
  return { q: f.q || undefined, where: where.length ? where : undefined, limit } as InventoryRowQuery
}

/** The same rows as CSV (the API's ?format=csv, streamed), for ExportCSV. */
export const inventoryExport = (table: string, f: InventoryFilter) =>
  requestOf((api) => api.listInventoryRows(table, inventoryQuery(f, 0)))

export function useInventoryTables(opts?: QueryOpts<InventoryTable[]>) {
  return useQuery({ queryKey: inventoryTableKeys.tables(), queryFn: () => client.listInventoryTables().then((l) => l ?? []), ...opts })
}

export function useInventoryRows(table: string, f: InventoryFilter, limit: number, opts?: PagedOpts) {
  const p = inventoryQuery(f, limit)
  return usePagedList<InventoryRow>(
    inventoryTableKeys.rows(table, JSON.stringify(p)),
    (cursor, signal) => client.listInventoryRows(table, { ...p, cursor }, { signal }),
    { enabled: !!table, ...opts },
  )
}
