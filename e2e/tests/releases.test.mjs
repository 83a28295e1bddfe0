// End-to-end: the Releases page (SPEC §13) against a real backend.
//   KANADE_URL=… [KANADE_TOKEN=… | KANADE_USER=… KANADE_PASSWORD=…] npm test
// Uploads a minimal ELF header (the backend checks the format, nothing runs it) through the
// dialog, sees a wrong format refused, adds a second platform through the API, copies a
// digest, deletes the version after a confirmation; a viewer sees the list without the
// operator controls.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { BASE, USER, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const VERSION = `0.0.0-e2e.${stamp}`
const VIEWER = `e2e-relviewer-${stamp}`
const VIEWER_PW = `e2e-relviewer-pw-${stamp}-${Math.random().toString(36).slice(2)}`
let browser, ctx, page, viewerMade

/** A 64-bit little-endian ELF executable header for x86-64 (what debug/elf needs), then pad. */
function elf(pad) {
  const b = Buffer.alloc(64)
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
  b.writeUInt16LE(2, 16) // ET_EXEC
  b.writeUInt16LE(62, 18) // EM_X86_64
  b.writeUInt32LE(1, 20)
  b.writeBigUInt64LE(0x401000n, 24) // entry
  b.writeUInt16LE(64, 52) // ehsize
  b.writeUInt16LE(56, 54) // phentsize
  b.writeUInt16LE(64, 58) // shentsize
  return Buffer.concat([b, Buffer.from(pad)])
}

/** A Windows executable header (MZ, PE, AMD64, no sections). */
function pe() {
  const b = Buffer.alloc(128)
  b.write('MZ', 0, 'latin1')
  b.writeUInt32LE(64, 0x3c)
  b.write('PE\0\0', 64, 'latin1')
  b.writeUInt16LE(0x8664, 68) // machine AMD64
  b.writeUInt16LE(0x0002, 68 + 18) // IMAGE_FILE_EXECUTABLE_IMAGE
  return b
}

const ours = async () => (await api('/api/releases?limit=1000')).json.filter((r) => r.version === VERSION)

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
  await api(`/api/releases/${VERSION}`, { method: 'DELETE' }).catch(() => {})
  if (viewerMade) await api(`/api/accounts/${VIEWER}`, { method: 'DELETE' }).catch(() => {})
})

