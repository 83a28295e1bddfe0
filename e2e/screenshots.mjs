// Takes the README screenshots: every page in light and dark at desktop size,
// and the agents page at phone size. Needs a running backend with some data.
//   KANADE_URL=http://127.0.0.1:8080 KANADE_TOKEN=... node screenshots.mjs
import { mkdirSync } from 'node:fs'
import { BASE, api, context, launch } from './lib.mjs'

const out = new URL('../docs/screenshots/', import.meta.url).pathname
mkdirSync(out, { recursive: true })

async function firstId(path, key) {
  try {
    const { json } = await api(path)
    return json?.[0]?.[key] ?? ''
  } catch {
    return ''
  }
}

const pc = await firstId('/api/agents?limit=1&sort=pc_id', 'pc_id')
const result = await firstId('/api/results?limit=1&status=success', 'result_id')
const exec = await firstId('/api/executions?limit=1', 'exec_id')
const pages = [
  ['dashboard', '/'],
  ['agents', '/agents'],
  ['agent-detail', pc ? `/agents/${encodeURIComponent(pc)}` : ''],
  ['jobs', '/jobs'],
  ['activity', '/activity'],
  ['execution', exec ? `/activity/exec/${encodeURIComponent(exec)}` : ''],
  ['result', result ? `/activity/result/${encodeURIComponent(result)}` : ''],
  ['run', '/run'],
  ['schedules', '/schedules'],
  ['groups-config', '/groups'],
  ['audit', '/audit'],
].filter(([, p]) => p)

const browser = await launch()
try {
  for (const theme of ['light', 'dark']) {
    const ctx = await context(browser, { theme })
    const page = await ctx.newPage()
    for (const [name, path] of pages) {
      await page.goto(BASE + path)
      await page.waitForLoadState('networkidle').catch(() => {})
      await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {})
      await page.screenshot({ path: `${out}${name}-${theme}.png` })
      console.log(`${name}-${theme}.png`)
    }
    await ctx.close()
  }
  const phone = await context(browser, { theme: 'light', viewport: { width: 390, height: 844 } })
  const p = await phone.newPage()
  for (const [name, path] of [['agents', '/agents'], ['dashboard', '/']]) {
    await p.goto(BASE + path)
    await p.waitForLoadState('networkidle').catch(() => {})
    await p.screenshot({ path: `${out}${name}-phone.png` })
    console.log(`${name}-phone.png`)
  }
  await phone.close()
} finally {
  await browser.close()
}
