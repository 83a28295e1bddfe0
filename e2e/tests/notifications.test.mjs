// End-to-end: notification channels (SPEC §15). A webhook receiver started
// here on 127.0.0.1; the admin creates a webhook channel pointing at it on
// the Notifications page (its signing secret is never shown again), sends a
// test and sees it delivered; the receiver got one POST signed with the
// secret; the delivery log lists the attempt; the channel is deleted.
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
// SHOTS=dir saves screenshots there.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { BASE, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const NAME = `e2e-hook-${stamp}`
const SECRET = `e2e-secret-${stamp}-${Math.random().toString(36).slice(2)}`
const shots = process.env.SHOTS
const got = []
let browser, ctx, page, server, hookURL

before(async () => {
  await apiLogin()
  server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      got.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(204).end()
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  hookURL = `http://127.0.0.1:${server.address().port}/hook`
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  server?.close()
  const chans = await api('/api/notification-channels').catch(() => null)
  for (const c of chans?.json ?? []) if (c.name === NAME) await api(`/api/notification-channels/${c.id}`, { method: 'DELETE' }).catch(() => {})
})

describe('notification channels', () => {
  test('create a webhook channel, send a test, see it delivered and signed', async () => {
    await page.goto(BASE + '/notifications')
    await page.getByRole('heading', { name: 'Notifications', exact: true }).waitFor()
    await page.getByRole('button', { name: /New channel/ }).click()
    const dlg = page.getByRole('dialog')
    // The form says what is missing before it sends anything.
    await dlg.getByRole('button', { name: 'Create channel' }).click()
    await dlg.getByText('Required').first().waitFor()
    await dlg.getByLabel('Name').fill(NAME)
    await dlg.getByLabel('URL').fill(hookURL)
    await dlg.getByLabel('Signing secret').fill(SECRET)
    await dlg.getByRole('radio', { name: 'info' }).click()
    await dlg.getByRole('button', { name: 'Create channel' }).click()
    const row = page.getByRole('row').filter({ hasText: NAME })
    await row.waitFor()
    const text = await row.innerText()
    assert.match(text, /Webhook/)
    assert.match(text, /set/) // the secret is set…
    assert.equal((await page.content()).includes(SECRET), false, '…and never shown')
    const [ch] = (await api('/api/notification-channels')).json.filter((c) => c.name === NAME)
    assert.equal(ch.secret_set, true)
    assert.equal(JSON.stringify(ch).includes(SECRET), false)

    await row.getByRole('button', { name: `Send a test notification to ${NAME}` }).click()
    const outcome = page.getByTestId('test-outcome')
    await outcome.getByText('delivered').waitFor({ timeout: 60_000 })
    assert.match(await outcome.innerText(), /HTTP 204/)
    await waitFor('the webhook POST', async () => got.length >= 1, 10_000)
    assert.equal(got.length, 1)
    const [post] = got
    assert.equal(post.method, 'POST')
    const want = 'sha256=' + createHmac('sha256', SECRET).update(post.body).digest('hex')
    assert.equal(post.headers['x-kanade-signature'], want)
    assert.equal(JSON.parse(post.body.toString()).event, 'test')

    // The delivery log lists the attempt.
    const log = page.getByRole('table', { name: 'Delivery log' })
    await waitFor('the attempt in the log', async () => (await log.getByRole('row').filter({ hasText: NAME }).count()) > 0, 30_000, 1000)
    assert.match(await log.getByRole('row').filter({ hasText: NAME }).first().innerText(), /delivered/)
    if (shots) await page.screenshot({ path: `${shots}/notifications.png`, fullPage: true })

    await row.getByRole('button', { name: `Delete channel ${NAME}` }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
    await page.getByText(`Channel ${NAME} deleted`).waitFor()
    assert.equal((await api('/api/notification-channels')).json.filter((c) => c.name === NAME).length, 0)
  })

  test('an e-mail channel form has the SMTP fields', async () => {
    await page.goto(BASE + '/notifications')
    await page.getByRole('button', { name: /New channel/ }).click()
    const dlg = page.getByRole('dialog')
    await dlg.getByRole('radio', { name: 'E-mail' }).click()
    for (const l of ['SMTP host', 'Port', 'SMTP user', 'SMTP password', 'From']) await dlg.getByLabel(l, { exact: true }).waitFor()
    await dlg.getByRole('textbox', { name: /^To\b/ }).waitFor() // its name includes the hint
    assert.equal(await dlg.getByLabel('Require STARTTLS').isChecked(), true)
    assert.equal(await dlg.getByLabel('URL').count(), 0)
    if (shots) await page.screenshot({ path: `${shots}/notifications-email.png` })
    await dlg.getByRole('button', { name: 'Cancel' }).click()
  })
})
