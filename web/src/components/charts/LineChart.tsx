// A line chart over time on uPlot (canvas; ~50 KB, the dashboard's one chart
// library, also meant for the fleet history charts). Loaded lazily through
// ./index.tsx so pages without a chart do not pay for it. Colours come from
// the theme's CSS variables and follow a theme switch.
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { useTheme } from '../../lib/theme'
import { locale, t } from '../../i18n'
import type { Series } from './series'

export type LineChartProps = {
  series: Series
  /** Fixed y range (e.g. [0, 100] for a percentage); else from the data. */
  yRange?: [number, number]
  /** Formats a y value for the axis and the legend. */
  yFormat?: (v: number) => string
  height?: number
  label: string
  /** One point per UTC day: ticks on whole days, labelled by date. */
  daily?: boolean
  /** Stacked bars (the lines' values are added up, first at the bottom) instead of lines. */
  bars?: boolean
}

const DAY = 86_400

const cssVar = (name: string, fallback: string) =>
  (typeof document !== 'undefined' && getComputedStyle(document.documentElement).getPropertyValue(name).trim()) || fallback

/** The drawn values of stacked series: each line is the sum of itself and those before it. */
export function stack(lines: readonly (number | null)[][]): number[][] {
  const out: number[][] = []
  lines.forEach((vs, i) => out.push(vs.map((v, j) => (v ?? 0) + (i ? out[i - 1][j] : 0))))
  return out
}

export default function LineChart({ series, yRange, yFormat = (v) => String(v), height = 200, label, daily, bars }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null)
  // Redraw in the new colours when the theme changes (lib/theme.ts sets data-theme on <html>).
  useTheme()
  const theme = typeof document !== 'undefined' ? document.documentElement.dataset.theme : ''
  useEffect(() => {
    const el = box.current
    if (!el) return
    // Dates and times in the dashboard's language (axis ticks and legend).
    const dayFmt = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' })
    const timeFmt = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' })
    const fmtX = (v: number) => (daily ? dayFmt : timeFmt).format(v * 1000)
    const text = cssVar('--muted', '#5d6673')
    const grid = cssVar('--border', '#dde1e7')
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
      axes: [
        daily
          ? { ...axis, incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY], space: 60, values: (_u, vals) => vals.map(fmtX) }
          : { ...axis, space: 70, values: (_u, vals) => vals.map(fmtX) },
        { ...axis, values: (_u, vals) => vals.map((v) => yFormat(v)), size: 56 },
      ],
      series: [
        { label: t('common.when'), value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmtX(v)) },
        ...series.lines.map((l) =>
          bars
            ? {
                label: l.label,
                stroke: cssVar(l.color, '#15803d'),
                fill: cssVar(l.color, '#15803d'),
                width: 0,
                paths: uPlot.paths.bars!({ size: [0.7, 40], align: 0 }),
                points: { show: false },
                // The legend shows the line's own count, not the stacked height.
                value: (_u: uPlot, _v: number | null, _si: number, i: number | null) => (i === null ? '—' : yFormat(l.values[i] ?? 0)),
              }
            : {
                label: l.label,
                stroke: cssVar(l.color, '#15803d'),
                width: 2,
                points: { show: series.x.length <= 60, size: 5 },
                value: (_u: uPlot, v: number | null) => (v === null ? '—' : yFormat(v)),
                spanGaps: false,
              },
        ),
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    }
    // Stacked bars: draw the tallest (the sum of all) first so each lower
    // part paints over it; uPlot draws series in order.
    const stacked = bars ? stack(series.lines.map((l) => l.values)) : null
    if (bars) opts.series = [opts.series[0], ...opts.series.slice(1).reverse()]
    const data = (stacked ? [series.x, ...stacked.reverse()] : [series.x, ...series.lines.map((l) => l.values)]) as uPlot.AlignedData
    if (bars) opts.scales!.y = { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] }
    if (bars) opts.scales!.x = { time: true, range: (_u, min, max) => [min - DAY / 2, max + DAY / 2] }
    const plot = new uPlot(opts, data, el)
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      plot.destroy()
    }
  }, [series, yRange, yFormat, height, theme, daily, bars])
  return <div ref={box} className="line-chart" role="img" aria-label={label} />
}
