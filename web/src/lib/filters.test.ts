import { describe, expect, it } from 'vitest'
import {
  agentQueryToAPI,
  agentQueryToURL,
  defaultAgentQuery,
  filterAgents,
  filterJobs,
  allTags,
  parseAgentQuery,
  parseResultFilter,
  resultFilterToAPI,
  sinceFromPreset,
  skipReason,
  splitList,
  toggleSort,
} from './filters'
import type { Agent, Job } from './types'

const agent = (pc_id: string, o: Partial<Agent> = {}): Agent => ({
  pc_id,
  hostname: pc_id.toUpperCase(),
  os_family: 'linux',
  os_version: '12',
  arch: 'amd64',
  agent_version: '0.1.0',
  last_heartbeat: '2026-05-01T12:00:00Z',
  boot_time: null,
  agent_rss_bytes: 0,
  agent_cpu_pct: 0,
  running: 0,
  online: true,
  groups: [],
  update_state: '',
  ...o,
})

describe('agent query', () => {
  it('parses the URL with safe defaults', () => {
    expect(parseAgentQuery(new URLSearchParams(''))).toEqual(defaultAgentQuery)
    const q = parseAgentQuery(new URLSearchParams('status=offline&q=%20web%20&sort=last_heartbeat&order=desc&group=canary'))
    expect(q).toEqual({ status: 'offline', q: 'web', sort: 'last_heartbeat', order: 'desc', group: 'canary', update_state: '', version: '', quarantined: '' })
    const u = parseAgentQuery(new URLSearchParams('update_state=failed&version=1.4.0&quarantined=1.5.0'))
    expect([u.update_state, u.version, u.quarantined]).toEqual(['failed', '1.4.0', '1.5.0'])
    expect(parseAgentQuery(new URLSearchParams('update_state=exploded')).update_state).toBe('')
    expect(parseAgentQuery(agentQueryToURL(u))).toEqual(u)
    expect(agentQueryToAPI(u, 50, 0)).toBe('update_state=failed&version=1.4.0&quarantined=1.5.0&sort=pc_id&order=asc&limit=50&offset=0')
    expect(parseAgentQuery(new URLSearchParams('status=weird&sort=DROP&order=up'))).toEqual(defaultAgentQuery)
  })
  it('round-trips through the URL and omits defaults', () => {
    expect(agentQueryToURL(defaultAgentQuery).toString()).toBe('')
    const q = { ...defaultAgentQuery, status: 'online' as const, q: 'pc-1' }
    expect(parseAgentQuery(agentQueryToURL(q))).toEqual(q)
  })
  it('builds the API query with paging and an overriding status', () => {
    const q = { ...defaultAgentQuery, status: 'online' as const, q: 'a b' }
    expect(agentQueryToAPI(q, 200, 400)).toBe('status=online&q=a+b&sort=pc_id&order=asc&limit=200&offset=400')
    expect(agentQueryToAPI(q, 1, 0, 'all')).toBe('q=a+b&sort=pc_id&order=asc&limit=1&offset=0')
  })
  it('toggles sort order and resets it on a new column', () => {
    const q1 = toggleSort(defaultAgentQuery, 'pc_id')
    expect(q1.order).toBe('desc')
    const q2 = toggleSort(q1, 'hostname')
    expect([q2.sort, q2.order]).toEqual(['hostname', 'asc'])
    expect(toggleSort(defaultAgentQuery, 'last_heartbeat').order).toBe('desc')
  })
  it('filters by update state, version and quarantined version like the server', () => {
    const all = [agent('a', { update_state: 'failed' }), agent('b', { agent_version: '1.4.0', update_state: 'current' }), agent('c', { update_state: 'quarantined', quarantined_version: '1.4.0' })]
    const ids = (q: Partial<typeof defaultAgentQuery>) => filterAgents(all, { ...defaultAgentQuery, ...q }).map((a) => a.pc_id)
    expect(ids({ update_state: 'failed' })).toEqual(['a'])
    expect(ids({ version: '1.4.0' })).toEqual(['b'])
    expect(ids({ quarantined: '1.4.0' })).toEqual(['c'])
  })
  it('filters and sorts client-side like the server', () => {
    const all = [
      agent('pc-3', { online: false, groups: ['canary'] }),
      agent('pc-1', { hostname: 'web-1' }),
      agent('pc-2', { hostname: 'db', groups: ['canary'] }),
    ]
    expect(filterAgents(all, defaultAgentQuery).map((a) => a.pc_id)).toEqual(['pc-1', 'pc-2', 'pc-3'])
    expect(filterAgents(all, { ...defaultAgentQuery, status: 'offline' }).map((a) => a.pc_id)).toEqual(['pc-3'])
    expect(filterAgents(all, { ...defaultAgentQuery, q: 'WEB' }).map((a) => a.pc_id)).toEqual(['pc-1'])
    expect(filterAgents(all, { ...defaultAgentQuery, group: 'canary', order: 'desc' }).map((a) => a.pc_id)).toEqual(['pc-3', 'pc-2'])
    expect(filterAgents(all, { ...defaultAgentQuery, sort: 'hostname' }).map((a) => a.hostname)).toEqual(['PC-3', 'db', 'web-1']) // byte order, like SQLite's BINARY collation
  })
})

