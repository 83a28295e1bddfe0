// Add PCs (SPEC §13): create an enrollment token and show, for each OS, the
// one-line command that installs the agent on a new PC — the installer
// script downloads the release for the PC's arch, checks its SHA-256,
// installs the service, enrolls with the token and starts the agent.
// Operators and admins only (creating a token is).
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { invalidateEnrollmentTokens } from '../lib/queries/enrollment'
import { installCommand, installOSes, useInstallVersion, type InstallOS } from '../lib/queries/install'
import { Link } from '../lib/router'
import { useCanWrite } from '../lib/session'
import { absoluteTime } from '../lib/time'
import type { CreatedEnrollmentToken } from '../lib/types'
import { t, type Key, locale } from '../i18n'
import { Badge, Button, Card, ErrorBox } from '../components/ui'
import { CopyBlock, CreateDialog } from './Enrollment'

const osName: Record<InstallOS, Key> = { linux: 'addpcs.os.linux', darwin: 'addpcs.os.darwin', windows: 'addpcs.os.windows' }
const osHint: Record<InstallOS, Key> = { linux: 'addpcs.hint.linux', darwin: 'addpcs.hint.darwin', windows: 'addpcs.hint.windows' }

export function AddPCs() {
  const canWrite = useCanWrite()
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<CreatedEnrollmentToken | null>(null)
  const qc = useQueryClient()
  if (!canWrite)
    return (
      <div className="page">
        <h1>{t('nav.addPCs')}</h1>
        <p className="muted">{t('auth.operatorRequired')}</p>
      </div>
    )
  return (
    <div className="page">
      <div className="page-head">
        <h1>{t('nav.addPCs')}</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          + {created ? t('addpcs.another') : t('addpcs.create')}
        </Button>
      </div>
      <p className="muted">{t('addpcs.intro')}</p>
      {!created ? (
        <p className="muted">
          {t('addpcs.noToken')} <Link to="/enrollment">{t('addpcs.manage')}</Link>
        </p>
      ) : (
        <>
          <p className="banner banner-warn" role="note">
            {t('addpcs.onceWarning', { when: absoluteTime(created.expires_at, locale) })}
          </p>
          {installOSes.map((os) => (
            <OSCommand key={os} os={os} token={created.token} />
          ))}
          <p className="muted small">{t('addpcs.uninstall')}</p>
        </>
      )}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false)
            setCreated(c)
            invalidateEnrollmentTokens(qc)
          }}
        />
      )}
    </div>
  )
}

function OSCommand({ os, token }: { os: InstallOS; token: string }) {
  const version = useInstallVersion(os, token)
  const name = t(osName[os])
  return (
    <Card
      id={`install-${os}`}
      title={name}
      actions={
        version.isPending ? (
          <Badge>{t('addpcs.checking')}</Badge>
        ) : version.data ? (
          <Badge tone="ok">{t('addpcs.installs', { version: version.data })}</Badge>
        ) : (
          <Badge tone="bad">{t('addpcs.noRelease')}</Badge>
        )
      }
    >
      <p className="muted small">{t(osHint[os])}</p>
      <CopyBlock label={t('addpcs.commandFor', { os: name })} copyLabel={t('addpcs.copyFor', { os: name })} text={installCommand(window.location.origin, os, token)} />
      <ErrorBox error={version.error} />
    </Card>
  )
}
