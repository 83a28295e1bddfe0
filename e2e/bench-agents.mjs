// Measures the Agents page with a large fleet: first paint, time to the first
// rows, and frame times while scrolling the virtualised list end to end.
//   go run ./e2e/fakefleet -nats nats://127.0.0.1:4222 -n 10000 -every 60s &
//   KANADE_URL=http://127.0.0.1:8080 node bench-agents.mjs
import { BASE, api, context, launch } from './lib.mjs'

const { headers } = await api('/api/agents?limit=1')
const total = Number(headers.get('x-total-count'))
const browser = await launch()
const runs = []
try {
  for (let i = 0; i < 3; i++) {
    const ctx = await context(browser, { theme: 'light' })
    const page = await ctx.newPage()
    const t0 = Date.now()
    await page.goto(BASE + '/agents')
    await page.locator('.vrow:not(.vhead):not(.skeleton)').first().waitFor({ timeout: 60_000 })
    const firstRows = Date.now() - t0
    const paint = await page.evaluate(() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0]
      return p ? p.startTime : null
    })
    const domRows = await page.locator('.vrow').count()
    // Scroll continuously: 600 px per frame, recording frame intervals.
    const scroll = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const el = document.querySelector('.agents-list')
          const frames = []
          let last = performance.now()
          const start = last
          const step = () => {
            const now = performance.now()
            frames.push(now - last)
            last = now
            el.scrollTop += 600
            if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1 || frames.length > 2000) {
              resolve({ frames, ms: now - start, height: el.scrollHeight })
            } else requestAnimationFrame(step)
          }
          requestAnimationFrame(step)
        }),
    )
    // After a jump to the end, how long until real rows replace placeholders?
    const t1 = Date.now()
    await page.locator('.vrow:not(.vhead):not(.skeleton)').last().waitFor({ timeout: 60_000 })
    await page.waitForFunction(() => document.querySelectorAll('.vrow.skeleton').length === 0, null, { timeout: 60_000 })
    const endFill = Date.now() - t1
    const f = scroll.frames.slice(1).sort((a, b) => a - b)
    const pct = (p) => f[Math.min(f.length - 1, Math.floor(f.length * p))]
    runs.push({ firstRows, paint, domRows, scrollMs: Math.round(scroll.ms), frames: f.length, p50: pct(0.5), p95: pct(0.95), max: f.at(-1), endFill })
    await ctx.close()
  }
} finally {
  await browser.close()
}
const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]
console.log(JSON.stringify({ total, runs }, null, 1))
console.log(`\n| agents | first contentful paint | first rows visible | DOM rows | scroll top→bottom | frames | frame p50 | frame p95 | frame max | rows filled after jump to end |`)
console.log(`|---|---|---|---|---|---|---|---|---|---|`)
console.log(
  `| ${total} | ${Math.round(med('paint'))} ms | ${med('firstRows')} ms | ${med('domRows')} | ${med('scrollMs')} ms | ${med('frames')} | ${med('p50').toFixed(1)} ms | ${med('p95').toFixed(1)} ms | ${med('max').toFixed(1)} ms | ${med('endFill')} ms |`,
)
