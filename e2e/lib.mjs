// Shared helpers: launch Debian's Chromium through playwright-core and talk to the API.
import { chromium } from 'playwright-core'

export const BASE = (process.env.KANADE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
export const TOKEN = process.env.KANADE_TOKEN ?? ''
/** Token for API calls made by the tests themselves; set by apiLogin() when only a password is given. */
export const session = { token: TOKEN }
export const USER = process.env.KANADE_USER ?? ''
export const PASSWORD = process.env.KANADE_PASSWORD ?? ''

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
}

/** A context that is already signed in (token in localStorage) with a theme. */
export async function context(browser, { theme = 'light', viewport = { width: 1440, height: 900 }, token = TOKEN } = {}) {
  const ctx = await browser.newContext({ viewport, colorScheme: theme, deviceScaleFactor: 1 })
  await ctx.addInitScript(
    ([tok, th]) => {
      if (tok && !sessionStorage.getItem('kanade.e2e.init')) localStorage.setItem('kanade.token', tok)
      sessionStorage.setItem('kanade.e2e.init', '1')
      localStorage.setItem('kanade.theme', th)
    },
    [token, theme],
  )
  return ctx
}

export async function api(path, { method = 'GET', body, token = session.token, contentType } = {}) {
  const headers = { Accept: 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  let data
  if (body !== undefined) {
    headers['Content-Type'] = contentType ?? 'application/json'
    data = contentType ? body : JSON.stringify(body)
  }
  const r = await fetch(BASE + path, { method, headers, body: data })
  const text = await r.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = text
  }
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`)
  return { status: r.status, json, headers: r.headers }
}

/** Logs in with KANADE_USER / KANADE_PASSWORD for the tests' own API calls. */
export async function apiLogin() {
  if (session.token || !USER) return
  const { json } = await api('/api/auth/login', { method: 'POST', body: { username: USER, password: PASSWORD }, token: '' })
  session.token = json.token
}

/** Polls fn until it returns a truthy value (no fixed sleeps). */
export async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
