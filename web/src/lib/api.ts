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

export interface ReqOpts {
  method?: string
  body?: unknown
  /** Send the body as-is with this content type (YAML editors). */
  contentType?: string
  signal?: AbortSignal
}

async function request(path: string, o: ReqOpts = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const tok = getToken()
  if (tok) headers.Authorization = `Bearer ${tok}`
  let body: BodyInit | undefined
  if (o.body !== undefined) {
    if (o.contentType) {
      headers['Content-Type'] = o.contentType
      body = o.body as string
    } else {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(o.body)
    }
  }
  const res = await fetch(path, { method: o.method ?? 'GET', headers, body, signal: o.signal })
  if (res.ok) return res
  let msg = res.statusText || `HTTP ${res.status}`
  let field: string | undefined
  try {
    const j = await res.json()
    if (j && typeof j.error === 'string') msg = j.error
    if (j && typeof j.field === 'string') field = j.field
  } catch {
    /* not JSON */
  }
  if (res.status === 401 && !path.startsWith('/api/auth/login')) setToken('')
  throw new ApiError(res.status, msg, field)
}

export async function api<T>(path: string, o: ReqOpts = {}): Promise<T> {
  const res = await request(path, o)
  if (res.status === 204) return undefined as T
  const text = await res.text()
  if (!text) return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    return text as unknown as T
  }
}

export interface Page<T> {
  items: T[]
  total: number
}

/** A list endpoint: rows plus X-Total-Count (total before paging). */
export async function apiList<T>(path: string, signal?: AbortSignal): Promise<Page<T>> {
  const res = await request(path, { signal })
  const items = ((await res.json()) ?? []) as T[]
  const h = res.headers.get('X-Total-Count')
  const total = h === null ? items.length : Number(h)
  return { items, total: Number.isFinite(total) ? total : items.length }
}

/** Reads every page of a list (for CSV export and "select all"). */
export async function apiAll<T>(base: string, pageSize = 1000, max = 200_000): Promise<T[]> {
  const out: T[] = []
  for (let offset = 0; offset < max; offset += pageSize) {
    const sep = base.includes('?') ? '&' : '?'
    const p = await apiList<T>(`${base}${sep}limit=${pageSize}&offset=${offset}`)
    out.push(...p.items)
    if (p.items.length < pageSize || out.length >= p.total) break
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
