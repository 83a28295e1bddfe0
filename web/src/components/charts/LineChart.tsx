// A line chart over time on uPlot (canvas; ~50 KB, the dashboard's one chart
// library, also meant for the fleet history charts). Loaded lazily through
// ./index.tsx so pages without a chart do not pay for it. Colours come from
// the theme's CSS variables and follow a theme switch.
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { useTheme } from '../../lib/theme'
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
}

const DAY = 86_400
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })

const cssVar = (name: string, fallback: string) =>
  (typeof document !== 'undefined' && getComputedStyle(document.documentElement).getPropertyValue(name).trim()) || fallback

export default function LineChart({ series, yRange, yFormat = (v) => String(v), height = 200, label, daily }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null)
  // Redraw in the new colours when the theme changes (lib/theme.ts sets data-theme on <html>).
  useTheme()
  const theme = typeof document !== 'undefined' ? document.documentElement.dataset.theme : ''
  useEffect(() => {
    const el = box.current
    if (!el) return
    const text = cssVar('--muted', '#5d6673')
    const grid = cssVar('--border', '#dde1e7')
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
      axes: [
        daily ? { ...axis, incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY], space: 60, values: (_u, vals) => vals.map((v) => dayFmt.format(v * 1000)) } : axis,
        { ...axis, values: (_u, vals) => vals.map((v) => yFormat(v)), size: 56 },
      ],
      series: [
        daily ? { value: (_u: uPlot, v: number | null) => (v === null ? '—' : dayFmt.format(v * 1000)) } : {},
        ...series.lines.map((l) => ({
          label: l.label,
          stroke: cssVar(l.color, '#15803d'),
          width: 2,
          points: { show: series.x.length <= 60, size: 5 },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : yFormat(v)),
          spanGaps: false,
        })),
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    }
    const data = [series.x, ...series.lines.map((l) => l.values)] as uPlot.AlignedData
    const plot = new uPlot(opts, data, el)
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      plot.destroy()
    }
  }, [series, yRange, yFormat, height, theme, daily])
  return <div ref={box} className="line-chart" role="img" aria-label={label} />
}
