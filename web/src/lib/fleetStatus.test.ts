import { describe, expect, it } from 'vitest'
import { fleetStatus, stuckPending } from './fleetStatus'
import type { Execution, FleetHealth } from './types'

const h = (p: Partial<FleetHealth>): FleetHealth =>
  ({ agents_known: 3, agents_online: 3, failures_24h: 0, running_executions: 0, status: 'ok', problems: [], reasons: [], jetstream: { streams: [], kv: [], store_bytes: 0 }, ...p }) as FleetHealth

describe('fleetStatus', () => {
  it('is all green only with nothing to say', () => {
    expect(fleetStatus(h({}), 0, 0)).toMatchObject({ tone: 'ok', text: 'All green' })
  })
  it('says why: an offline PC, failures, a stuck run, open alerts', () => {
    const s = fleetStatus(h({ agents_online: 2, failures_24h: 7 }), 1, 1)
    expect(s.tone).toBe('warn')
    expect(s.reasons).toEqual(['1 PC offline', '7 failures in 24 h', '1 run stuck pending', '1 unresolved alert'])
  })
  it('is bad when the backend is degraded', () => {
    expect(fleetStatus(h({ status: 'degraded' as FleetHealth['status'] }), 0, 0)).toMatchObject({ tone: 'bad', text: 'backend degraded' })
  })
})

describe('stuckPending', () => {
  it('counts pending runs older than five minutes', () => {
    const now = Date.parse('2026-05-20T12:00:00Z')
    const e = (at: string, status = 'pending') => ({ status, initiated_at: at }) as Execution
    expect(stuckPending([e('2026-05-20T11:50:00Z'), e('2026-05-20T11:58:00Z'), e('2026-05-20T11:00:00Z', 'running')], now)).toBe(1)
  })
})
