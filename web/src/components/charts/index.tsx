// The charts, loaded on first use: uPlot is a chunk of its own, fetched
// only by pages that draw a chart.
import { lazy, Suspense } from 'react'
import { Spinner } from '../ui'
import type { LineChartProps } from './LineChart'

const Lazy = lazy(() => import('./LineChart'))

export function LineChart(props: LineChartProps) {
  return (
    <Suspense fallback={<Spinner />}>
      <Lazy {...props} />
    </Suspense>
  )
}
export type { LineChartProps }
export { execSeries, onlineSeries, pctRange, trendSeries, type Series } from './series'
