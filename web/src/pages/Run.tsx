import { useState, type FormEvent } from 'react'
import { useCanWrite } from '../lib/session'
import { ApiError } from '../lib/api'
import { runAdhoc } from '../lib/queries/run'
import { useSearchParams } from '../lib/router'
import type { ExecResult } from '../lib/types'
import { t } from '../i18n'
import { YamlEditor } from '../components/YamlEditor'
import { Badge, Button, Card, ErrorBox, Field, KV, Output } from '../components/ui'

const shells = ['sh', 'bash', 'powershell', 'pwsh', 'cmd'] as const

export function Run() {
  const [params] = useSearchParams()
  const [pc, setPc] = useState(params.get('pc') ?? '')
  const [shell, setShell] = useState<string>('sh')
  const [timeout, setTimeout_] = useState(60)
  const [script, setScript] = useState('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<unknown>(null)
  const [res, setRes] = useState<ExecResult | null>(null)
  const canWrite = useCanWrite()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setErr(null)
    setRes(null)
    try {
      setRes(await runAdhoc({ pc_id: pc.trim(), shell, script, timeout_secs: timeout }))
    } catch (x) {
      setErr(x instanceof ApiError && x.status === 408 ? new Error(t('run.timeout', { secs: timeout })) : x)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="page">
      <h1>{t('nav.run')}</h1>
      <p className="muted">{t('run.intro')}</p>
      <Card>
        <form className="form-grid" onSubmit={submit}>
          <div className="row wrap">
            <Field label={t('agents.pc')}>
              <input value={pc} onChange={(e) => setPc(e.target.value)} required />
            </Field>
            <Field label={t('run.shell')}>
              <select value={shell} onChange={(e) => setShell(e.target.value)}>
                {shells.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            </Field>
            <Field label={t('run.timeoutSecs')}>
              <input type="number" min={1} max={3600} value={timeout} onChange={(e) => setTimeout_(Number(e.target.value))} />
            </Field>
          </div>
          <div className="field">
            <span className="field-label">{t('run.script')}</span>
            <YamlEditor language="text" label={t('run.script')} rows={8} value={script} onChange={setScript} />
          </div>
          <div className="row">
            <Button type="submit" variant="primary" busy={busy} disabled={!canWrite || !pc.trim() || !script.trim()}>
              {busy ? t('run.running') : t('run.run')}
            </Button>
          </div>
        </form>
      </Card>
      <ErrorBox error={err} />
      {res && (
        <section aria-live="polite" aria-label={t('run.result')}>
          <Card title={t('run.result')}>
            <KV
              items={[
                [t('results.exit'), <span className="mono">{res.exit_code}</span>],
                [t('common.status'), res.exit_code === 0 ? <Badge tone="ok">{t('status.success')}</Badge> : <Badge tone="bad">{t('status.failure')}</Badge>],
                ...(res.timed_out ? [[t('results.timedOut'), '✓'] as [string, string]] : []),
              ]}
            />
          </Card>
          <Output label="stdout" text={res.stdout ?? ''} filename={`${pc}-run.stdout.txt`} />
          <Output label="stderr" text={res.stderr ?? ''} filename={`${pc}-run.stderr.txt`} />
        </section>
      )}
    </div>
  )
}
