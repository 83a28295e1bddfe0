// End-to-end: the Inventory page (SPEC §14) against a real backend and the
// two real agents of .ci/e2e.sh (e2e-pc-1, e2e-pc-2). An inventory job whose
// sh script prints a different JSON array on each PC fills a fresh table;
// the page searches it for a name, filters by version (99.0.1 < 120.0.1 as
// versions, not as text), offers the CSV of the same rows and opens a PC.
// SHOTS=dir saves screenshots there.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const TABLE = `e2e_sw_${stamp}`
const JOB = `e2e-inv-${stamp}`
const APP = `e2e-app-${stamp}`
const PCS = ['e2e-pc-1', 'e2e-pc-2']
const shots = process.env.SHOTS
let browser, ctx, page

const shot = async (name) => shots && page.screenshot({ path: `${shots}/${name}.png`, fullPage: true })

before(async () => {
  await apiLogin()
  const script = [
    'case "$KANADE_PC_ID" in',
    `  e2e-pc-1) v=99.0.1 ;;`,
    `  *) v=120.0.10 ;;`,
    'esac',
    `printf '[{"name":"${APP}","version":"%s","publisher":"Kanade"},{"name":"other-%s","version":"1.0"}]' "$v" "$KANADE_PC_ID"`,
  ].join('\n')
  await api('/api/jobs', {
    method: 'POST',
    body: { id: JOB, version: '1', execute: { shell: 'sh', script, timeout: '30s' },
      inventory: { table: TABLE, key: ['name'], columns: ['name', 'version', 'publisher'] } },
  })
  await api(`/api/exec/${JOB}`, { method: 'POST', body: { target: { pcs: PCS } } })
  await waitFor('both PCs reported the inventory job', async () => {
    const r = await api(`/api/inventory/tables/${TABLE}?q=${APP}`)
    return r.json.length === 2
  })
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  await api(`/api/jobs/${JOB}`, { method: 'DELETE' }).catch(() => {})
})

describe('inventory', () => {
  test('search a table, filter by version, export CSV, open a PC', async () => {
    await page.goto(BASE + '/')
    await page.getByRole('link', { name: 'Inventory', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Inventory', exact: true }).waitFor()
    await page.getByLabel('Table').selectOption(TABLE)
    await page.getByRole('row').filter({ hasText: 'other-e2e-pc-2' }).waitFor()

    await page.getByLabel('Search').fill(APP)
    const appRows = page.getByRole('row').filter({ hasText: APP })
    await waitFor('two rows of the app', async () => (await appRows.count()) === 2 && (await page.getByRole('row').filter({ hasText: 'other-' }).count()) === 0)

    await page.getByRole('button', { name: 'Add filter' }).click()
    const cond = page.getByTestId('inv-where')
    await cond.getByLabel('Column').selectOption('version')
    await cond.getByLabel('Operator').selectOption('lt')
    await cond.getByLabel('Value').fill('120.0.1')
    // 99.0.1 < 120.0.1 < 120.0.10: only e2e-pc-1 is older.
    await waitFor('only e2e-pc-1', async () => (await appRows.count()) === 1 && (await appRows.first().innerText()).includes('e2e-pc-1'))
    assert.match(await appRows.first().innerText(), /99\.0\.1/)
    await shot('inventory')

    // Export CSV downloads the filtered rows (the server's CSV, fetched with the session).
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()])
    const chunks = []
    for await (const c of await download.createReadStream()) chunks.push(c)
    const lines = Buffer.concat(chunks).toString('utf8').trim().split(/\r?\n/)
    assert.match(download.suggestedFilename(), new RegExp(`inventory-tables-${TABLE}\\.csv$`))
    assert.match(lines[0], /pc_id/)
    assert.equal(lines.length, 2, `one row under the header: ${lines.join(' | ')}`)
    assert.match(lines[1], /e2e-pc-1/)

    await appRows.first().getByRole('link', { name: 'e2e-pc-1', exact: true }).click()
    await page.waitForURL(/\/agents\/e2e-pc-1$/)
  })
})
