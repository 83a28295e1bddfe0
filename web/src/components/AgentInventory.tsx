// The agent page's inventory (SPEC §14): the PC's latest built-in facts
// and the timeline of what changed.
import { t } from '../i18n'
import { usePcFacts, usePcHistory } from '../lib/queries/facts'
import { formatBytes } from '../lib/time'
import type { AgentFacts, FactDisk, InventoryChange } from '../lib/types'
import { Card, ErrorBox, KV, RelTime, Spinner } from './ui'

export function InventoryFacts({ pc, interval }: { pc: string; interval: number | false }) {
  const facts = usePcFacts(pc, { refetchInterval: interval })
  return (
    <Card title={t('inv.facts')} id="inv-facts">
      {facts.isPending ? <Spinner /> : facts.error ? <ErrorBox error={facts.error} /> : facts.data ? <FactsView f={facts.data} /> : <p className="muted">{t('inv.noFacts')}</p>}
    </Card>
  )
}

function FactsView({ f }: { f: AgentFacts }) {
  const os = [f.os_family, f.os_version].filter(Boolean).join(' ')
  const ifaces = (f.interfaces ?? []).filter((i) => (i.ips ?? []).length > 0)
  const users = f.logged_in_users ?? []
  return (
    <KV
      items={[
        [t('inv.os'), os || '—'],
        [t('inv.build'), f.os_build || '—'],
        [t('inv.kernel'), f.kernel ? <span className="mono">{f.kernel}</span> : '—'],
        [t('inv.cpu'), f.cpu_model ? `${f.cpu_model} (${t('inv.cores', { n: f.cpu_cores })})` : t('inv.cores', { n: f.cpu_cores })],
        [t('inv.memory'), formatBytes(f.memory_bytes)],
        [t('inv.disks'), <Disks disks={f.disks ?? []} />],
        [
          t('inv.interfaces'),
          ifaces.length === 0 ? '—' : (
            <ul className="inv-list">
              {ifaces.map((i) => (
                <li key={i.name}>
                  <span className="mono">{i.name}</span> <span className="mono muted">{(i.ips ?? []).join(', ')}</span>
                </li>
              ))}
            </ul>
          ),
        ],
        [t('inv.users'), users.length ? users.join(', ') : t('inv.nobody')],
        [t('inv.timezone'), f.timezone || '—'],
        [t('inv.collected'), <RelTime at={f.collected_at} />],
      ]}
    />
  )
}

function Disks({ disks }: { disks: FactDisk[] }) {
  if (disks.length === 0) return <>—</>
  return (
    <ul className="inv-list">
      {disks.map((d) => {
        const used = d.size_bytes > 0 ? Math.min(100, ((d.size_bytes - d.free_bytes) / d.size_bytes) * 100) : 0
        const label = t('inv.diskUse', { mount: d.mount, free: formatBytes(d.free_bytes), size: formatBytes(d.size_bytes) })
        return (
          <li key={d.mount} className="inv-disk">
            <span className="mono">{d.mount}</span>
            <span className="bar-track" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(used)} title={label}>
              <span className={`bar-fill${used >= 90 ? ' bar-full' : ''}`} style={{ width: `${used}%` }} />
            </span>
            <span className="bar-num">{t('inv.free', { free: formatBytes(d.free_bytes), size: formatBytes(d.size_bytes) })}</span>
          </li>
        )
      })}
    </ul>
  )
}

export function InventoryChanges({ pc, interval }: { pc: string; interval: number | false }) {
  const hist = usePcHistory(pc, 50, { refetchInterval: interval })
  return (
    <Card title={t('inv.changes')} id="inv-changes">
      {hist.isPending ? (
        <Spinner />
      ) : hist.error ? (
        <ErrorBox error={hist.error} />
      ) : (hist.data ?? []).length === 0 ? (
        <p className="muted">{t('inv.noChanges')}</p>
      ) : (
        <ol className="inv-timeline">
          {(hist.data ?? []).map((c) => (
            <li key={`${c.stream}/${c.stream_seq}/${c.table}/${c.key}/${c.field}`}>
              <RelTime at={c.at} />
              <span className="inv-what">
                <span className="mono">{c.table === 'facts' ? c.field : `${c.table}: ${c.key}`}</span> <ChangeText c={c} />
              </span>
            </li>
          ))}
        </ol>
      )}
    </Card>
  )
}

function ChangeText({ c }: { c: InventoryChange }) {
  const v = (x: unknown) => {
    if (x === null || x === undefined) return '—'
    if (typeof x === 'string') return x || '""'
    return JSON.stringify(x)
  }
  if (c.change === 'added') return <span className="inv-new">{t('inv.added', { v: v(c.new) })}</span>
  if (c.change === 'removed') return <span className="inv-old">{t('inv.removed', { v: v(c.old) })}</span>
  return (
    <span>
      <span className="inv-old">{v(c.old)}</span> → <span className="inv-new">{v(c.new)}</span>
    </span>
  )
}
