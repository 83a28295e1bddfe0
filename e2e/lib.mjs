// Shared helpers: launch Debian's Chromium through playwright-core and talk to the API.
import { chromium } from 'playwright-core'
import { readFileSync } from 'node:fs'

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
/** lang: the dashboard's language (stored choice); '' leaves the browser's (locale). */
export async function context(browser, { theme = 'light', viewport = { width: 1440, height: 900 }, token = TOKEN, lang = 'en', locale = 'en-US' } = {}) {
  const ctx = await browser.newContext({ viewport, colorScheme: theme, deviceScaleFactor: 1, locale, acceptDownloads: true })
  await ctx.addInitScript(
    ([tok, th, lg]) => {
      if (tok && !sessionStorage.getItem('kanade.e2e.init')) localStorage.setItem('kanade.token', tok)
      if (lg && !sessionStorage.getItem('kanade.e2e.init')) localStorage.setItem('kanade.lang', lg)
      sessionStorage.setItem('kanade.e2e.init', '1')
      localStorage.setItem('kanade.theme', th)
    },
    [token, theme, lang],
  )
  return ctx
}

/**
 * The dashboard's strings of one language (web/src/i18n/<lang>.ts), so a
 * test can find the Japanese labels the way it finds the English ones.
 * s(key, vars) interpolates like the dashboard's t().
 */
export function strings(lang) {
  const src = readFileSync(new URL(`../web/src/i18n/${lang}.ts`, import.meta.url), 'utf8')
  const dict = {}
  for (const m of src.matchAll(/^\s*'([^']+)':\s*'((?:[^'\\]|\\.)*)',?\s*$/gm)) dict[m[1]] = m[2].replace(/\\(.)/g, '$1')
  const s = (key, vars = {}) => {
    let v = dict[typeof vars.count === 'number' ? `${key}_${vars.count === 1 ? 'one' : 'other'}` : key] ?? dict[key]
    if (v === undefined) throw new Error(`no string ${key} in ${lang}`)
    return v.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m))
  }
  s.dict = dict
  return s
}

/** Replaces the text of the CodeMirror editor inside scope (a locator or page). */
export async function fillCode(scope, text) {
  // Typing into CodeMirror under load can be lost (the editor chunk still
  // mounting, a re-render resetting the draft): fill, then wait until the
  // editor holds the text and keeps it, and fill again if it does not.
  const ed = scope.locator('.cm-content').first()
  await ed.waitFor()
  const want = text.replace(/\s+/g, '')
  const holds = async () => (await ed.innerText()).replace(/\s+/g, '') === want
  for (let attempt = 0; attempt < 5; attempt++) {
    await ed.click()
    await ed.press('ControlOrMeta+a')
    await ed.press('Delete')
    await ed.page().keyboard.insertText(text)
    for (const end = Date.now() + 3000; Date.now() < end; await ed.page().waitForTimeout(100)) {
      if (await holds()) {
        await ed.page().waitForTimeout(300)
        if (await holds()) return
      }
    }
  }
  throw new Error('the code editor did not keep the text typed into it')
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
