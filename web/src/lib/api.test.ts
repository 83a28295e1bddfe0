// The transport over real HTTP: a local server answers what the Go backend
// would, and the generated client's functions go through lib/api.ts to it.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, allPages, transport } from './api'
import { createApi } from './api.gen'
import { getToken, setToken } from './auth'

type Seen = { method: string; url: string; auth?: string; type?: string; body: string }
let seen: Seen[] = []
let reply: (req: IncomingMessage) => { status: number; body?: string; headers?: Record<string, string> }
let server: Server
const client = createApi(transport)

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, type: req.headers['content-type'], body })
      const r = reply(req)
      res.writeHead(r.status, { 'Content-Type': 'application/json', ...r.headers })
      res.end(r.body)
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const realFetch = globalThis.fetch
  // The dashboard's paths are relative to its origin; here that origin is the test server.
  vi.stubGlobal('fetch', (path: string, init?: RequestInit) => realFetch(base + path, init))
  const store = new Map<string, string>()
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  })
})
afterAll(() => {
  vi.unstubAllGlobals()
  server.close()
})
beforeEach(() => {
  seen = []
  setToken('tok')
})

describe('transport', () => {
  it('sends the token and the query without empty values, and reads the total', async () => {
    reply = () => ({ status: 200, body: '[{"pc_id":"a"},{"pc_id":"b"}]', headers: { 'X-Total-Count': '7' } })
    const l = await client.listAgents({ status: 'online', q: '', group: undefined, sort: 'pc_id', limit: 2, offset: 0 })
    expect(l).toEqual({ items: [{ pc_id: 'a' }, { pc_id: 'b' }], total: 7, estimated: false, next: '' })
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/agents?status=online&sort=pc_id&limit=2', auth: 'Bearer tok' })
  })

  it('sends JSON bodies as JSON and manifests as YAML', async () => {
    reply = () => ({ status: 200, body: '{"group":"g"}' })
    await client.addAgentGroup('pc 1', { group: 'g' })
    reply = () => ({ status: 200, body: '{"id":"j"}' })
    await client.putJob('id: j\n')
    expect(seen.map((s) => [s.method, s.url, s.type, s.body])).toEqual([
      ['POST', '/api/agents/pc%201/groups', 'application/json', '{"group":"g"}'],
      ['POST', '/api/jobs', 'application/yaml', 'id: j\n'],
    ])
  })

  it('sends a release binary as octet-stream, with its query', async () => {
    reply = () => ({ status: 201, body: '{"version":"1.4.0","os":"linux","arch":"amd64"}' })
    const r = await client.uploadRelease({ version: '1.4.0', os: 'linux', arch: 'amd64' }, new Blob(['\x7fELF']))
    expect(r.version).toBe('1.4.0')
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/releases?version=1.4.0&os=linux&arch=amd64', type: 'application/octet-stream', body: '\x7fELF' })
  })

  it('answers undefined for 204', async () => {
    reply = () => ({ status: 204 })
    await expect(client.deleteAgent('a')).resolves.toBeUndefined()
  })

  it('throws ApiError with the message and the field', async () => {
    reply = () => ({ status: 422, body: '{"error":"must be a positive integer","field":"limit"}' })
    const e = await client.listAudit({ limit: 5 }).catch((x) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect([e.status, e.message, e.field]).toEqual([422, 'must be a positive integer', 'limit'])
    expect(getToken()).toBe('tok')
  })

  it('ends the session on 401, except for a wrong password at sign-in', async () => {
    reply = () => ({ status: 401, body: '{"error":"bad credentials"}' })
    await expect(client.login({ username: 'u', password: 'p' })).rejects.toMatchObject({ status: 401 })
    expect(getToken()).toBe('tok')
    await expect(client.me()).rejects.toMatchObject({ status: 401 })
    expect(getToken()).toBe('')
  })

  it('returns fleet health with its 503 (degraded) but fails other 503s', async () => {
    reply = () => ({ status: 503, body: '{"status":"degraded","problems":["jetstream unreachable"]}' })
    await expect(client.fleetHealth()).resolves.toMatchObject({ status: 'degraded', problems: ['jetstream unreachable'] })
    await expect(client.getFreeze()).rejects.toMatchObject({ status: 503 })
  })

  it('reads every page of a list by cursor', async () => {
    reply = (req): { status: number; body: string; headers: Record<string, string> } => {
      const cur = new URL(req.url!, 'http://x').searchParams.get('cursor')
      return cur === null
        ? { status: 200, body: '[1,2]', headers: { 'X-Total-Count': '30000', 'X-Total-Count-Estimated': 'true', 'X-Next-Cursor': 'c2' } }
        : { status: 200, body: '[3]', headers: { 'X-Total-Count': '3' } }
    }
    const first = await client.listResults({ pc_id: 'a', limit: 2 })
    expect(first).toEqual({ items: [1, 2], total: 30000, estimated: true, next: 'c2' })
    seen.length = 0
    const all = await allPages((p) => client.listResults({ pc_id: 'a', ...p }), 2)
    expect(all).toEqual([1, 2, 3])
    expect(seen.map((s) => s.url)).toEqual(['/api/results?pc_id=a&limit=2', '/api/results?pc_id=a&limit=2&cursor=c2'])
  })
})

describe('CSV export requests', () => {
  it('keeps the list path and filters, drops paging, adds format=csv', async () => {
    const { csvURL, requestOf } = await import('./api')
    const req = requestOf((api) => api.listResults({ status: 'failure', job_id: 'a b', limit: 50, cursor: 'C', since: '' }))
    expect(req.path).toBe('/api/results')
    expect(csvURL(req)).toBe('/api/results?status=failure&job_id=a+b&format=csv')
    expect(csvURL(requestOf((api) => api.listAgents({ q: '=x', offset: 200, sort: 'hostname' })))).toBe('/api/agents?q=%3Dx&sort=hostname&format=csv')
    expect(csvURL(requestOf((api) => api.listAudit({ format: 'json' } as never)))).toBe('/api/audit?format=csv')
  })

  it('names the file as the server does', async () => {
    const { dispositionName } = await import('./api')
    expect(dispositionName('attachment; filename="agents.csv"', 'x.csv')).toBe('agents.csv')
    expect(dispositionName(null, 'x.csv')).toBe('x.csv')
  })
})
