// End-to-end: the agent page's inventory (SPEC §14). A real kanade-agent
// (KANADE_E2E_PC) reports its real facts; fakefleet -inventory reports a
// fake PC's facts twice, the second time with a new OS build, which the
// Changes timeline shows. SHOTS=dir saves screenshots there.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const PC = process.env.KANADE_E2E_PC ?? 'e2e-pc-1'
const FAKE = process.env.KANADE_E2E_FAKE_PC ?? 'e2e-fake-00001'
const shots = process.env.SHOTS
let browser, ctx, page

const shot = async (name) => shots && page.screenshot({ path: `${shots}/${name}.png`, fullPage: true })
const facts = (pc) => api(`/api/inventory/facts?pc_id=${encodeURIComponent(pc)}`).then((r) => r.json[0])

before(async () => {
  await apiLogin()
  await waitFor(`${PC}'s facts`, () => facts(PC))
  await waitFor(`${FAKE}'s changed facts (fakefleet -inventory)`, async () => (await facts(FAKE))?.os_build === '26100')
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
})

describe('agent inventory', () => {
  test("a real agent's facts on its page", async () => {
    const f = await facts(PC)
    assert.ok(f.memory_bytes > 0 && f.disks.length > 0 && f.interfaces.length > 0, JSON.stringify(f))
    await page.goto(`${BASE}/agents/${encodeURIComponent(PC)}`)
    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Inventory', exact: true }) })
    await panel.getByText('Memory').waitFor()
    const text = await panel.innerText()
    assert.match(text, /\d+(\.\d)? GiB/, text) // memory
    assert.ok(text.includes(f.os_family), text)
    // One usage bar per disk, labelled with its free space.
    const meters = panel.getByRole('meter')
    assert.equal(await meters.count(), f.disks.length)
    assert.match((await meters.first().getAttribute('aria-label')) ?? '', /free of/)
    await shot('agent-inventory-real')
  })

  test('the Changes timeline shows a changed fact', async () => {
    await page.goto(`${BASE}/agents/${encodeURIComponent(FAKE)}`)
    const changes = page.locator('section', { has: page.getByRole('heading', { name: 'Changes', exact: true }) })
    const build = changes.getByRole('listitem').filter({ hasText: 'os_build' })
    await build.waitFor()
    assert.match(await build.innerText(), /22631\s*→\s*26100/)
    assert.match(await changes.getByRole('listitem').filter({ hasText: 'logged_in_users' }).innerText(), /bob/)
    const inv = page.locator('section', { has: page.getByRole('heading', { name: 'Inventory', exact: true }) })
    assert.match(await inv.innerText(), /26100/)
    await shot('agent-inventory-changes')
  })
})
