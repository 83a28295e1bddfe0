import { describe, expect, it } from 'vitest'
import { durationBetween, formatBytes, formatDuration, relativeTime } from './time'

const now = Date.parse('2026-05-01T12:00:00Z')
describe('relativeTime', () => {
  it('formats past and future', () => {
    expect(relativeTime('2026-05-01T11:57:00Z', now)).toBe('3 minutes ago')
    expect(relativeTime('2026-05-01T14:00:00Z', now)).toBe('in 2 hours')
    expect(relativeTime('2026-04-30T12:00:00Z', now)).toBe('yesterday')
    expect(relativeTime('2026-05-01T11:59:30Z', now)).toBe('30 seconds ago')
  })
  it('says now within 5 s either way', () => {
    expect(relativeTime('2026-05-01T12:00:03Z', now)).toBe('now')
    expect(relativeTime('2026-05-01T11:59:56Z', now)).toBe('now')
  })
  it('handles missing and invalid', () => {
    expect(relativeTime(null, now)).toBe('—')
    expect(relativeTime('not a date', now)).toBe('—')
  })
  it('picks the largest unit and truncates', () => {
    expect(relativeTime('2026-04-01T12:00:00Z', now)).toBe('last month')
    expect(relativeTime('2026-05-01T10:01:00Z', now)).toBe('an hour ago'.replace('an hour', '1 hour'))
  })
})

describe('formatDuration', () => {
  it('covers each range', () => {
    expect(formatDuration(850)).toBe('850ms')
    expect(formatDuration(1234)).toBe('1.2s')
    expect(formatDuration(42_000)).toBe('42s')
    expect(formatDuration(245_000)).toBe('4m 05s')
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2h 03m')
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe('3d 4h')
  })
  it('rejects nonsense', () => {
    expect(formatDuration(null)).toBe('—')
    expect(formatDuration(-1)).toBe('—')
    expect(formatDuration(Number.NaN)).toBe('—')
  })
})

describe('durationBetween', () => {
  it('uses now while a run is in flight', () => {
    expect(durationBetween('2026-05-01T11:59:00Z', null, now)).toBe(60_000)
    expect(durationBetween('2026-05-01T11:59:00Z', '2026-05-01T11:59:10Z', now)).toBe(10_000)
    expect(durationBetween(null, null, now)).toBeNull()
  })
})

describe('formatBytes', () => {
  it('scales', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(14 * 1024 * 1024)).toBe('14.0 MiB')
  })
})
