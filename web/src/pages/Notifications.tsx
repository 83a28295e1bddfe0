// Notification channels (SPEC §15, docs/checks.md), admins only: each
// channel is its own rule (alert transitions at or above min_severity for
// PCs in its groups). Secrets are write-only: typed once here, never shown
// again (the API returns only whether one is set). "Send test" queues a
// test notification through the real delivery queue and shows its outcome
// from the delivery log, which is listed below too.
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { channelInput, channelProblems, channelTypes, emptyChannelForm, severities, type ChannelForm, type ChannelType } from '../lib/channels'
import { useFallbackInterval } from '../lib/live'
import { createChannel, deleteChannel, invalidateChannels, testChannel, useChannels, useDeliveries, useDelivery } from '../lib/queries/notifications'
import { useMe } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { NotificationChannel, NotificationDelivery } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { Severity } from '../components/Severity'
import { Badge, Button, Card, Chips, Dialog, ErrorBox, Field, Pager, RelTime, Spinner, Table, useConfirm, useToast, type Tone } from '../components/ui'

const LIMIT = 50
const statusTone: Record<string, Tone> = { delivered: 'ok', failed: 'warn', gave_up: 'bad' }

export function DeliveryStatus({ d }: { d: NotificationDelivery }) {
  return <Badge tone={statusTone[d.status] ?? 'muted'}>{t(`notif.status.${d.status}` as Key)}</Badge>
}

export function Notifications() {
  const me = useMe()
  if (me.role !== 'admin')
    return (
      <div className="page">
        <h1>{t('nav.notifications')}</h1>
        <p className="muted">{t('auth.adminRequired')}</p>
      </div>
    )
  return <Channels />
}

/** Where a channel sends, without its secrets. */
function target(c: NotificationChannel): string {
  if (c.type === 'email') return `${(c.to ?? []).join(', ')} via ${c.smtp?.host ?? '?'}:${c.smtp?.port ?? ''}`
  if (c.type === 'webhook') return c.url ?? ''
  return c.url_set ? t('notif.urlSet') : '—'
}

function Channels() {
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const list = useChannels()
  const [creating, setCreating] = useState(false)
  const [test, setTest] = useState<{ channel: NotificationChannel; delivery: string } | null>(null)
  const [testing, setTesting] = useState('')
  const del = async (c: NotificationChannel) => {
    if (!(await confirm({ title: t('notif.deleteTitle', { name: c.name }), body: t('notif.deleteBody'), confirm: t('common.delete'), danger: true }))) return
    try {
      await deleteChannel(c.id)
      toast(t('notif.deleted', { name: c.name }), 'ok')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    await invalidateChannels(qc)
  }
  const sendTest = async (c: NotificationChannel) => {
    setTesting(c.id)
    try {
      const r = await testChannel(c.id)
      setTest({ channel: c, delivery: r.delivery_id })
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    } finally {
      setTesting('')
    }
  }
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.notifications')}</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          + {t('notif.new')}
        </Button>
      </div>
      <p className="muted">{t('notif.intro')}</p>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'notification-channels' }}
          rows={list.data ?? []}
          rowKey={(c) => c.id}
          empty={t('notif.none')}
          caption={t('nav.notifications')}
          cols={[
            { key: 'name', value: c => c.name, header: t('notif.name'), cell: (c) => <strong>{c.name}</strong> },
            { key: 'type', value: c => c.type, header: t('notif.type'), cell: (c) => t(`notif.type.${c.type}` as Key) },
            { key: 'target', value: c => target(c), header: t('notif.target'), cell: (c) => <span className="mono small">{target(c)}</span> },
            { key: 'sev', value: c => c.min_severity, header: t('notif.minSeverity'), cell: (c) => <Severity s={c.min_severity} /> },
            {
              key: 'groups',
              header: t('notif.groups'),
              cell: (c) => ((c.groups ?? []).length ? (c.groups ?? []).map((g) => <span key={g} className="tag">{g}</span>) : <span className="muted">{t('notif.allPCs')}</span>),
            },
            {
              key: 'secret',
              header: t('notif.secret'),
              cell: (c) => (c.secret_set || c.smtp?.password_set ? <Badge tone="ok">{t('notif.secretSet')}</Badge> : <span className="muted">—</span>),
            },
            {
              key: 'act',
              header: '',
              label: '',
              cell: (c) => (
                <span className="row">
                  <Button small busy={testing === c.id} onClick={() => sendTest(c)} aria-label={t('notif.testLabel', { name: c.name })}>
                    {t('notif.test')}
                  </Button>
                  <Button small variant="ghost" onClick={() => del(c)} aria-label={t('notif.deleteLabel', { name: c.name })}>
                    {t('common.delete')}
                  </Button>
                </span>
              ),
            },
          ]}
        />
      )}
      {test && <TestOutcome channel={test.channel} delivery={test.delivery} onClose={() => setTest(null)} />}
      <DeliveryLog channels={list.data ?? []} />
      {creating && (
        <CreateChannel
          onClose={() => setCreating(false)}
          onCreated={async (c) => {
            setCreating(false)
            toast(t('notif.created', { name: c.name }), 'ok')
            await invalidateChannels(qc)
          }}
        />
      )}
    </div>
  )
}

