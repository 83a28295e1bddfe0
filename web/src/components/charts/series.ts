// Pure helpers of the charts (tested in series.test.ts): the data a
// line chart draws, built from API rows without touching the DOM.
import type { AgentsOnlinePoint, CheckTrendDay, ExecStatsDay } from '../../lib/types'

/** One line of a chart: a label, a CSS colour variable and its y values. */
export type Line = { label: string; color: string; values: (number | null)[] }

/** A chart's data: x as Unix seconds (UTC) and one or more lines. */
export type Series = { x: number[]; lines: Line[] }

/** The Unix seconds of a UTC day "YYYY-MM-DD" (noon, so the point sits mid-day); NaN when malformed. */
export function dayToUnix(day: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(day)
  if (!m) return NaN
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12) / 1000
}

/**
 * A check's trend as a chart: % passing per day. A day on which the check
 * had no PC (0 passing, failing and unknown) has no point rather than 0 %,
 * so the line does not dive before the check first reported.
 */
export function trendSeries(days: readonly CheckTrendDay[], label: string): Series {
  const rows = days.filter((d) => Number.isFinite(dayToUnix(d.day)))
  return {
    x: rows.map((d) => dayToUnix(d.day)),
    lines: [{ label, color: '--ok', values: rows.map((d) => (d.passing + d.failing + d.unknown > 0 ? d.passing_pct : null)) }],
  }
}

/** The lowest and highest % of a trend (for a summary line); null when it has no point. */
export function pctRange(s: Series): { min: number; max: number } | null {
  const vs = s.lines.flatMap((l) => l.values).filter((v): v is number => v !== null)
  if (!vs.length) return null
  return { min: Math.min(...vs), max: Math.max(...vs) }
}

/** Runs per day by outcome as stacked bars: ok at the bottom, then failed, then other. */
export function execSeries(days: readonly ExecStatsDay[], labels: { ok: string; failed: string; other: string }): Series {
  const rows = days.filter((d) => Number.isFinite(dayToUnix(d.day)))
  return {
    x: rows.map((d) => dayToUnix(d.day)),
    lines: [
      { label: labels.ok, color: '--ok', values: rows.map((d) => d.ok) },
      { label: labels.failed, color: '--bad', values: rows.map((d) => d.failed) },
      { label: labels.other, color: '--skip', values: rows.map((d) => d.other) },
    ],
  }
}

/** PCs known and online per hour as two lines. */
export function onlineSeries(points: readonly AgentsOnlinePoint[], labels: { known: string; online: string }): Series {
  const rows = points.filter((p) => Number.isFinite(Date.parse(p.at)))
  return {
    x: rows.map((p) => Date.parse(p.at) / 1000),
    lines: [
      { label: labels.known, color: '--muted', values: rows.map((p) => p.known) },
      { label: labels.online, color: '--ok', values: rows.map((p) => p.online) },
    ],
  }
}
