// End-to-end: the Add PCs page (SPEC §13) against a real backend.
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
// Creates an install token for a unique group, sees the one-line command for
// each OS, copies one, and checks the command's URL answers the install script
// (or says no release is uploaded) without consuming the token.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const GROUP = `e2e-addpcs-${stamp}`
let browser, ctx, page

const ours = async () => (await api('/api/enrollment-tokens?limit=1000')).json.filter((tk) => (tk.groups ?? []).includes(GROUP))

before(async () => {
  await apiLogin()
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  for (const tk of await ours().catch(() => [])) await api(`/api/enrollment-tokens/${tk.id}`, { method: 'DELETE' }).catch(() => {})
})

describe('add PCs', () => {
  test('create an install token and copy the one-line commands', async () => {
    await page.goto(BASE + '/')
    await page.getByRole('link', { name: 'Add PCs', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Add PCs', exact: true }).waitFor()
    await page.getByText('No install token yet').waitFor()
    await page.getByRole('button', { name: /Create install token/ }).click()
    const dlg = page.locator('dialog[open]')
    await dlg.getByLabel('Groups to join').fill(GROUP)
    await dlg.getByLabel('Uses').fill('5')
    await dlg.getByRole('radio', { name: '7 days' }).click()
    await dlg.getByRole('button', { name: 'Create token' }).click()
    await dlg.waitFor({ state: 'detached' })

    const origin = new URL(BASE).origin
    const cmds = {}
    for (const [os, name] of [
      ['linux', 'Linux (systemd)'],
      ['darwin', 'macOS (launchd)'],
      ['windows', 'Windows (service)'],
    ]) {
      const card = page.getByRole('region', { name })
      await card.waitFor()
      cmds[os] = (await card.locator('pre').innerText()).trim()
      // The badge settles on what the backend says: a release, or none to install.
      await waitFor(`the ${os} release check`, async () => /installs kanade-agent|cannot install/.test(await card.locator('.card-head').innerText()))
    }
    const m = /^curl -fsSL '(.+)\/api\/install\/linux\?token=(kanade-enroll-[A-Za-z0-9_-]+)' \| sudo sh$/.exec(cmds.linux)
    assert.ok(m, `linux command: ${cmds.linux}`)
    const [, host, secret] = m
    assert.equal(host, origin)
    assert.equal(cmds.darwin, `curl -fsSL '${origin}/api/install/darwin?token=${secret}' | sudo sh`)
    assert.equal(cmds.windows, `powershell -ExecutionPolicy Bypass -Command "iwr -useb '${origin}/api/install/windows?token=${secret}' | iex"`)

    await page.getByRole('region', { name: 'Windows (service)' }).getByRole('button', { name: 'Copy Windows (service) command' }).click()
    await page.getByText('Copied to the clipboard').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), cmds.windows)

    // The command's URL answers the script (or 409: no release uploaded), never
    // 401, and fetching it does not use the token up.
    const r = await fetch(`${origin}/api/install/linux?token=${secret}`)
    const body = await r.text()
    assert.ok(r.status === 200 || r.status === 409, `GET the linux script: ${r.status} ${body}`)
    if (r.status === 200) assert.match(body, /^#!\/bin\/sh\n/)
    const [tk] = await waitFor('the token in the API list', ours)
    assert.equal(tk.uses, 5)
    assert.equal(tk.uses_left, 5)
    const bad = await fetch(`${origin}/api/install/linux?token=kanade-enroll-nope`)
    assert.equal(bad.status, 401)

    await page.screenshot({ path: process.env.KANADE_E2E_SHOT ?? '/tmp/kanade-addpcs.png', fullPage: true })
  })
})
