// End-to-end: "Export CSV" on the Agents, Activity and Audit pages downloads
// the backend's CSV of the list as filtered (docs/operations.md, "Exporting lists as CSV").
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

let browser, ctx, page

before(async () => {
  await apiLogin()
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
})

/** Clicks Export CSV on path and returns the downloaded file's name and lines. */
async function exportFrom(path) {
  await page.goto(BASE + path)
  const button = page.getByTestId('export-csv')
  await button.waitFor()
  await page.waitForFunction(() => !document.querySelector('[data-testid="export-csv"]')?.disabled)
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()])
  const chunks = []
  for await (const c of await download.createReadStream()) chunks.push(c)
  const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n')
  return { name: download.suggestedFilename(), lines }
}

describe('csv export', () => {
  test('agents: the filtered list, header first', async () => {
    const { name, lines } = await exportFrom('/agents?status=online')
    assert.equal(name, 'agents.csv')
    assert.match(lines[0], /^pc_id,hostname,/)
    assert.ok(lines.length >= 3, `two online agents at least, got ${lines.length - 1} rows`)
    assert.ok(lines.slice(1).every((l) => /,true,/.test(l)), 'an offline agent in the online export')
  })

  test('audit and results', async () => {
    // One ad-hoc run: a result, and its audit entry.
    const online = await waitFor('an online agent', async () => (await api('/api/agents?status=online&limit=1000')).json)
    const pc = process.env.KANADE_E2E_PC ?? online.find((a) => a.os_family !== 'windows')?.pc_id ?? online[0].pc_id
    await api('/api/run', { method: 'POST', body: { pc_id: pc, shell: 'sh', script: 'echo csv' } })
    const audit = await exportFrom('/audit?since=30d')
    assert.equal(audit.name, 'audit.csv')
    assert.match(audit.lines[0], /^id,/)
    const res = await exportFrom('/activity?since=30d')
    assert.equal(res.name, 'results.csv')
    assert.match(res.lines[0], /^result_id,request_id,exec_id,pc_id,/)
  })
})
