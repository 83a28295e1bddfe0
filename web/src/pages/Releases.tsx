// Agent releases (SPEC §13): the kanade-agent binaries agents update
// themselves to when their target_version names one. Everyone signed in
// sees the list; operators upload (the backend checks the file, signs it)
// and delete a version. Releases are immutable: no edit, no re-upload.
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useFallbackInterval } from '../lib/live'
import { deleteRelease, invalidateReleases, uploadRelease, useReleases } from '../lib/queries/releases'
import { useVersionDistribution } from '../lib/queries/agents'
import { Link } from '../lib/router'
import { useCanWrite } from '../lib/session'
import { formatBytes } from '../lib/time'
import type { Release } from '../lib/types'
import { t } from '../i18n'
import { Badge, Button, Dialog, ErrorBox, Field, RelTime, Spinner, Table, useConfirm, useCopy, useToast } from '../components/ui'

const oses = ['linux', 'darwin', 'windows'] as const
const arches = ['amd64', 'arm64'] as const

const platform = (r: Release) => `${r.os}/${r.arch}`

export function Releases() {
  const canWrite = useCanWrite()
  const interval = useFallbackInterval()
  // No live event carries release changes: a slow poll shows other operators' uploads.
  const list = useReleases({ refetchInterval: interval || 60_000 })
  const [uploading, setUploading] = useState(false)
  const qc = useQueryClient()
  const toast = useToast()
  const confirm = useConfirm()
  const copy = useCopy()
  const rows = list.data ?? []
  // How many PCs run each version (GET /api/agents/versions), whatever their platform.
  const dist = useVersionDistribution({ refetchInterval: interval || 60_000 })
  const onVersion = new Map((dist.data ?? []).map((v) => [v.version, v.agents]))

  const del = async (version: string) => {
    const plats = rows.filter((r) => r.version === version).map(platform)
    if (
      !(await confirm({
        title: t('rel.deleteTitle', { version }),
        body: t('rel.deleteBody', { platforms: plats.join(', ') }),
        confirm: t('common.delete'),
        danger: true,
      }))
    )
      return
    try {
      const d = await deleteRelease(version)
      toast(t('rel.deleted', { version, count: (d.deleted ?? []).length }), 'ok')
      if (d.target_of?.length) toast(t('rel.stillTarget', { version, scopes: d.target_of.join(', ') }), 'warn')
    } catch (e) {
      toast(String((e as Error).message), 'bad')
    }
    invalidateReleases(qc)
  }

  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.releases')}</h1>
        {canWrite && (
          <Button variant="primary" onClick={() => setUploading(true)}>
            + {t('rel.upload')}
          </Button>
        )}
      </div>
      <p className="muted">{t('rel.intro')}</p>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : (
        <Table filter bulk={{ name: 'releases' }}
          rows={rows}
          rowKey={(r) => `${r.version}/${platform(r)}`}
          empty={t('rel.none')}
          caption={t('nav.releases')}
          cols={[
            { key: 'version', value: r => r.version, header: t('rel.version'), cell: (r) => <strong className="mono">{r.version}</strong> },
            {
              key: 'platform', value: r => platform(r),
              header: t('rel.platform'),
              cell: (r) => (
                <>
                  <span className="mono">{platform(r)}</span>
                  {r.error && (
                    <>
                      {' '}
                      <Badge tone="bad">
                        <span title={r.error}>{t('rel.invalid')}</span>
                      </Badge>
                    </>
                  )}
                </>
              ),
            },
            {
              key: 'pcs', value: r => onVersion.get(r.version) ?? 0,
              header: t('rel.pcs'),
              cell: (r) => {
                const n = onVersion.get(r.version) ?? 0
                return n > 0 ? <Link to={`/agents?version=${encodeURIComponent(r.version)}`}>{n}</Link> : <span className="muted">0</span>
              },
            },
            { key: 'size', value: r => r.size, header: t('rel.size'), cell: (r) => formatBytes(r.size) },
            {
              key: 'sha', value: r => r.sha256,
              header: t('rel.sha256'),
              cell: (r) =>
                r.sha256 ? (
                  <span className="row">
                    <code className="mono" title={r.sha256}>
                      {r.sha256.slice(0, 12)}
                    </code>
                    <Button small variant="ghost" aria-label={t('rel.copySha', { version: r.version, platform: platform(r) })} onClick={() => copy(r.sha256)}>
                      {t('common.copy')}
                    </Button>
                  </span>
                ) : (
                  '—'
                ),
            },
            { key: 'key', header: t('rel.key'), cell: (r) => (r.key_id ? <span className="mono">{r.key_id}</span> : <span className="muted">{t('rel.unsigned')}</span>) },
            { key: 'at', header: t('rel.uploadedAt'), cell: (r) => <RelTime at={r.uploaded_at} /> },
            ...(canWrite
              ? [
                  {
                    key: 'act',
                    header: '',
                    label: '',
                    cell: (r: Release) => (
                      <Button small variant="ghost" aria-label={t('rel.deleteLabel', { version: r.version, platform: platform(r) })} onClick={() => del(r.version)}>
                        {t('rel.deleteVersion')}
                      </Button>
                    ),
                  },
                ]
              : []),
          ]}
        />
      )}
      {uploading && (
        <UploadDialog
          onClose={() => setUploading(false)}
          onUploaded={(r) => {
            setUploading(false)
            toast(t('rel.uploaded', { version: r.version, platform: platform(r) }), 'ok')
            invalidateReleases(qc)
          }}
        />
      )}
    </div>
  )
}

function UploadDialog({ onClose, onUploaded }: { onClose: () => void; onUploaded: (r: Release) => void }) {
  const [file, setFile] = useState<File | null>(null)
  const [version, setVersion] = useState('')
  const [os, setOS] = useState('')
  const [arch, setArch] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const ready = !!file && version.trim() !== '' && os !== '' && arch !== ''
  const submit = async () => {
    if (!file) return
    setBusy(true)
    setErr(null)
    try {
      onUploaded(await uploadRelease({ version: version.trim(), os, arch }, file))
    } catch (e) {
      setErr(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Dialog
      open
      onClose={onClose}
      title={t('rel.uploadTitle')}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={submit} busy={busy} disabled={!ready}>
            {t('rel.uploadSubmit')}
          </Button>
        </>
      }
    >
      <Field label={t('rel.file')} hint={file ? t('rel.fileChosen', { size: formatBytes(file.size) }) : t('rel.fileHint')}>
        <input type="file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </Field>
      <Field label={t('rel.version')} hint={t('rel.versionHint')}>
        <input className="mono" value={version} onChange={(e) => setVersion(e.target.value)} placeholder="1.4.0" spellCheck={false} autoComplete="off" />
      </Field>
      <Field label={t('rel.os')}>
        <select value={os} onChange={(e) => setOS(e.target.value)}>
          <option value="">{t('rel.choose')}</option>
          {oses.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('rel.arch')}>
        <select value={arch} onChange={(e) => setArch(e.target.value)}>
          <option value="">{t('rel.choose')}</option>
          {arches.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </Field>
      <p className="muted small">{t('rel.uploadNote')}</p>
      <ErrorBox error={err} />
    </Dialog>
  )
}
