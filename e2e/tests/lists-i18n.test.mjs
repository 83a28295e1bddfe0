// End-to-end, in English and in Japanese (SPEC §17 "Dashboard"): sort and
// filter a list, export CSV (the server's whole list and the selected
// rows), edit a job in the code editor and see the API's error at its line,
// see the history charts, the header's honest fleet badge, and axe-core on
// every page (no serious or critical violation; English in the light
// theme, Japanese in the dark one, so both themes' contrast is checked).
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import AxeBuilder from '@axe-core/playwright'
import { BASE, api, apiLogin, context, fillCode, launch, session, strings, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
// Each language has its own jobs, so its audit rows are its own.
const jobsOf = (lang) => ['b', 'c', 'a'].map((x) => `e2e-list-${stamp}-${lang}-${x}`)
let browser, pc

const jobYaml = (id, timeout = '30s') => `id: ${id}
version: 1.0.0
description: created by the lists e2e test
execute:
  shell: sh
  script: |
    echo list
  timeout: ${timeout}
`

before(async () => {
  await apiLogin()
  for (const lang of ['en', 'ja']) for (const id of jobsOf(lang)) await api('/api/jobs', { method: 'POST', body: jobYaml(id), contentType: 'application/yaml' })
  const online = await waitFor('an online agent', async () => (await api('/api/agents?status=online&limit=1000')).json)
  pc = online[0].pc_id
  browser = await launch()
})

after(async () => {
  await browser?.close()
  for (const lang of ['en', 'ja']) for (const id of jobsOf(lang)) await api(`/api/jobs/${id}`, { method: 'DELETE' }).catch(() => {})
})

async function download(page, click) {
  const [d] = await Promise.all([page.waitForEvent('download'), click()])
  const chunks = []
  for await (const c of await d.createReadStream()) chunks.push(c)
  return { name: d.suggestedFilename(), lines: Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '').trimEnd().split(/\r?\n/) }
}

const pages = () => [
  '/',
  '/agents',
  `/agents/${encodeURIComponent(pc)}`,
  '/activity',
  '/activity?tab=executions',
  '/inventory',
  '/compliance',
  '/alerts',
  '/audit',
  '/run',
  '/jobs',
  '/schedules',
  '/groups',
  '/add-pcs',
  '/enrollment',
  '/releases',
  '/rollout',
  '/notifications',
  '/accounts',
  '/tokens',
  '/security',
]

