import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import { useCanWrite } from '../lib/session'
import { enc, mapLimit } from '../lib/api'
import { agentQueryToURL, parseAgentQuery, toggleSort, type AgentQuery, type AgentSortKey, type AgentStatus } from '../lib/filters'
import { useFallbackInterval } from '../lib/live'
import { agentsExport, allAgentsMatching, invalidateAgents, patchAgentsJoinedGroup, pingAgent, useAgentCounts, useAgentList } from '../lib/queries/agents'
import { addToGroup, invalidateGroups, useGroups } from '../lib/queries/groups'
import { Link, useSearchParams } from '../lib/router'
import type { Agent } from '../lib/types'
import { t } from '../i18n'
import { Button, Chips, Dialog, ErrorBox, Field, OnlineDot, RelTime, useToast } from '../components/ui'
import { useVirtual } from '../components/VirtualList'
import { UpdateChip } from '../components/UpdateState'
import { ExecDialog } from '../components/ExecDialog'
import { ExportCSV } from '../components/ExportCSV'

const PAGE = 200
const statuses: AgentStatus[] = ['all', 'online', 'offline']
const phoneMQ = typeof window !== 'undefined' ? window.matchMedia('(max-width: 720px)') : null
export function usePhone() {
  return useSyncExternalStore(
    (fn) => {
      phoneMQ?.addEventListener('change', fn)
      return () => phoneMQ?.removeEventListener('change', fn)
    },
    () => !!phoneMQ?.matches,
  )
}

function useDebounced<T>(v: T, ms: number) {
  const [d, setD] = useState(v)
  useEffect(() => {
    const h = setTimeout(() => setD(v), ms)
    return () => clearTimeout(h)
  }, [v, ms])
  return d
}

const sortCols: { key: AgentSortKey; label: 'agents.pc' | 'agents.hostname' | 'agents.os' | 'agents.version' | 'agents.lastSeen' }[] = [
  { key: 'pc_id', label: 'agents.pc' },
  { key: 'hostname', label: 'agents.hostname' },
  { key: 'os_family', label: 'agents.os' },
  { key: 'agent_version', label: 'agents.version' },
  { key: 'last_heartbeat', label: 'agents.lastSeen' },
]

