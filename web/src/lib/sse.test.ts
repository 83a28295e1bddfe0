import { describe, expect, it } from 'vitest'
import { backoffDelay, LiveConnection, type EventSourceLike, type LiveStatus } from './sse'

class FakeES implements EventSourceLike {
  onopen: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  closed = false
  listeners = new Map<string, (ev: { data: string }) => void>()
  constructor(public url: string) {}
  addEventListener(type: string, fn: (ev: { data: string }) => void) {
    this.listeners.set(type, fn)
  }
  close() {
    this.closed = true
  }
  emit(type: string, data: string) {
    this.listeners.get(type)?.({ data })
  }
}

function harness(random = () => 0.5) {
  const sources: FakeES[] = []
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = []
  const events: [string, unknown][] = []
  const statuses: LiveStatus[] = []
  let resyncs = 0
  let token = 't1'
  const conn = new LiveConnection({
    url: () => `/api/events?access_token=${token}`,
    create: (u) => {
      const es = new FakeES(u)
      sources.push(es)
      return es
    },
    eventTypes: ['agent', 'result'],
    onEvent: (t, d) => events.push([t, d]),
    onStatus: (s) => statuses.push(s),
    onResync: () => resyncs++,
    random,
    baseDelayMs: 1000,
    maxDelayMs: 30000,
    setTimer: (fn, ms) => {
      const h = { fn, ms, cleared: false }
      timers.push(h)
      return h
    },
    clearTimer: (h) => {
      ;(h as { cleared: boolean }).cleared = true
    },
  })
  const fire = () => {
    const t = timers.filter((x) => !x.cleared).pop()!
    t.cleared = true
    t.fn()
  }
  return { conn, sources, timers, events, statuses, resyncs: () => resyncs, setToken: (t: string) => (token = t), fire }
}

describe('backoffDelay', () => {
  it('doubles, caps and jitters between 50 and 100 %', () => {
    expect(backoffDelay(0, 1000, 30000, () => 1)).toBe(1000)
    expect(backoffDelay(0, 1000, 30000, () => 0)).toBe(500)
    expect(backoffDelay(3, 1000, 30000, () => 1)).toBe(8000)
    expect(backoffDelay(10, 1000, 30000, () => 1)).toBe(30000)
    expect(backoffDelay(1000, 1000, 30000, () => 0)).toBe(15000)
  })
})

describe('LiveConnection', () => {
  it('connects, parses events and drops malformed data', () => {
    const h = harness()
    h.conn.start()
    expect(h.statuses).toEqual(['connecting'])
    const es = h.sources[0]
    expect(es.url).toBe('/api/events?access_token=t1')
    es.onopen!({})
    expect(h.conn.status).toBe('open')
    es.emit('agent', '{"pc_id":"pc-1","online":true}')
    es.emit('result', 'not json')
    expect(h.events).toEqual([['agent', { pc_id: 'pc-1', online: true }]])
    expect(h.resyncs()).toBe(0)
  })

  it('reconnects with growing delays, a fresh token, and resyncs after reconnecting', () => {
    const h = harness()
    h.conn.start()
    h.sources[0].onopen!({})
    h.sources[0].onerror!({})
    expect(h.sources[0].closed).toBe(true)
    expect(h.conn.status).toBe('closed')
    expect(h.timers.at(-1)!.ms).toBe(750) // 1000 * (0.5 + 0.5*0.5)
    h.setToken('t2')
    h.fire()
    expect(h.sources[1].url).toBe('/api/events?access_token=t2')
    h.sources[1].onerror!({})
    expect(h.timers.at(-1)!.ms).toBe(1500)
    h.fire()
    h.sources[2].onerror!({})
    expect(h.timers.at(-1)!.ms).toBe(3000)
    h.fire()
    h.sources[3].onopen!({})
    expect(h.resyncs()).toBe(1)
    // A successful open resets the backoff.
    h.sources[3].onerror!({})
    expect(h.timers.at(-1)!.ms).toBe(750)
  })

  it('caps the delay', () => {
    const h = harness(() => 1)
    h.conn.start()
    for (let i = 0; i < 12; i++) {
      h.sources.at(-1)!.onerror!({})
      h.fire()
    }
    expect(h.timers.at(-1)!.ms).toBe(30000)
  })

  it('ignores callbacks from a replaced source and stops cleanly', () => {
    const h = harness()
    h.conn.start()
    const old = h.sources[0]
    old.onerror!({})
    h.fire()
    old.emit('agent', '{}')
    old.onopen!({})
    expect(h.events).toEqual([])
    expect(h.conn.status).toBe('connecting')
    h.conn.stop()
    expect(h.sources[1].closed).toBe(true)
    expect(h.conn.status).toBe('closed')
    h.sources[1].onerror!({})
    expect(h.timers.filter((t) => !t.cleared)).toEqual([])
  })

  it('retries when the constructor throws', () => {
    let calls = 0
    const timers: (() => void)[] = []
    const conn = new LiveConnection({
      url: () => '/x',
      create: () => {
        calls++
        throw new Error('boom')
      },
      eventTypes: [],
      onEvent: () => {},
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => {},
    })
    conn.start()
    expect(calls).toBe(1)
    timers[0]()
    expect(calls).toBe(2)
  })
})