for (const [lang, theme] of [
  ['en', 'light'],
  ['ja', 'dark'],
]) {
  describe(`dashboard lists in ${lang}`, () => {
    const s = strings(lang)
    const JOBS = jobsOf(lang)
    const tag = `e2e-list-${stamp}-${lang}-`
    let ctx, page
    before(async () => {
      ctx = await context(browser, { token: session.token, lang, theme, viewport: { width: 1280, height: 800 } })
      page = await ctx.newPage()
      page.setDefaultTimeout(20_000)
    })
    after(async () => ctx?.close())

    test('the page is in the language, with <html lang> and the switch', async () => {
      await page.goto(BASE + '/')
      await page.getByRole('heading', { name: s('nav.dashboard'), exact: true }).waitFor()
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang)
      assert.equal(await page.getByTestId('lang-select').first().inputValue(), lang)
      // The header badge is honest: all green only when nothing is wrong.
      const badge = await page.getByTestId('fleet-badge').getAttribute('aria-label')
      const h = (await api('/api/health/fleet').catch((e) => ({ json: null, e }))).json
      if (h && h.agents_known > h.agents_online) assert.match(badge, new RegExp(s('hs.offline', { count: h.agents_known - h.agents_online })))
      if (h && h.failures_24h > 0) assert.doesNotMatch(badge, new RegExp(s('hs.ok')))
    })

    test('sort and filter a list (Audit, on the loaded rows)', async () => {
      await page.goto(`${BASE}/audit?since=30d`)
      const table = page.locator('table').first()
      await table.waitFor()
      await page.getByTestId('table-filter').fill(tag)
      const rows = table.locator('tbody tr')
      await waitFor('3 filtered rows', async () => (await rows.count()) === 3)
      const header = table.getByRole('columnheader', { name: s('audit.target') })
      const targets = async () => (await rows.locator('td:nth-child(5)').allInnerTexts()).map((x) => x.trim())
      await header.getByRole('button').click()
      assert.equal(await header.getAttribute('aria-sort'), 'ascending')
      assert.deepEqual(await targets(), [...JOBS].sort())
      // Keyboard: the sort button is a button; Enter sorts again (descending).
      await header.getByRole('button').focus()
      await page.keyboard.press('Enter')
      assert.equal(await header.getAttribute('aria-sort'), 'descending')
      assert.deepEqual(await targets(), [...JOBS].sort().reverse())
      assert.equal(await header.getByRole('button').getAttribute('title'), s('table.sortLocal'))
    })

    test('export CSV: the whole list from the server, and the selected rows', async () => {
      await page.goto(`${BASE}/audit?since=30d`)
      await page.waitForFunction(() => !document.querySelector('[data-testid="export-csv"]')?.disabled)
      const all = await download(page, () => page.getByTestId('export-csv').click())
      assert.equal(all.name, 'audit.csv')
      assert.match(all.lines[0], /^id,/)
      await page.getByTestId('table-filter').fill(tag)
      const table = page.locator('table').first()
      await waitFor('3 filtered rows', async () => (await table.locator('tbody tr').count()) === 3)
      // Select by keyboard: focus the select-all box and press Space.
      await table.getByRole('checkbox', { name: s('table.selectAll', { count: 3 }) }).focus()
      await page.keyboard.press('Space')
      await page.getByTestId('bulkbar').getByText(s('agents.selected', { count: 3 })).waitFor()
      const sel = await download(page, () => page.getByTestId('export-selected').click())
      assert.equal(sel.name, 'audit.csv')
      assert.equal(sel.lines[0], [s('common.when'), s('audit.actor'), s('audit.action'), s('audit.target'), s('audit.ip'), s('audit.payload')].join(','))
      assert.equal(sel.lines.length, 4)
    })

    test('edit a job in the code editor and see the error at its line', async () => {
      await page.goto(`${BASE}/jobs?q=${JOBS[0]}`)
      await page.getByRole('button', { name: s('jobs.editJob', { job: JOBS[0] }) }).click()
      const dlg = page.locator('dialog[open]')
      await dlg.locator('.cm-editor').waitFor()
      await waitFor('the job loaded', async () => (await dlg.locator('.cm-content').innerText()).includes(JOBS[0]))
      const yaml = jobYaml(JOBS[0], '10 parsecs')
      const line = yaml.split('\n').findIndex((l) => l.includes('timeout:')) + 1
      await fillCode(dlg, yaml)
      await dlg.getByRole('button', { name: s('common.save'), exact: true }).click()
      await dlg.locator('[role=alert]').waitFor()
      assert.match(await dlg.locator('[role=alert]').innerText(), new RegExp(s('yaml.line', { line })))
      const editor = dlg.getByTestId('code-editor')
      await waitFor('error line', async () => (await editor.getAttribute('data-error-lines')) === String(line))
      // The diagnostic underlines that very line and marks its gutter.
      const marked = dlg.locator('.cm-line').nth(line - 1).locator('.cm-lintRange-error')
      await marked.waitFor()
      assert.match(await dlg.locator('.cm-line').nth(line - 1).innerText(), /timeout: 10 parsecs/)
      await dlg.locator('.cm-lint-marker-error').first().waitFor()
      await fillCode(dlg, jobYaml(JOBS[0], '45s'))
      await dlg.getByRole('button', { name: s('common.save'), exact: true }).click()
      await dlg.waitFor({ state: 'detached' })
      await waitFor('saved', async () => (await api(`/api/jobs/${JOBS[0]}`)).json.execute?.timeout === '45s')
    })

    test('see the history charts', async () => {
      await page.goto(BASE + '/')
      for (const id of ['chart-execs', 'chart-online']) {
        const c = page.getByTestId(id)
        await c.locator('canvas').first().waitFor()
        const box = await c.locator('canvas').first().boundingBox()
        assert.ok(box && box.width > 200 && box.height > 100, `${id} is drawn`)
      }
      assert.match(await page.getByTestId('chart-execs').getByRole('img').getAttribute('aria-label'), new RegExp(s('chart.execs')))
      const legend = await page.getByTestId('chart-execs').locator('.u-legend').innerText()
      for (const k of ['chart.ok', 'chart.failed', 'chart.other']) assert.ok(legend.includes(s(k)), `legend has ${s(k)}`)
    })

    test('axe-core: no serious or critical violation on any page', async () => {
      const bad = []
      for (const path of pages()) {
        await page.goto(BASE + path)
        await page.locator('main h1').first().waitFor()
        await page.waitForLoadState('networkidle').catch(() => {})
        const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
        for (const v of r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
          bad.push(`${path}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)
        }
      }
      assert.deepEqual(bad, [])
    })
  })
}
