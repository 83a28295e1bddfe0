// The notification channel form (pages/Notifications.tsx) as the API's
// NotificationChannelInput: only the fields of the chosen type are sent.
import type { NotificationChannelInput } from './types'

export const channelTypes = ['webhook', 'slack', 'email'] as const
export type ChannelType = (typeof channelTypes)[number]
export const severities = ['info', 'warning', 'critical'] as const

export type ChannelForm = {
  name: string
  type: ChannelType
  url: string
  secret: string
  smtpHost: string
  smtpPort: string
  smtpUser: string
  smtpPassword: string
  smtpFrom: string
  starttls: boolean
  to: string
  minSeverity: string
  groups: string
}

export const emptyChannelForm: ChannelForm = {
  name: '',
  type: 'webhook',
  url: '',
  secret: '',
  smtpHost: '',
  smtpPort: '587',
  smtpUser: '',
  smtpPassword: '',
  smtpFrom: '',
  starttls: true,
  to: '',
  minSeverity: 'warning',
  groups: '',
}

/** "a, b\nc" → ["a", "b", "c"]: a list typed in one field (commas, spaces or lines). */
export const splitList = (s: string) =>
  s
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean)

/** What is missing from the form (a message key per field), empty when it can be sent. */
export function channelProblems(f: ChannelForm): Partial<Record<keyof ChannelForm, 'required' | 'badPort' | 'badURL'>> {
  const p: Partial<Record<keyof ChannelForm, 'required' | 'badPort' | 'badURL'>> = {}
  if (!f.name.trim()) p.name = 'required'
  if (f.type === 'webhook' || f.type === 'slack') {
    if (!f.url.trim()) p.url = 'required'
    else if (!/^https?:\/\/\S+$/.test(f.url.trim())) p.url = 'badURL'
  }
  // The webhook's HMAC key (X-Kanade-Signature) is required by the API.
  if (f.type === 'webhook' && !f.secret) p.secret = 'required'
  // An SMTP password goes with a user name (the API refuses it alone).
  if (f.type === 'email' && f.smtpPassword && !f.smtpUser.trim()) p.smtpUser = 'required'
  if (f.type === 'email') {
    if (!f.smtpHost.trim()) p.smtpHost = 'required'
    const port = Number(f.smtpPort)
    if (f.smtpPort.trim() && !(Number.isInteger(port) && port > 0 && port < 65536)) p.smtpPort = 'badPort'
    if (!f.smtpFrom.trim()) p.smtpFrom = 'required'
    if (!splitList(f.to).length) p.to = 'required'
  }
  return p
}

/** The request body of the form. */
export function channelInput(f: ChannelForm): NotificationChannelInput {
  const in_: NotificationChannelInput = { name: f.name.trim(), type: f.type, min_severity: f.minSeverity }
  const groups = splitList(f.groups)
  if (groups.length) in_.groups = groups
  switch (f.type) {
    case 'webhook':
      in_.url = f.url.trim()
      if (f.secret) in_.secret = f.secret
      break
    case 'slack':
      in_.url = f.url.trim()
      break
    case 'email':
      in_.smtp = { host: f.smtpHost.trim(), from: f.smtpFrom.trim(), starttls: f.starttls }
      if (f.smtpPort.trim()) in_.smtp.port = Number(f.smtpPort)
      if (f.smtpUser.trim()) in_.smtp.username = f.smtpUser.trim()
      if (f.smtpPassword) in_.smtp.password = f.smtpPassword
      in_.to = splitList(f.to)
      break
  }
  return in_
}