/** A test delivery's outcome: polled until its first attempt is in the log (a minute at most). */
function TestOutcome({ channel, delivery, onClose }: { channel: NotificationChannel; delivery: string; onClose: () => void }) {
  const [started] = useState(() => Date.now())
  const q = useDelivery(channel.id, delivery, {
    refetchInterval: (query) => ((query.state.data ?? []).length || Date.now() - started > 60_000 ? false : 1000),
  })
  const attempts = q.data ?? []
  const last = attempts[0]
  return (
    <Card
      title={t('notif.testTitle', { name: channel.name })}
      actions={
        <Button small variant="ghost" onClick={onClose}>
          {t('common.close')}
        </Button>
      }
    >
      <div role="status" data-testid="test-outcome">
        <ErrorBox error={q.error} />
        {last ? (
          <p>
            <DeliveryStatus d={last} /> {last.status_code ? t('notif.httpStatus', { code: last.status_code }) : ''} {last.error && <span className="mono small">{last.error}</span>}{' '}
            <span className="muted">
              {t('notif.attempt', { n: last.attempt })} · <RelTime at={last.at} />
            </span>
          </p>
        ) : Date.now() - started > 60_000 ? (
          <p className="muted">{t('notif.testNoAnswer')}</p>
        ) : (
          <p className="muted">
            <span className="spinner" aria-hidden /> {t('notif.testWaiting')}
          </p>
        )}
        <p className="muted small mono">{t('notif.deliveryId', { id: delivery })}</p>
      </div>
    </Card>
  )
}

