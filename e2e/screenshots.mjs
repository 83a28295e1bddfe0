// Takes the README screenshots (docs/screenshots/): every page in light and
// dark at 1280x800 in English, a few pages in Japanese, the job editor with a
// validation error at its line, and the agents page at phone size. Needs a
// running backend with some data.
//   KANADE_URL=http://127.0.0.1:8080 KANADE_TOKEN=... node screenshots.mjs
import { mkdirSync } from 'node:fs'
import { BASE, api, apiLogin, context, fillCode, launch, session, waitFor } from './lib.mjs'

const out = new URL('../docs/screenshots/', import.meta.url).pathname
mkdirSync(out, { recursive: true })
await apiLogin()

async function firstId(path, key) {
  try {
    const { json } = await api(path)
    return json?.[0]?.[key] ?? ''
  } catch {
    return ''
  }
}

// SEED=1 registers two demo jobs, puts the first online agent in "canary",
// and runs them once, so the pages have something to show (dev backends only).
if (process.env.SEED === '1') {
  const { json: online } = await api('/api/agents?status=online&sort=pc_id&limit=1000')
  const target = online.find((a) => a.pc_id === process.env.KANADE_E2E_PC) ?? online.find((a) => a.os_family !== 'windows') ?? online[0]
  await api(`/api/agents/${encodeURIComponent(target.pc_id)}/groups`, { method: 'POST', body: { group: 'canary' } }).catch(() => {})
  // Give the agent time to subscribe to the group's subject before sending to it.
  await waitFor('membership', async () => (await api(`/api/agents/${encodeURIComponent(target.pc_id)}`)).json.groups?.includes('canary'))
  await new Promise((r) => setTimeout(r, 2000))
  const job = (id, desc, tags, script) =>
    `id: ${id}\nversion: 1.2.0\ndescription: ${desc}\ntags: [${tags}]\nexecute:\n  shell: sh\n  script: |\n    ${script}\n  timeout: 120s\n`
  for (const [id, desc, tags, script] of [
    ['disk-report', 'Report free disk space', 'inventory, hygiene', 'df -h / | tail -1'],
    ['clean-tmp', 'Remove stale files from /tmp', 'hygiene', 'find /tmp -maxdepth 1 -name "kanade-demo-*" -mtime +7 -print'],
    ['uptime', 'Uptime and load', 'inventory', 'uptime'],
  ]) {
    await api('/api/jobs', { method: 'POST', body: job(id, desc, tags, script), contentType: 'application/yaml' })
  }
  for (const id of ['disk-report', 'clean-tmp', 'uptime']) {
    await api(`/api/exec/${id}`, { method: 'POST', body: { target: { pcs: [target.pc_id] } } })
  }
  for (const [id, job, cron] of [['nightly-disk-report', 'disk-report', '0 2 * * *'], ['hourly-uptime', 'uptime', '0 * * * *']]) {
    await api('/api/schedules', { method: 'POST', body: `id: ${id}\njob_id: ${job}\nenabled: true\ntz: utc\ncron: "${cron}"\ntarget:\n  groups: [canary]\njitter: 5m\n`, contentType: 'application/yaml' }).catch((e) => console.warn(String(e)))
  }
  await new Promise((r) => setTimeout(r, 3000))
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
  ['enrollment', '/enrollment'],
  ['inventory', '/inventory'],
  ['compliance', '/compliance'],
  ['alerts', '/alerts?state=resolved'],
  ['add-pcs', '/add-pcs'],
  ['releases', '/releases'],
  ['rollout', '/rollout'],
  ['notifications', '/notifications'],
  ['accounts', '/accounts'],
  ['tokens', '/tokens'],
  ['security', '/security'],
].filter(([, p]) => p)
const japanese = ['dashboard', 'agents', 'activity', 'audit', 'compliance']
const viewport = { width: 1280, height: 800 }

async function shoot(page, path, file) {
  await page.goto(BASE + path)
  await page.waitForLoadState('networkidle').catch(() => {})
  await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {})
  await page.locator('main h1').first().waitFor().catch(() => {})
  await page.screenshot({ path: `${out}${file}` })
  console.log(file)
}

const browser = await launch()
try {
  for (const theme of ['light', 'dark']) {
    const ctx = await context(browser, { theme, viewport, token: session.token })
    const page = await ctx.newPage()
    for (const [name, path] of pages) await shoot(page, path, `${name}-${theme}.png`)
    if (theme === 'light') {
      // The code editor with a validation error marked at its line.
      await page.goto(BASE + '/jobs')
      await page.getByRole('button', { name: /New job/ }).click()
      await fillCode(page.locator('dialog[open]'), 'id: broken-job\nversion: 1.0.0\nexecute:\n  shell: sh\n  script: echo hi\n  timeout: 10 parsecs\n')
      await page.locator('dialog[open]').getByRole('button', { name: 'Save' }).click()
      await page.locator('dialog[open] [role=alert]').waitFor().catch(() => {})
      await page.locator('.cm-lintRange-error').first().waitFor().catch(() => {})
      await page.screenshot({ path: `${out}jobs-yaml-error-light.png` })
      console.log('jobs-yaml-error-light.png')
    }
    await ctx.close()
  }
  for (const theme of ['light', 'dark']) {
    const ctx = await context(browser, { theme, viewport, token: session.token, lang: 'ja', locale: 'ja-JP' })
    const page = await ctx.newPage()
    for (const [name, path] of pages.filter(([n]) => japanese.includes(n))) await shoot(page, path, `${name}-ja-${theme}.png`)
    await ctx.close()
  }
  const phone = await context(browser, { theme: 'light', viewport: { width: 390, height: 844 }, token: session.token })
  const p = await phone.newPage()
  for (const [name, path] of [['agents', '/agents'], ['dashboard', '/']]) await shoot(p, path, `${name}-phone.png`)
  await phone.close()
} finally {
  await browser.close()
}
