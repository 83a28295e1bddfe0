// What the header badge and the dashboard say about the fleet (SPEC §17
// "Honest health"): "all green" only when the backend is ok, every PC is
// online, nothing failed in the last 24 h, no run is stuck pending and no
// alert is open; otherwise each reason, worst first.
import type { Execution, FleetHealth } from './types'
import { t } from '../i18n'

/** A pending run older than this is stuck (the agents are told at once; waves have their own state). */
export const STUCK_PENDING_MS = 5 * 60_000

export type FleetStatus = { tone: 'ok' | 'warn' | 'bad' | 'muted'; reasons: string[]; text: string }

export function stuckPending(pending: readonly Execution[] | undefined, now: number): number {
  return (pending ?? []).filter((e) => e.status === 'pending' && now - Date.parse(e.initiated_at) > STUCK_PENDING_MS).length
}

export function fleetStatus(h: FleetHealth | undefined, openAlerts: number, stuck: number): FleetStatus {
  if (!h) return { tone: 'muted', reasons: [], text: t('common.loading') }
  const reasons: string[] = []
  let tone: FleetStatus['tone'] = 'ok'
  if (h.status !== 'ok') {
    reasons.push(t('hs.degraded'))
    tone = 'bad'
  }
  const offline = Math.max(0, h.agents_known - h.agents_online)
  if (offline) reasons.push(t('hs.offline', { count: offline }))
  if (h.failures_24h) reasons.push(t('hs.failures', { count: h.failures_24h }))
  if (stuck) reasons.push(t('hs.pending', { count: stuck }))
  if (openAlerts) reasons.push(t('hs.alerts', { count: openAlerts }))
  if (reasons.length && tone === 'ok') tone = 'warn'
  if (!reasons.length && h.agents_known === 0) return { tone: 'muted', reasons, text: t('hs.noAgents') }
  return { tone, reasons, text: reasons.length ? reasons.join(' · ') : t('hs.ok') }
}
