// Built-in facts and inventory history (SPEC §14), for the agent page.
import { useQuery } from '@tanstack/react-query'
import { client } from '../client'
import type { AgentFacts, InventoryChange } from '../types'
import type { QueryOpts } from './options'

export const factsKeys = {
  pc: (pc: string) => ['inventory', 'facts', pc],
  history: (pc: string) => ['inventory', 'history', pc],
}

/** One PC's latest facts, or null before its agent reported any. */
export const pcFacts = (pc: string) => client.listInventoryFacts({ pc_id: pc, limit: 1 }).then((l) => l.items[0] ?? null)
export const pcHistory = (pc: string, limit: number) => client.listInventoryHistory({ pc_id: pc, limit }).then((l) => l.items)

export function usePcFacts(pc: string, opts?: QueryOpts<AgentFacts | null>) {
  return useQuery({ queryKey: factsKeys.pc(pc), queryFn: () => pcFacts(pc), ...opts })
}

export function usePcHistory(pc: string, limit: number, opts?: QueryOpts<InventoryChange[]>) {
  return useQuery({ queryKey: factsKeys.history(pc), queryFn: () => pcHistory(pc, limit), ...opts })
}
