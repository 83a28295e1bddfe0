// End-to-end: compliance checks and alerts (SPEC §15, docs/checks.md) against a
// real backend and the two real agents of .ci/e2e.sh (e2e-pc-1, e2e-pc-2). A
// critical check whose sh script fails on e2e-pc-1 only runs on both; the
// Compliance page shows 50 % and the failing PC, the header badge counts the
// open alert, its trend chart ends at 50 %, and Ack on the Alerts page records
// who acknowledged it.
// SHOTS=dir saves screenshots there.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, USER, api, apiLogin, context, launch, session, waitFor } from '../lib.mjs'

const stamp = Date.now().toString(36)
const JOB = `e2e-check-${stamp}`
const VIEWER = `e2e-cviewer-${stamp}`
const VIEWER_PW = `e2e-cviewer-pw-${stamp}-${Math.random().toString(36).slice(2)}`
const PCS = ['e2e-pc-1', 'e2e-pc-2']
const shots = process.env.SHOTS
let browser, ctx, page, viewerMade, baseline
const shot = async (name) => shots && page.screenshot({ path: `${shots}/${name}.png`, fullPage: true })

/** The open alerts of this test's check (other tests' checks may have alerts too). */
const openTotal = async () => Number((await api('/api/alerts?state=open&limit=1')).headers.get('X-Total-Count'))
const openAlerts = async () => (await api(`/api/alerts?state=open&check_id=${JOB}`)).json

before(async () => {
  await apiLogin()
  // The badge counts every open alert: this test's one on top of any already open.
  baseline = await openTotal()
  const script = 'if [ "$KANADE_PC_ID" = e2e-pc-1 ]; then echo FAIL; exit 1; fi\necho OK'
  await api('/api/jobs', {
    method: 'POST',
    body: { id: JOB, version: '1', execute: { shell: 'sh', script, timeout: '30s' }, check: { pass: { exit_code: 0 }, severity: 'critical' } },
  })
  await api(`/api/exec/${JOB}`, { method: 'POST', body: { target: { pcs: PCS } } })
  await waitFor('both PCs reported the check', async () => {
    const c = (await api('/api/checks')).json.find((x) => x.id === JOB)
    return c && c.passing === 1 && c.failing === 1
  })
  await waitFor('the alert of e2e-pc-1', async () => (await openAlerts()).length === 1)
  browser = await launch()
  ctx = await context(browser, { token: session.token })
  page = await ctx.newPage()
  page.setDefaultTimeout(20_000)
})

after(async () => {
  await browser?.close()
  await api(`/api/jobs/${JOB}`, { method: 'DELETE' }).catch(() => {})
  if (viewerMade) await api(`/api/accounts/${VIEWER}`, { method: 'DELETE' }).catch(() => {})
})

describe('compliance', () => {
  test('a viewer sees the alert but no Ack button', async (t) => {
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
      await vpage.goto(BASE + '/alerts?state=open')
      const row = vpage.getByRole('row').filter({ hasText: JOB })
      await row.waitFor()
      // Not acknowledged yet (the operator's test comes next), yet no button for a viewer.
      assert.equal(await row.getByTestId('acked-by').count(), 0)
      assert.equal(await vpage.getByRole('button', { name: /^Acknowledge alert/ }).count(), 0)
    } finally {
      await vctx.close()
    }
  })

  test('the failing PC, the alert badge, ack', async () => {
    await page.goto(BASE + '/')
    // The header badge counts the one open alert (a fresh fleet has no other).
    assert.equal((await openTotal()) - baseline, 1)
    const want = String(await openTotal())
    await waitFor(`badge shows ${want}`, async () => (await page.getByTestId('alert-count').innerText()).trim() === want)

    await page.getByRole('link', { name: 'Compliance', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Compliance', exact: true }).waitFor()
    const row = page.getByRole('row').filter({ hasText: JOB })
    await row.waitFor()
    const text = await row.innerText()
    assert.match(text, /50 %/)
    assert.match(text, /critical/)

    // Its failing PCs: e2e-pc-1 only, linking to the agent page.
    await row.getByRole('link', { name: JOB }).click()
    const pcs = page.getByRole('table', { name: `PCs of ${JOB}` })
    await pcs.getByRole('link', { name: 'e2e-pc-1' }).waitFor()
    assert.equal(await pcs.getByRole('link', { name: 'e2e-pc-2' }).count(), 0)
    // The trend chart of the check: today's point is its 50 % (GET /api/checks/{id}/trend).
    const trend = page.getByTestId('compliance-trend')
    await trend.locator('canvas').waitFor()
    assert.match(await trend.getByRole('img').getAttribute('aria-label'), new RegExp(`% of PCs passing ${JOB} over the last 30 days: from .* to 50 %`))
    const days = (await api(`/api/checks/${JOB}/trend?days=7`)).json.days
    assert.equal(days.length, 7)
    assert.deepEqual(days.at(-1), { ...days.at(-1), passing: 1, failing: 1, passing_pct: 50 })
    await page.getByRole('radio', { name: '7 days' }).click()
    await page.waitForURL(/days=7/)
    await trend.locator('canvas').waitFor()
    await shot('compliance')
    await pcs.getByRole('link', { name: 'e2e-pc-1' }).click()
    await page.waitForURL(/\/agents\/e2e-pc-1$/)

    // The badge opens the Alerts page; Ack records the operator.
    await page.getByTestId('alert-badge').click()
    await page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor()
    const alert = page.getByRole('row').filter({ hasText: JOB })
    await alert.waitFor()
    assert.match(await alert.innerText(), /e2e-pc-1/)
    const [{ id }] = await openAlerts()
    await alert.getByRole('button', { name: `Acknowledge alert ${id}` }).click()
    await alert.getByTestId('acked-by').waitFor()
    const who = (await alert.getByTestId('acked-by').innerText()).trim()
    assert.ok(who, 'acked_by shown')
    const [acked] = await openAlerts()
    assert.equal(acked.acked_by, who)
    await shot('alerts')
  })

})