function DeliveryLog({ channels }: { channels: NotificationChannel[] }) {
  const [status, setStatus] = useState('')
  const [channel, setChannel] = useState('')
  const interval = useFallbackInterval()
  const q = { status, channel, limit: LIMIT }
  const log = useDeliveries(q, { refetchInterval: interval || 15_000 })
  return (
    <Card title={t('notif.log')}>
      <div className="toolbar filters">
        <Chips
          label={t('common.status')}
          value={status}
          options={['', 'delivered', 'failed', 'gave_up'].map((s) => ({ value: s, label: s ? t(`notif.status.${s}` as Key) : t('notif.anyStatus') }))}
          onChange={setStatus}
        />
        <label className="row">
          <span className="muted">{t('notif.channel')}</span>
          <select value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="">{t('notif.anyChannel')}</option>
            {channels.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={log.error} />
      {log.isPending ? (
        <Spinner />
      ) : (
        <>
          <Table filter bulk={{ name: 'notification-deliveries' }}
            rows={log.rows}
            rowKey={(d) => String(d.id)}
            empty={t('notif.noDeliveries')}
            caption={t('notif.log')}
            cols={[
              { key: 'at', value: d => d.at, header: t('common.when'), cell: (d) => <span title={absoluteTime(d.at, locale)}><RelTime at={d.at} /></span> },
              { key: 'ch', value: d => d.channel_name || d.channel_id, header: t('notif.channel'), cell: (d) => d.channel_name || d.channel_id },
              { key: 'event', value: d => d.event, header: t('notif.event'), cell: (d) => <span className="mono small">{d.event}{d.check_id ? ` · ${d.check_id}` : ''}{d.count > 1 ? ` ×${d.count}` : ''}</span> },
              { key: 'sev', value: d => d.severity, header: t('comp.severity'), cell: (d) => (d.severity ? <Severity s={d.severity} /> : '—') },
              { key: 'status', value: d => d.status, header: t('common.status'), cell: (d) => <DeliveryStatus d={d} /> },
              { key: 'attempt', value: d => d.attempt, header: t('notif.attemptCol'), cell: (d) => d.attempt },
              { key: 'detail', value: d => [d.status_code || "", d.error].filter(Boolean).join(" "), header: t('notif.detail'), cell: (d) => <span className="mono small">{[d.status_code ? `HTTP ${d.status_code}` : '', d.error].filter(Boolean).join(' · ') || '—'}</span> },
              { key: 'replica', value: d => d.replica, header: t('notif.replica'), cell: (d) => <span className="muted small">{d.replica}</span> },
            ]}
          />
          <Pager shown={log.rows.length} total={log.total} estimated={log.estimated} hasMore={log.hasMore} loading={log.loadingMore} onMore={log.more} />
        </>
      )}
    </Card>
  )
}

function CreateChannel({ onClose, onCreated }: { onClose: () => void; onCreated: (c: NotificationChannel) => void }) {
  const [f, setF] = useState<ChannelForm>(emptyChannelForm)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const [tried, setTried] = useState(false)
  const set = <K extends keyof ChannelForm>(k: K) => (v: ChannelForm[K]) => setF((x) => ({ ...x, [k]: v }))
  const problems = channelProblems(f)
  const problem = (k: keyof ChannelForm) => (tried && problems[k] ? t(`notif.problem.${problems[k]}` as Key) : undefined)
  const submit = async () => {
    setTried(true)
    if (Object.keys(problems).length) return
    setBusy(true)
    setErr(null)
    try {
      onCreated(await createChannel(channelInput(f)))
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={t('notif.createTitle')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy}>
            {t('notif.create')}
          </Button>
        </>
      }
    >
      <Field label={t('notif.name')} error={problem('name')}>
        <input name="name" value={f.name} onChange={(e) => set('name')(e.target.value)} autoFocus />
      </Field>
      <div className="field">
        <span className="field-label">{t('notif.type')}</span>
        <Chips<ChannelType> label={t('notif.type')} value={f.type} options={channelTypes.map((x) => ({ value: x, label: t(`notif.type.${x}` as Key) }))} onChange={set('type')} />
      </div>
      {f.type !== 'email' && (
        <Field label={f.type === 'slack' ? t('notif.slackURL') : t('notif.url')} hint={f.type === 'slack' ? t('notif.slackHint') : undefined} error={problem('url')}>
          <input name="url" type={f.type === 'slack' ? 'password' : 'url'} value={f.url} onChange={(e) => set('url')(e.target.value)} autoComplete="off" />
        </Field>
      )}
      {f.type === 'webhook' && (
        <Field label={t('notif.hmacSecret')} hint={t('notif.hmacHint')} error={problem('secret')}>
          <input name="secret" type="password" value={f.secret} onChange={(e) => set('secret')(e.target.value)} autoComplete="new-password" />
        </Field>
      )}
      {f.type === 'email' && (
        <>
          <div className="form-grid">
            <Field label={t('notif.smtpHost')} error={problem('smtpHost')}>
              <input name="smtp_host" value={f.smtpHost} onChange={(e) => set('smtpHost')(e.target.value)} />
            </Field>
            <Field label={t('notif.smtpPort')} error={problem('smtpPort')}>
              <input name="smtp_port" inputMode="numeric" value={f.smtpPort} onChange={(e) => set('smtpPort')(e.target.value)} />
            </Field>
            <Field label={t('notif.smtpUser')} error={problem('smtpUser')}>
              <input name="smtp_user" value={f.smtpUser} onChange={(e) => set('smtpUser')(e.target.value)} autoComplete="off" />
            </Field>
            <Field label={t('notif.smtpPassword')}>
              <input name="smtp_password" type="password" value={f.smtpPassword} onChange={(e) => set('smtpPassword')(e.target.value)} autoComplete="new-password" />
            </Field>
          </div>
          <Field label={t('notif.smtpFrom')} error={problem('smtpFrom')}>
            <input name="smtp_from" value={f.smtpFrom} onChange={(e) => set('smtpFrom')(e.target.value)} />
          </Field>
          <Field label={t('notif.to')} hint={t('notif.listHint')} error={problem('to')}>
            <textarea name="to" rows={2} value={f.to} onChange={(e) => set('to')(e.target.value)} />
          </Field>
          <label className="row">
            <input type="checkbox" checked={f.starttls} onChange={(e) => set('starttls')(e.target.checked)} /> {t('notif.starttls')}
          </label>
        </>
      )}
      <div className="field">
        <span className="field-label">{t('notif.minSeverity')}</span>
        <Chips label={t('notif.minSeverity')} value={f.minSeverity} options={severities.map((s) => ({ value: s, label: t(`sev.${s}` as Key) }))} onChange={set('minSeverity')} />
      </div>
      <Field label={t('notif.groups')} hint={t('notif.groupsHint')}>
        <input name="groups" value={f.groups} onChange={(e) => set('groups')(e.target.value)} />
      </Field>
      <p className="muted small">{t('notif.writeOnly')}</p>
      <ErrorBox error={err} />
    </Dialog>
  )
}
