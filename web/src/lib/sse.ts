// Live connection to /api/events with reconnect and jittered exponential
// backoff. Timers, randomness and the EventSource constructor are injected so
// the reconnection logic is unit-tested without a browser.

export interface EventSourceLike {
  onopen: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  addEventListener(type: string, fn: (ev: { data: string }) => void): void
  close(): void
}

export type LiveStatus = 'connecting' | 'open' | 'closed'

export interface LiveOptions {
  url: () => string
  create?: (url: string) => EventSourceLike
  eventTypes: readonly string[]
  onEvent: (type: string, data: unknown) => void
  onStatus?: (s: LiveStatus) => void
  /** Called after a reconnect: events may have been missed, so refetch. */
  onResync?: () => void
  baseDelayMs?: number
  maxDelayMs?: number
  random?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (h: unknown) => void
}

/** Delay before retry number `attempt` (0-based): exponential, capped, with 50–100 % jitter. */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number): number {
  const exp = Math.min(max, base * 2 ** Math.min(attempt, 30))
  return Math.round(exp * (0.5 + random() * 0.5))
}

export class LiveConnection {
  private es: EventSourceLike | null = null
  private timer: unknown = null
  private attempt = 0
  private everOpened = false
  private stopped = true
  status: LiveStatus = 'closed'
  private o: Required<Omit<LiveOptions, 'onResync' | 'onStatus'>> & Pick<LiveOptions, 'onResync' | 'onStatus'>

  constructor(opts: LiveOptions) {
    this.o = {
      create: (u) => new EventSource(u) as unknown as EventSourceLike,
      baseDelayMs: 1000,
      maxDelayMs: 30000,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      ...opts,
    }
  }

  start() {
    if (!this.stopped) return
    this.stopped = false
    this.open()
  }

  stop() {
    this.stopped = true
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = null
    this.es?.close()
    this.es = null
    this.setStatus('closed')
  }

  /** Pending retry delay in ms, for display; null when none is scheduled. */
  retryAttempt() {
    return this.attempt
  }

  private setStatus(s: LiveStatus) {
    if (this.status === s) return
    this.status = s
    this.o.onStatus?.(s)
  }

  private open() {
    if (this.stopped) return
    this.setStatus('connecting')
    let es: EventSourceLike
    try {
      es = this.o.create(this.o.url())
    } catch {
      this.scheduleRetry()
      return
    }
    this.es = es
    es.onopen = () => {
      if (this.es !== es) return
      const wasReconnect = this.everOpened || this.attempt > 0
      this.everOpened = true
      this.attempt = 0
      this.setStatus('open')
      if (wasReconnect) this.o.onResync?.()
    }
    es.onerror = () => {
      if (this.es !== es) return
      // Take over from EventSource's own retry so backoff stays ours and a
      // revoked token does not cause a tight loop.
      es.close()
      this.es = null
      this.scheduleRetry()
    }
    for (const t of this.o.eventTypes) {
      es.addEventListener(t, (ev) => {
        if (this.es !== es) return
        let data: unknown = null
        try {
          data = JSON.parse(ev.data)
        } catch {
          return
        }
        this.o.onEvent(t, data)
      })
    }
  }

  private scheduleRetry() {
    if (this.stopped) return
    this.setStatus('closed')
    const d = backoffDelay(this.attempt, this.o.baseDelayMs, this.o.maxDelayMs, this.o.random)
    this.attempt++
    this.timer = this.o.setTimer(() => {
      this.timer = null
      this.open()
    }, d)
  }
}