export function Agents() {
  const [params, setParams] = useSearchParams()
  const q = parseAgentQuery(params)
  const setQ = (n: AgentQuery) => setParams(agentQueryToURL(n))
  const [text, setText] = useState(q.q)
  const debounced = useDebounced(text, 250)
  useEffect(() => {
    if (debounced.trim() !== q.q) setQ({ ...q, q: debounced.trim() })
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced])
  const interval = useFallbackInterval()
  const phone = usePhone()
  const rowH = phone ? 76 : 44
  const canWrite = useCanWrite()
  const toast = useToast()
  const qc = useQueryClient()

  const counts = useAgentCounts(q, statuses, { refetchInterval: interval })

  // Loaded by cursor, page after page, as the window nears the last row
  // loaded (offsets are served only up to 10 000 rows; the fleet is larger).
  const list = useAgentList(q, PAGE, { refetchInterval: interval })
  const total = list.total
  const v = useVirtual(total, rowH)
  const { more, hasMore, rows: loaded } = list
  useEffect(() => {
    if (hasMore && v.end + PAGE / 2 > loaded.length) more()
  }, [v.end, loaded.length, hasMore, more])
  const rowAt = (i: number): Agent | undefined => loaded[i]

  // ---- selection and bulk actions ----
  const [sel, setSel] = useState<Set<string>>(new Set())
  const toggle = (id: string) =>
    setSel((s) => {
      const n = new Set(s)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })
  const [busy, setBusy] = useState<string | null>(null)
  const [groupDlg, setGroupDlg] = useState(false)
  const [execDlg, setExecDlg] = useState(false)
  const [pingOut, setPingOut] = useState<{ pc: string; ok: boolean; msg: string }[] | null>(null)

  const selectAll = async () => {
    setBusy('select')
    try {
      const all = await allAgentsMatching(q)
      setSel(new Set(all.map((a) => a.pc_id)))
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    } finally {
      setBusy(null)
    }
  }
  const ping = async () => {
    setBusy('ping')
    const ids = [...sel]
    const res = await mapLimit(ids, 8, (pc) => pingAgent(pc))
    setPingOut(ids.map((pc, i) => ({ pc, ok: res[i].ok, msg: res[i].ok ? t('agents.pong') : String((res[i] as { error: Error }).error?.message) })))
    setBusy(null)
  }

  const statusOpts = statuses.map((s, i) => ({ value: s, label: t(`agents.${s}`), count: counts[i].data }))
  const header = (
    <div className="vrow vhead" role="row">
      <span role="columnheader" className="c-check">
        <input
          type="checkbox"
          aria-label={t('agents.selectAll', { count: total })}
          checked={total > 0 && sel.size >= total}
          ref={(el) => {
            if (el) el.indeterminate = sel.size > 0 && sel.size < total
          }}
          onChange={(e) => (e.target.checked ? selectAll() : setSel(new Set()))}
          disabled={busy === 'select'}
        />
      </span>
      <span role="columnheader" className="c-dot" />
      {sortCols.map((c) => (
        <span key={c.key} role="columnheader" className={`c-${c.key}`} aria-sort={q.sort === c.key ? (q.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
          <button type="button" className="sort-btn" onClick={() => setQ(toggleSort(q, c.key))}>
            {t(c.label)} {q.sort === c.key ? (q.order === 'asc' ? '▲' : '▼') : ''}
          </button>
        </span>
      ))}
      <span role="columnheader" className="c-groups">
        {t('agents.groups')}
      </span>
    </div>
  )

  const rows = []
  for (let i = v.start; i < v.end; i++) {
    const a = rowAt(i)
    rows.push(
      a ? (
        <div key={a.pc_id} className={`vrow${sel.has(a.pc_id) ? ' selected' : ''}`} role="row" aria-rowindex={i + 2} style={{ height: rowH }}>
          <span role="cell" className="c-check">
            <input type="checkbox" aria-label={t('agents.select', { pc: a.pc_id })} checked={sel.has(a.pc_id)} onChange={() => toggle(a.pc_id)} />
          </span>
          <span role="cell" className="c-dot">
            <OnlineDot online={a.online} />
          </span>
          <span role="cell" className="c-pc_id">
            <Link to={`/agents/${enc(a.pc_id)}`}>{a.pc_id}</Link>
          </span>
          <span role="cell" className="c-hostname" data-label={t('agents.hostname')}>
            {a.hostname}
          </span>
          <span role="cell" className="c-os_family" data-label={t('agents.os')}>
            {a.os_family} <span className="muted">{a.os_version}</span>
          </span>
          <span role="cell" className="c-agent_version mono" data-label={t('agents.version')}>
            {a.agent_version} <UpdateChip a={a} compact />
          </span>
          <span role="cell" className="c-last_heartbeat" data-label={t('agents.lastSeen')}>
            <RelTime at={a.last_heartbeat} />
          </span>
          <span role="cell" className="c-groups" data-label={t('agents.groups')}>
            {(a.groups ?? []).map((g) => (
              <Link key={g} className="tag" to={`/agents?group=${enc(g)}`}>
                {g}
              </Link>
            ))}
          </span>
        </div>
      ) : (
        <div key={`sk-${i}`} className="vrow skeleton" role="row" aria-rowindex={i + 2} style={{ height: rowH }}>
          <span role="cell" className="c-all">
            {t('common.loading')}
          </span>
        </div>
      ),
    )
  }

  return (
    <div className="page page-agents">
      <div className="page-head">
        <h1>{t('nav.agents')}</h1>
        <div className="row">
          <ExportCSV request={() => agentsExport(q)} label={t('agents.exportCSV', { count: total })} disabled={!total} />
        </div>
      </div>
      <div className="toolbar">
        <Chips label={t('agents.statusFilter')} value={q.status} options={statusOpts} onChange={(s) => setQ({ ...q, status: s })} />
        <input type="search" className="search" placeholder={t('agents.search')} aria-label={t('agents.search')} value={text} onChange={(e) => setText(e.target.value)} />
        {q.group && (
          <span className="tag">
            {t('agents.inGroup', { group: q.group })}{' '}
            <button type="button" className="icon-btn" aria-label={t('common.clear')} onClick={() => setQ({ ...q, group: '' })}>
              ×
            </button>
          </span>
        )}
        {(
          [
            ['update_state', t('update.filter', { state: q.update_state })],
            ['version', t('update.filterVersion', { v: q.version })],
            ['quarantined', t('update.filterQuarantined', { v: q.quarantined })],
          ] as const
        )
          .filter(([k]) => q[k])
          .map(([k, label]) => (
            <span key={k} className="tag">
              {label}{' '}
              <button type="button" className="icon-btn" aria-label={`${t('common.clear')} ${label}`} onClick={() => setQ({ ...q, [k]: '' })}>
                ×
              </button>
            </span>
          ))}
        {phone && (
          <select aria-label={t('agents.sortBy')} value={`${q.sort}:${q.order}`} onChange={(e) => { const [s, o] = e.target.value.split(':'); setQ({ ...q, sort: s as AgentSortKey, order: o as 'asc' | 'desc' }) }}>
            {sortCols.flatMap((c) => [
              <option key={c.key + 'a'} value={`${c.key}:asc`}>{t(c.label)} ▲</option>,
              <option key={c.key + 'd'} value={`${c.key}:desc`}>{t(c.label)} ▼</option>,
            ])}
          </select>
        )}
      </div>
      {sel.size > 0 && (
        <div className="bulkbar" role="region" aria-label={t('agents.bulk')}>
          <strong>{t('agents.selected', { count: sel.size })}</strong>
          <Button small onClick={() => setGroupDlg(true)} disabled={!canWrite}>
            {t('agents.addToGroup')}
          </Button>
          <Button small onClick={() => setExecDlg(true)} disabled={!canWrite}>
            {t('agents.execJob')}
          </Button>
          <Button small onClick={ping} busy={busy === 'ping'}>
            {t('agents.ping')}
          </Button>
          <Button small variant="ghost" onClick={() => setSel(new Set())}>
            {t('common.clear')}
          </Button>
        </div>
      )}
      <ErrorBox error={list.error} />
      <div className={`vlist agents-list${phone ? ' as-cards' : ''}`} ref={v.ref} role="table" aria-label={t('nav.agents')} aria-rowcount={total + 1} tabIndex={0}>
        {!phone && header}
        <div className="vlist-inner" role="rowgroup" style={{ height: total * rowH }}>
          <div className="vlist-rows" style={{ transform: `translateY(${v.start * rowH}px)` }}>
            {rows}
          </div>
        </div>
        {!list.isPending && !list.error && total === 0 && <p className="empty">{q.q || q.status !== 'all' || q.group || q.update_state || q.version || q.quarantined ? t('agents.noMatch') : t('agents.none')}</p>}
      </div>
      <p className="muted small">{t('agents.footer', { count: total })}</p>

      <AddToGroupDialog
        open={groupDlg}
        onClose={() => setGroupDlg(false)}
        pcs={[...sel]}
        onDone={(group, added) => {
          // Membership reaches the agents table through the broker a moment
          // later; show it at once, then refetch to confirm.
          patchAgentsJoinedGroup(qc, group, added)
          invalidateGroups(qc)
          setTimeout(() => invalidateAgents(qc), 2000)
        }}
      />
      {execDlg && <ExecDialog open onClose={() => setExecDlg(false)} pcs={[...sel]} />}
      <Dialog open={!!pingOut} onClose={() => setPingOut(null)} title={t('agents.pingResults')}>
        <p>{t('agents.pingSummary', { ok: pingOut?.filter((p) => p.ok).length ?? 0, total: pingOut?.length ?? 0 })}</p>
        <ul className="plain-list">
          {(pingOut ?? []).map((p) => (
            <li key={p.pc}>
              <OnlineDot online={p.ok} /> <span className="mono">{p.pc}</span> — {p.msg}
            </li>
          ))}
        </ul>
      </Dialog>
    </div>
  )
}

function AddToGroupDialog({ open, onClose, pcs, onDone }: { open: boolean; onClose: () => void; pcs: string[]; onDone: (group: string, added: string[]) => void }) {
  const [group, setGroup] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const toast = useToast()
  const groups = useGroups({ enabled: open })
  const names = useMemo(() => (groups.data ?? []).map((g) => g.group), [groups.data])
  const submit = async () => {
    setBusy(true)
    setErr(null)
    const res = await mapLimit(pcs, 8, (pc) => addToGroup(pc, group.trim()))
    const bad = res.filter((r) => !r.ok)
    const g = group.trim()
    setBusy(false)
    if (bad.length) setErr(new Error(t('agents.groupPartial', { bad: bad.length, total: pcs.length, msg: String((bad[0] as { error: Error }).error?.message) })))
    else {
      toast(t('agents.groupAdded', { count: pcs.length, group: g }), 'ok')
      onClose()
    }
    onDone(g, pcs.filter((_, i) => res[i].ok))
  }
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={t('agents.addToGroupTitle', { count: pcs.length })}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!/^[A-Za-z0-9_-]{1,64}$/.test(group.trim())}>
            {t('agents.addToGroup')}
          </Button>
        </>
      }
    >
      <Field label={t('groups.group')} hint={t('groups.nameHint')}>
        <input list="group-names" value={group} onChange={(e) => setGroup(e.target.value)} autoFocus />
        <datalist id="group-names">
          {names.map((g) => (
            <option key={g} value={g} />
          ))}
        </datalist>
      </Field>
      <ErrorBox error={err} />
    </Dialog>
  )
}
