// End-to-end: the Rollout page (SPEC §13) against a real backend whose fleet
// reports self-update states — fakefleet with -update-states (.ci/e2e.sh runs
// it with the prefix e2e-fake):
//   go run ./e2e/fakefleet -nats nats://127.0.0.1:4222 -n 12 -prefix e2e-fake -update-states -offline 0 -every 20s
// Sets target_version on a fresh group of two PCs, sees the distribution, the
// target's progress, the failed and quarantined PCs, their chips and details,
// then halts the rollout from the page. SHOTS=dir saves screenshots there.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const GROUP = `e2e-rollout-${stamp}`
const TARGET = `9.9.${Math.floor(Math.random() * 1000)}`
const shots = process.env.SHOTS
let browser, ctx, page, failedPC, quarantinedPC, currentPC

const shot = async (name) => shots && page.screenshot({ path: `${shots}/${name}.png`, fullPage: true })
const pcPath = (pc) => `/api/agents/${encodeURIComponent(pc)}`

before(async () => {
  await apiLogin()
  const inState = async (s) => (await api(`/api/agents?update_state=${s}&status=online&limit=10`)).json
  ;[failedPC] = await waitFor('a PC reporting a failed update (fakefleet -update-states)', () => inState('failed'))
  ;[quarantinedPC] = await waitFor('a PC reporting a quarantined version', () => inState('quarantined'))
  ;[currentPC] = await waitFor('a PC reporting current', () => inState('current'))
  for (const a of [failedPC, currentPC]) await api(`${pcPath(a.pc_id)}/groups`, { method: 'POST', body: { group: GROUP } })
  await api(`/api/groups/${GROUP}/config`, { method: 'PATCH', body: { target_version: TARGET } })
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  await api(`/api/groups/${GROUP}/config`, { method: 'DELETE' }).catch(() => {})
  for (const a of [failedPC, currentPC].filter(Boolean)) await api(`${pcPath(a.pc_id)}/groups/${GROUP}`, { method: 'DELETE' }).catch(() => {})
})

describe('rollout', () => {
  test('the Rollout page shows the distribution, the target and the PCs in trouble', async () => {
    await page.goto(BASE + '/')
    await page.getByRole('link', { name: 'Rollout', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Rollout', exact: true }).waitFor()

    // The distribution: one row per version, counted by the backend.
    const versions = await api('/api/agents/versions')
    const failedVersion = versions.json.find((v) => v.version === failedPC.agent_version)
    assert.ok(failedVersion.states.failed >= 1, JSON.stringify(failedVersion))
    const dist = page.locator('section', { has: page.getByRole('heading', { name: 'Version distribution' }) })
    const vrow = dist.getByRole('row').filter({ has: page.getByRole('link', { name: failedPC.agent_version, exact: true }) })
    await vrow.waitFor()
    assert.match(await vrow.innerText(), new RegExp(`\\b${failedVersion.agents}\\b`))
    assert.equal(await dist.locator('.bar-fill').count(), versions.json.length)
    // The version every quarantined PC rolled back from has its own count.
    const q = versions.json.find((v) => v.version === quarantinedPC.quarantined_version)
    assert.ok(q.quarantined >= 1)
    await dist.getByRole('link', { name: String(q.quarantined), exact: true }).last().waitFor()

    // The target on our group: 0 of its 2 PCs run it.
    const targets = page.locator('section', { has: page.getByRole('heading', { name: 'Targets' }) })
    const trow = targets.getByRole('row').filter({ hasText: `group ${GROUP}` })
    await trow.waitFor()
    assert.match(await trow.innerText(), new RegExp(TARGET.replace(/\./g, '\\.')))
    assert.match(await trow.innerText(), /0 of 2/)

    // The PCs whose update failed, with the reason, and those that quarantined a version.
    const failed = page.locator('section', { has: page.getByRole('heading', { name: 'Failed updates' }) })
    await failed.getByRole('link', { name: failedPC.pc_id, exact: true }).waitFor()
    assert.match(await failed.innerText(), /does not match the release/)
    const quarantined = page.locator('section', { has: page.getByRole('heading', { name: 'Quarantined versions' }) })
    await quarantined.getByRole('link', { name: quarantinedPC.pc_id, exact: true }).waitFor()
    assert.match(await quarantined.innerText(), new RegExp(`quarantined ${quarantinedPC.quarantined_version.replace(/\./g, '\\.')}`))
    await shot('rollout')

    // Each links to its agent, whose page shows the update fields.
    await failed.getByRole('link', { name: failedPC.pc_id, exact: true }).click()
    await page.waitForURL(new RegExp(`/agents/${failedPC.pc_id}$`))
    const facts = page.locator('section', { has: page.getByRole('heading', { name: 'Facts' }) })
    await facts.getByText('Update error').waitFor()
    assert.match(await facts.innerText(), /Update state\s+failed/)
    assert.match(await facts.innerText(), /does not match the release/)
    await shot('agent-failed')
  })

  test('the agents list filters by update state and shows the chip', async () => {
    await page.goto(BASE + '/agents?update_state=quarantined')
    await page.getByText('update: quarantined').waitFor()
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: quarantinedPC.pc_id, exact: true }) })
    await row.waitFor()
    assert.match(await row.innerText(), /quarantined/)
    assert.equal(await row.getByTitle(/Rolled back from 0\.2\.0/).count(), 1)
    const { headers } = await api('/api/agents?update_state=quarantined&limit=1')
    await waitFor('the footer count', async () => (await page.getByText(/\d+ agents?$/).last().innerText()).startsWith(headers.get('x-total-count')))
    await shot('agents-quarantined')
    // Clearing the filter lists every agent again.
    await page.getByRole('button', { name: 'Clear update: quarantined' }).click()
    await page.waitForURL((u) => !u.search.includes('update_state'))
  })

  test('halt the rollout on the group from the page', async () => {
    await page.goto(BASE + '/rollout')
    const targets = page.locator('section', { has: page.getByRole('heading', { name: 'Targets' }) })
    await targets.getByRole('button', { name: `Halt group ${GROUP}` }).click()
    const dlg = page.locator('dialog[open]')
    assert.match(await dlg.innerText(), /unsets target_version/)
    await dlg.getByRole('button', { name: 'Halt' }).click()
    await page.getByText(`target_version unset on group ${GROUP}`).waitFor()
    await waitFor('target_version unset', async () => (await api(`/api/groups/${GROUP}/config`)).json.target_version === undefined)
    await targets.getByRole('row').filter({ hasText: `group ${GROUP}` }).waitFor({ state: 'detached' })
  })
})
