import { describe, expect, it } from 'vitest'
import { dayToUnix, execSeries, onlineSeries, pctRange, trendSeries } from './series'

const day = (d: string, passing: number, failing: number, unknown = 0) => ({
  day: d,
  passing,
  failing,
  unknown,
  passing_pct: passing + failing + unknown ? Math.round((1000 * passing) / (passing + failing + unknown)) / 10 : 0,
})

describe('trendSeries', () => {
  it('maps days to mid-day UTC and % passing', () => {
    const s = trendSeries([day('2026-05-19', 3, 1), day('2026-05-20', 4, 0)], 'passing')
    expect(s.x).toEqual([Date.UTC(2026, 4, 19, 12) / 1000, Date.UTC(2026, 4, 20, 12) / 1000])
    expect(s.lines).toHaveLength(1)
    expect(s.lines[0].values).toEqual([75, 100])
  })

  it('leaves a gap where the check had no PC, and drops malformed days', () => {
    const s = trendSeries([day('2026-05-18', 0, 0), day('bogus', 1, 0), day('2026-05-20', 1, 1)], 'p')
    expect(s.x).toHaveLength(2)
    expect(s.lines[0].values).toEqual([null, 50])
    expect(pctRange(s)).toEqual({ min: 50, max: 50 })
  })

  it('has no range without points', () => {
    expect(pctRange(trendSeries([day('2026-05-18', 0, 0)], 'p'))).toBeNull()
    expect(dayToUnix('2026-5-1')).toBeNaN()
  })
})

describe('execSeries and onlineSeries', () => {
  it('builds one bar per day and one point per hour', () => {
    const s = execSeries([{ day: '2026-05-19', ok: 3, failed: 1, other: 0 }, { day: 'bad', ok: 1, failed: 0, other: 0 }], { ok: 'ok', failed: 'failed', other: 'other' })
    expect(s.x).toEqual([dayToUnix('2026-05-19')])
    expect(s.lines.map((l) => l.values)).toEqual([[3], [1], [0]])
    const o = onlineSeries([{ at: '2026-05-20T10:00:00Z', known: 3, online: 2 }], { known: 'k', online: 'o' })
    expect(o.x).toEqual([Date.parse('2026-05-20T10:00:00Z') / 1000])
    expect(o.lines[1].values).toEqual([2])
  })
})
