// End-to-end: the execution page's fleet-wide view (SPEC §17): the Summary
// groups of a job run on the two real agents (e2e-pc-1, e2e-pc-2, as
// .ci/e2e.sh starts them), the stderr excerpt per result row, and a sliced
// rollout's pending wave paused, resumed and cancelled from the page.
// SHOTS=dir saves execution-summary-light.png there (docs/screenshots).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, strings, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const JOB = `e2e-summary-${stamp}`
const PCS = ['e2e-pc-1', 'e2e-pc-2']
const shots = process.env.SHOTS
const s = strings('en')
let browser, ctx, page

const execOf = async (id) => (await api(`/api/executions/${encodeURIComponent(id)}`)).json

before(async () => {
  await apiLogin()
  // The same stdout everywhere (one group); stderr names the PC (its excerpt per row).
  const script = 'echo "all good"\necho "line two"\necho "warning on $KANADE_PC_ID" >&2'
  await api('/api/jobs', { method: 'POST', body: { id: JOB, version: '1', execute: { shell: 'sh', script, timeout: '30s' } } })
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  await api(`/api/jobs/${JOB}`, { method: 'DELETE' }).catch(() => {})
})

describe('execution summary', () => {
  test('one group of both PCs with its sample; stderr excerpt per row', async () => {
    const { json } = await api(`/api/exec/${JOB}`, { method: 'POST', body: { target: { pcs: PCS } } })
    const id = json.exec_id
    await page.goto(`${BASE}/activity/exec/${encodeURIComponent(id)}`)
    const summary = page.locator('section', { has: page.getByRole('heading', { name: s('summary.title'), exact: true }) })
    const groups = summary.getByTestId('summary-group')
    // Filled live as the results arrive (no reload).
    await waitFor('one group of 2', async () => (await groups.count()) === 1 && (await groups.first().innerText()).includes(s('summary.count', { count: 2 })))
    const g = groups.first()
    for (const pc of PCS) assert.equal(await g.getByRole('link', { name: pc, exact: true }).getAttribute('href'), `/agents/${pc}`)
    assert.match(await g.locator('pre').first().innerText(), /all good\nline two/)
    assert.match(await g.getByRole('link', { name: s('summary.sampleLink') }).getAttribute('href'), /^\/activity\/result\//)
    assert.match(await g.innerText(), new RegExp(s('status.success')))

    // The per-PC table: each row's last stderr line, full text in the tooltip.
    const table = page.getByRole('table', { name: s('activity.results') })
    for (const pc of PCS) {
      const cell = table.getByRole('row').filter({ has: page.getByRole('link', { name: pc, exact: true }) }).locator('.stderr-excerpt')
      await cell.waitFor()
      assert.equal(await cell.innerText(), `warning on ${pc}`)
      assert.equal(await cell.getAttribute('title'), `warning on ${pc}`)
    }
    if (shots) await page.screenshot({ path: `${shots}/execution-summary-light.png`, fullPage: true })
  })

  test('a pending wave paused, resumed and cancelled from the page', async () => {
    const { json } = await api(`/api/exec/${JOB}`, {
      method: 'POST',
      body: { target: { pcs: PCS }, rollout: { waves: [{ percent: 50 }, { rest: true, delay: '10m' }] } },
    })
    const id = json.exec_id
    await waitFor('the later wave pending', async () => (await execOf(id)).pending_waves === 1)
    await page.goto(`${BASE}/activity/exec/${encodeURIComponent(id)}`)
    const card = page.locator('section', { has: page.getByRole('heading', { name: s('waves.title'), exact: true }) })
    const chip = card.getByTestId('rollout-state')
    await card.getByText(s('waves.pending', { count: 1 })).waitFor()
    assert.equal(await chip.innerText(), s('rolloutState.waiting'))

    await card.getByRole('button', { name: s('waves.pause') }).click()
    await waitFor('paused on the page', async () => (await chip.innerText()) === s('rolloutState.paused'))
    assert.equal((await execOf(id)).rollout_state, 'paused')
    // The header's status carries the state too.
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), new RegExp(s('rolloutState.paused')))

    await card.getByRole('button', { name: s('waves.resume') }).click()
    await waitFor('waiting again', async () => (await chip.innerText()) === s('rolloutState.waiting'))
    assert.equal((await execOf(id)).rollout_state, 'waiting')

    // Cancel asks first; dismissing it keeps the wave.
    await card.getByRole('button', { name: s('waves.cancel') }).click()
    const dlg = page.locator('dialog[open]')
    await dlg.getByText(s('waves.cancelTitle', { job: JOB })).waitFor()
    await dlg.getByRole('button', { name: s('common.cancel'), exact: true }).click()
    await dlg.waitFor({ state: 'detached' }).catch(() => dlg.waitFor({ state: 'hidden' }))
    assert.equal((await execOf(id)).pending_waves, 1)
    await card.getByRole('button', { name: s('waves.cancel') }).click()
    await dlg.getByRole('button', { name: s('waves.cancel'), exact: true }).click()
    await waitFor('no wave pending', async () => (await execOf(id)).pending_waves === 0)
    // Nothing left to control: the card goes.
    await card.waitFor({ state: 'detached' })

    // A second cancel is a 409 from the API (what the page's ErrorBox shows).
    await assert.rejects(api(`/api/executions/${id}/cancel`, { method: 'POST' }), /409/)
  })
})
