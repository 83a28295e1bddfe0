// Bridges /api/events to TanStack Query: events invalidate (or patch) the
// cached queries they affect, batched so a burst of heartbeats triggers one
// refetch. While the stream is down, queries poll as a fallback.
import { QueryClient, type QueryKey } from '@tanstack/react-query'
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react'
import { getToken } from './auth'
import { agentKeys } from './queries/agents'
import { alertKeys, checkKeys } from './queries/checks'
import { eventsURL } from './queries/events'
import { executionKeys, patchExecution } from './queries/executions'
import { factsKeys } from './queries/facts'
import { healthKeys } from './queries/health'
import { resultKeys } from './queries/results'
import { scheduleKeys } from './queries/schedules'
import { LiveConnection, type LiveStatus } from './sse'
import type { Execution } from './types'

export const eventTypes = ['agent', 'started', 'result', 'execution', 'schedule', 'inventory', 'alert'] as const
export const FALLBACK_REFRESH_MS = 30_000

const LiveCtx = createContext<LiveStatus>('closed')
export const useLiveStatus = () => useContext(LiveCtx)

/** refetchInterval to use on a query: none while live, polling while not. */
export function useFallbackInterval(ms = FALLBACK_REFRESH_MS): number | false {
  return useLiveStatus() === 'open' ? false : ms
}

type Ev = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : '')

/** Which query keys one event makes stale. Pure, so it is unit-tested. */
export function keysForEvent(type: string, d: Ev): QueryKey[] {
  switch (type) {
    case 'agent':
      return [agentKeys.all(), agentKeys.one(str(d.pc_id)), healthKeys.fleet(), agentKeys.counts()]
    case 'started':
    case 'result':
      return [resultKeys.all(), resultKeys.one(str(d.result_id)), executionKeys.one(str(d.exec_id)), executionKeys.all(), healthKeys.fleet(), checkKeys.all()]
    case 'execution':
      return [executionKeys.all(), executionKeys.one(str(d.exec_id)), healthKeys.fleet()]
    case 'schedule':
      return [scheduleKeys.all(), executionKeys.all()]
    case 'inventory':
      return [factsKeys.pc(str(d.pc_id)), factsKeys.history(str(d.pc_id))]
    case 'alert':
      // An alert opened, resolved or was acked: the badge, the lists and the check counts.
      return [alertKeys.all(), checkKeys.all()]
    default:
      return []
  }
}

export function createLiveBridge(qc: QueryClient, onStatus: (s: LiveStatus) => void) {
  const pending = new Map<string, QueryKey>()
  let timer: ReturnType<typeof setTimeout> | null = null
  let agentTimer: ReturnType<typeof setTimeout> | null = null

  const flush = () => {
    timer = null
    for (const key of pending.values()) qc.invalidateQueries({ queryKey: key })
    pending.clear()
  }
  const add = (keys: QueryKey[]) => {
    for (const k of keys) pending.set(JSON.stringify(k), k)
    if (!timer) timer = setTimeout(flush, 400)
  }

  const conn = new LiveConnection({
    url: () => eventsURL(getToken()),
    eventTypes,
    onStatus,
    onResync: () => qc.invalidateQueries(),
    onEvent: (type, data) => {
      const d = (data ?? {}) as Ev
      if (type === 'execution') {
        // Patch progress in place so bars move without a round trip.
        patchExecution(qc, str(d.exec_id), d as Partial<Execution>)
      }
      if (type === 'agent') {
        // Heartbeats of a large fleet arrive constantly: refresh agent lists
        // at most every 3 s.
        if (!agentTimer)
          agentTimer = setTimeout(() => {
            agentTimer = null
            add(keysForEvent('agent', {}).filter((k) => k.length === 1))
          }, 3000)
        qc.invalidateQueries({ queryKey: agentKeys.one(str(d.pc_id)) })
        return
      }
      add(keysForEvent(type, d))
    },
  })
  return conn
}

export function LiveProvider({ qc, enabled, children }: { qc: QueryClient; enabled: boolean; children: ReactNode }) {
  const [status, setStatus] = useState<LiveStatus>('closed')
  useEffect(() => {
    if (!enabled) return
    const conn = createLiveBridge(qc, setStatus)
    conn.start()
    return () => conn.stop()
  }, [qc, enabled])
  return <LiveCtx.Provider value={status}>{children}</LiveCtx.Provider>
}
