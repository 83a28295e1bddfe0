// End-to-end: the Enrollment page (SPEC §12) against a real backend.
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
// Creates a token for a unique group, sees its one-time secret and agent command,
// finds it in the list (never with its secret), deletes it; checks a viewer has no entry.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, USER, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const GROUP = `e2e-enroll-${stamp}`
const VIEWER = `e2e-viewer-${stamp}`
const VIEWER_PW = `e2e-viewer-pw-${stamp}-${Math.random().toString(36).slice(2)}`
let browser, ctx, page, tokenId, viewerMade

/** The tokens whose groups include GROUP (this run's), from the API. */
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
  if (viewerMade) await api(`/api/accounts/${VIEWER}`, { method: 'DELETE' }).catch(() => {})
})

describe('enrollment', () => {
  test('create a token and see its secret once, with the agent command', async () => {
    await page.goto(BASE + '/')
    await page.getByRole('link', { name: 'Enrollment', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Enrollment', exact: true }).waitFor()
    await page.getByRole('button', { name: /New token/ }).click()
    const dlg = page.locator('dialog[open]')
    await dlg.getByLabel('Groups to join').fill(GROUP)
    await dlg.getByRole('button', { name: 'Add group' }).click()
    await dlg.getByRole('button', { name: `Remove group ${GROUP}` }).waitFor()
    await dlg.getByLabel('Uses').fill('2')
    await dlg.getByRole('radio', { name: '1 hour' }).click()
    await dlg.getByRole('button', { name: 'Create token' }).click()

    const shown = page.locator('dialog[open]')
    await shown.getByRole('heading', { name: 'Enrollment token created' }).waitFor()
    assert.match(await shown.innerText(), /only time the secret is shown/)
    const secret = (await shown.locator('pre[aria-label=Secret]').innerText()).trim()
    assert.match(secret, /^kanade-enroll-\S{20,}$/)
    const cmd = (await shown.locator('pre[aria-label="On the new PC, run"]').innerText()).trim()
    assert.equal(cmd, `kanade-agent enroll --server ${new URL(BASE).origin} --token ${secret}`)
    await shown.getByRole('button', { name: 'Copy command' }).click()
    await page.getByText('Copied to the clipboard').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), cmd)

    // The backend keeps only a hash: the list has the token, never its secret.
    const [tk] = await waitFor('the token in the API list', ours)
    assert.equal(tk.uses, 2)
    assert.equal(tk.uses_left, 2)
    assert.ok(!JSON.stringify(tk).includes(secret), 'the list leaks the secret')
    const inHour = Date.parse(tk.expires_at) - Date.now()
    assert.ok(inHour > 55 * 60_000 && inHour <= 60 * 60_000, `expires_at ${tk.expires_at}`)
    tokenId = tk.id

    await shown.getByRole('button', { name: 'Done' }).click()
    await page.locator('dialog[open]').waitFor({ state: 'detached' })
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is still on the page')
  })

  test('see it in the list', async () => {
    const row = page.getByRole('row').filter({ hasText: tokenId })
    await row.waitFor()
    const text = await row.innerText()
    assert.match(text, new RegExp(GROUP))
    assert.match(text, /2 of 2/)
    assert.match(text, /usable/)
    assert.match(text, /in \d+ minutes|in 1 hour/)
  })

  test('delete it, after a confirmation', async () => {
    const row = page.getByRole('row').filter({ hasText: tokenId })
    await row.getByRole('button', { name: `Delete token ${tokenId}` }).click()
    const dlg = page.locator('dialog[open]')
    assert.match(await dlg.innerText(), /can no longer enroll/)
    await dlg.getByRole('button', { name: 'Delete' }).click()
    await row.waitFor({ state: 'detached' })
    await waitFor('the token gone from the API', async () => (await ours()).length === 0)
  })

  test('a viewer has no Enrollment entry', async (t) => {
    if (!USER) {
      t.skip('needs password sign-in as an admin (KANADE_USER) to create a viewer')
      return
    }
    await api('/api/accounts', { method: 'POST', body: { username: VIEWER, password: VIEWER_PW, role: 'viewer', must_change_pw: false } })
    viewerMade = true
    const { json } = await api('/api/auth/login', { method: 'POST', body: { username: VIEWER, password: VIEWER_PW }, token: '' })
    const vctx = await context(browser, { token: json.token })
    try {
      const vpage = await vctx.newPage()
      await vpage.goto(BASE + '/')
      await vpage.getByRole('link', { name: 'Groups & config' }).first().waitFor()
      assert.equal(await vpage.getByRole('link', { name: 'Enrollment', exact: true }).count(), 0)
      await vpage.goto(BASE + '/enrollment')
      await vpage.getByText('Operator role required').waitFor()
    } finally {
      await vctx.close()
    }
  })
})