describe('jobs filter', () => {
  const job = (id: string, tags: string[], description = ''): Job => ({ id, version: '1', description, tags, status: 'ACTIVE', pinned_version: null, execute: { shell: 'sh', script: '', timeout: '1m', run_as: 'system' } })
  const jobs = [job('cleanup', ['hygiene', 'win']), job('inventory', ['probe']), job('reboot', ['win'], 'Restart the PC')]
  it('matches text in id, description and tags', () => {
    expect(filterJobs(jobs, 'restart', []).map((j) => j.id)).toEqual(['reboot'])
    expect(filterJobs(jobs, 'PROBE', []).map((j) => j.id)).toEqual(['inventory'])
    expect(filterJobs(jobs, '', []).length).toBe(3)
  })
  it('requires every selected tag', () => {
    expect(filterJobs(jobs, '', ['win']).map((j) => j.id)).toEqual(['cleanup', 'reboot'])
    expect(filterJobs(jobs, '', ['win', 'hygiene']).map((j) => j.id)).toEqual(['cleanup'])
  })
  it('lists tags once, sorted', () => {
    expect(allTags(jobs)).toEqual(['hygiene', 'probe', 'win'])
  })
})

describe('result filter', () => {
  const now = Date.parse('2026-05-01T12:00:00Z')
  it('defaults to the last 24 h and ignores bad values', () => {
    expect(parseResultFilter(new URLSearchParams('status=bogus&since=2y'))).toEqual({ job_id: '', pc_id: '', exec_id: '', status: '', since: '24h' })
  })
  it('builds the API query', () => {
    const f = parseResultFilter(new URLSearchParams('job_id=cleanup&status=failure&since=1h'))
    expect(resultFilterToAPI(f, now, 50, 100)).toBe('job_id=cleanup&status=failure&since=2026-05-01T11%3A00%3A00Z&limit=50&offset=100')
    expect(resultFilterToAPI({ ...f, since: 'all' }, now, 50, 0)).not.toContain('since')
  })
  it('computes since', () => {
    expect(sinceFromPreset('7d', now)).toBe('2026-04-24T12:00:00Z')
    expect(sinceFromPreset('all', now)).toBeUndefined()
  })
})

describe('helpers', () => {
  it('maps reserved exit codes to skip reasons', () => {
    expect(skipReason(124)).toBe('skip.pin')
    expect(skipReason(125)).toBe('skip.deadline')
    expect(skipReason(126)).toBe('skip.revoked')
    expect(skipReason(1)).toBeNull()
  })
  it('splits PC lists', () => {
    expect(splitList(' pc-1, pc-2\npc-3  pc-1 ,,')).toEqual(['pc-1', 'pc-2', 'pc-3'])
  })
})