describe('releases', () => {
  const bin = elf(`kanade-agent ${VERSION}`)
  const sha = createHash('sha256').update(bin).digest('hex')

  test('a file of the wrong format is refused, naming what it is', async () => {
    await page.goto(BASE + '/')
    await page.getByRole('link', { name: 'Releases', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Releases', exact: true }).waitFor()
    await page.getByRole('button', { name: /Upload release/ }).click()
    const dlg = page.locator('dialog[open]')
    const upload = dlg.getByRole('button', { name: 'Upload', exact: true })
    assert.equal(await upload.isDisabled(), true, 'Upload enabled with nothing filled in')
    await dlg.getByLabel(/^Binary/).setInputFiles({ name: 'kanade-agent.exe', mimeType: 'application/octet-stream', buffer: pe() })
    await dlg.getByLabel(/^Version/).fill(VERSION)
    await dlg.getByLabel(/^OS/).selectOption('linux')
    await dlg.getByLabel(/^Architecture/).selectOption('amd64')
    await upload.click()
    await dlg.getByText(/PE executable for windows\/amd64, not an ELF executable for linux/).waitFor()
    await dlg.getByRole('button', { name: 'Cancel' }).click()
    await page.locator('dialog[open]').waitFor({ state: 'detached' })
    assert.equal((await ours()).length, 0, 'a refused upload was stored')
  })

  test('upload a binary: listed, signed, with its digest', async () => {
    await page.getByRole('button', { name: /Upload release/ }).click()
    const dlg = page.locator('dialog[open]')
    await dlg.getByLabel(/^Binary/).setInputFiles({ name: 'kanade-agent', mimeType: 'application/octet-stream', buffer: bin })
    await dlg.getByLabel(/^Version/).fill(VERSION)
    await dlg.getByLabel(/^OS/).selectOption('linux')
    await dlg.getByLabel(/^Architecture/).selectOption('amd64')
    await dlg.getByRole('button', { name: 'Upload', exact: true }).click()
    await page.getByText(`${VERSION} for linux/amd64 uploaded and signed`).waitFor()
    await page.locator('dialog[open]').waitFor({ state: 'detached' })

    const [rel] = await waitFor('the release in the API list', ours)
    assert.equal(rel.sha256, sha)
    assert.equal(rel.size, bin.length)
    assert.match(rel.key_id, /\S/)
    const row = page.getByRole('row').filter({ hasText: VERSION }).filter({ hasText: 'linux/amd64' })
    await row.waitFor()
    const text = await row.innerText()
    assert.match(text, new RegExp(sha.slice(0, 12)))
    assert.match(text, new RegExp(rel.key_id))
    assert.match(text, new RegExp(`${bin.length} B`))
    await page.getByRole('columnheader', { name: 'PCs on version' }).waitFor()

    await row.getByRole('button', { name: `Copy the SHA-256 of ${VERSION} linux/amd64` }).click()
    await page.getByText('Copied to the clipboard').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), sha)
  })

  test('the same version and platform again is refused (immutable)', async () => {
    await assert.rejects(
      api(`/api/releases?version=${VERSION}&os=linux&arch=amd64`, { method: 'POST', body: bin, contentType: 'application/octet-stream' }),
      /409.*immutable/,
    )
  })

  test('delete the version, every platform, after a confirmation', async () => {
    await api(`/api/releases?version=${VERSION}&os=windows&arch=amd64`, { method: 'POST', body: pe(), contentType: 'application/octet-stream' })
    await page.reload()
    const rows = page.getByRole('row').filter({ hasText: VERSION })
    await waitFor('both platforms listed', async () => (await rows.count()) === 2)
    await page.screenshot({ path: process.env.E2E_SHOT ?? '/tmp/kanade-releases.png', fullPage: true })

    await rows.filter({ hasText: 'linux/amd64' }).getByRole('button', { name: /Delete version/ }).click()
    const dlg = page.locator('dialog[open]')
    const body = await dlg.innerText()
    assert.match(body, new RegExp(`Delete release ${VERSION.replace(/\./g, '\\.')}`))
    assert.match(body, /linux\/amd64/)
    assert.match(body, /windows\/amd64/)
    await dlg.getByRole('button', { name: 'Delete' }).click()
    await page.getByText(`Release ${VERSION} deleted (2 platforms)`).waitFor()
    await waitFor('the rows gone', async () => (await rows.count()) === 0)
    assert.equal((await ours()).length, 0)
  })

  test('a viewer sees the list without upload or delete', async (t) => {
    if (!USER) {
      t.skip('needs password sign-in as an admin (KANADE_USER) to create a viewer')
      return
    }
    await api(`/api/releases?version=${VERSION}&os=linux&arch=amd64`, { method: 'POST', body: bin, contentType: 'application/octet-stream' })
    await api('/api/accounts', { method: 'POST', body: { username: VIEWER, password: VIEWER_PW, role: 'viewer', must_change_pw: false } })
    viewerMade = true
    const { json } = await api('/api/auth/login', { method: 'POST', body: { username: VIEWER, password: VIEWER_PW }, token: '' })
    const vctx = await context(browser, { token: json.token })
    try {
      const vpage = await vctx.newPage()
      await vpage.goto(BASE + '/releases')
      await vpage.getByRole('row').filter({ hasText: VERSION }).waitFor()
      assert.equal(await vpage.getByRole('button', { name: /Upload release/ }).count(), 0)
      assert.equal(await vpage.getByRole('button', { name: /Delete version/ }).count(), 0)
    } finally {
      await vctx.close()
    }
  })
})
