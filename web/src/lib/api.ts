// The transport under the generated client (api.gen.ts): how one ApiRequest
// goes over HTTP — the bearer token, the 401 that ends the session, errors as
// ApiError, a List's paging headers (X-Total-Count, X-Total-Count-Estimated,
// X-Next-Cursor). lib/client.ts joins it to
// createApi; only lib/queries/* use that client.
import { createApi, type ApiRequest, type List, type Transport } from './api.gen'
import { getToken, setToken } from './auth'

export class ApiError extends Error {
  status: number
  field?: string
  constructor(status: number, message: string, field?: string) {
    super(message)
    this.status = status
    this.field = field
  }
}

/** The path with its query string; undefined, '' and 0 are left out (the server's default applies). */
function target(req: ApiRequest): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v === undefined || v === null || v === '' || v === 0) continue
    if (Array.isArray(v)) {
      for (const x of v) q.append(k, x)
      continue
    }
    q.set(k, String(v))
  }
  const qs = q.toString()
  return qs ? `${req.path}?${qs}` : req.path
}

async function request(req: ApiRequest): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const tok = getToken()
  if (tok) headers.Authorization = `Bearer ${tok}`
  let body: BodyInit | undefined
  if (req.text !== undefined) {
    headers['Content-Type'] = 'application/yaml'
    body = req.text
  } else if (req.binary !== undefined) {
    headers['Content-Type'] = 'application/octet-stream'
    body = req.binary
  } else if (req.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(req.body)
  }
  const res = await fetch(target(req), { method: req.method, headers, body, signal: req.signal })
  // alsoOK: a status whose body is still the answer (fleet health's 503 = degraded, not failed).
  if (res.ok || req.alsoOK?.includes(res.status)) return res
  let msg = res.statusText || `HTTP ${res.status}`
  let field: string | undefined
  try {
    const j = await res.json()
    if (j && typeof j.error === 'string') msg = j.error
    if (j && typeof j.field === 'string') field = j.field
  } catch {
    /* not JSON */
  }
  // A wrong password at sign-in is a 401 too, but there is no session to end;
  // likewise a wrong or expired MFA code (POST and DELETE /api/auth/mfa).
  if (res.status === 401 && !req.path.startsWith('/api/auth/login') && req.path !== '/api/auth/mfa') setToken('')
  throw new ApiError(res.status, msg, field)
}

async function decode(res: Response): Promise<unknown> {
  if (res.status === 204) return undefined
  const text = await res.text()
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A list endpoint: rows, X-Total-Count (total before paging; estimated when flagged) and X-Next-Cursor. */
async function decodeList(res: Response): Promise<List<unknown>> {
  const items = ((await res.json()) ?? []) as unknown[]
  const h = res.headers.get('X-Total-Count')
  const total = h === null ? items.length : Number(h)
  return {
    items,
    total: Number.isFinite(total) ? total : items.length,
    estimated: res.headers.get('X-Total-Count-Estimated') === 'true',
    next: res.headers.get('X-Next-Cursor') ?? '',
  }
}

/** Sends one request of the generated client. */
export const transport: Transport = async (req) => {
  const res = await request(req)
  if (req.raw) return res.text()
  return req.list ? decodeList(res) : decode(res)
}

/**
 * Reads every page of a list by cursor (for CSV export, "select all" and
 * fleet-wide counts): the server serves offsets only up to 10 000, and a
 * cursor page costs the same at any depth.
 */
export async function allPages<T>(
  page: (p: { limit: number; cursor?: string }) => Promise<List<T>>,
  pageSize = 1000,
  max = 200_000,
): Promise<T[]> {
  const out: T[] = []
  let cursor: string | undefined
  while (out.length < max) {
    const p = await page({ limit: pageSize, cursor })
    out.push(...p.items)
    if (!p.next || p.items.length === 0) break
    cursor = p.next
  }
  return out
}

/** Runs fn over items with at most `n` in flight; collects per-item errors. */
export async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>) {
  const results: ({ ok: true; value: R } | { ok: false; error: unknown })[] = new Array(items.length)
  let next = 0
  async function worker() {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = { ok: true, value: await fn(items[i]) }
      } catch (error) {
        results[i] = { ok: false, error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return results
}

export const enc = encodeURIComponent

/**
 * The request a call of the generated client would send, not sent: the CSV
 * export asks the same list with the same filters (paths stay in api.gen.ts).
 */
export function requestOf(call: (api: ReturnType<typeof createApi>) => Promise<unknown>): ApiRequest {
  let seen: ApiRequest | undefined
  void call(createApi(async (req) => void (seen = req))).catch(() => undefined)
  if (!seen) throw new Error('requestOf: the call sent no request')
  return seen
}

/** Paging is the server's business in an export: the whole filtered list is streamed. */
const paging = new Set(['limit', 'offset', 'cursor', 'format'])

/** A list request as its CSV export: the same path and filters, format=csv, no paging. */
export function csvRequest(req: ApiRequest): ApiRequest {
  const query: NonNullable<ApiRequest['query']> = {}
  for (const [k, v] of Object.entries(req.query ?? {})) if (!paging.has(k)) query[k] = v
  query.format = 'csv'
  return { method: 'GET', path: req.path, query, signal: req.signal }
}

/** The URL of a list's CSV export (relative to the dashboard's origin). */
export function csvURL(req: ApiRequest): string {
  return target(csvRequest(req))
}

/** The file name the server gave (Content-Disposition), else fallback. */
export function dispositionName(header: string | null, fallback: string): string {
  const m = header ? /filename="([^"]+)"/.exec(header) : null
  return m ? m[1] : fallback
}

/**
 * Downloads a list as CSV. The server streams it (every page, the same
 * filters and role as the list); the dashboard authenticates with a bearer
 * header, which a plain link would not carry, so the file is fetched and
 * handed to the browser as an object URL. Returns the file name.
 */
export async function downloadCSV(req: ApiRequest): Promise<string> {
  const res = await request(csvRequest(req))
  const blob = await res.blob()
  const name = dispositionName(res.headers.get('Content-Disposition'), 'export.csv')
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
  return name
}
