import { describe, expect, it } from 'vitest'
import { channelInput, channelProblems, emptyChannelForm, splitList } from './channels'

describe('channel form', () => {
  it('sends only the fields of its type', () => {
    const f = { ...emptyChannelForm, name: ' ops ', url: 'https://h.example/x', secret: 's3', smtpHost: 'ignored', groups: 'lab, canary' }
    expect(channelInput(f)).toEqual({ name: 'ops', type: 'webhook', min_severity: 'warning', url: 'https://h.example/x', secret: 's3', groups: ['lab', 'canary'] })
    expect(channelInput({ ...f, type: 'slack' })).toEqual({ name: 'ops', type: 'slack', min_severity: 'warning', url: 'https://h.example/x', groups: ['lab', 'canary'] })
  })

  it('builds the SMTP settings of an email channel', () => {
    const f = { ...emptyChannelForm, type: 'email' as const, name: 'mail', smtpHost: 'smtp.example', smtpPort: '2525', smtpFrom: 'k@example', to: 'a@example\nb@example', smtpUser: 'k', smtpPassword: 'pw' }
    expect(channelInput(f)).toEqual({
      name: 'mail',
      type: 'email',
      min_severity: 'warning',
      smtp: { host: 'smtp.example', port: 2525, from: 'k@example', starttls: true, username: 'k', password: 'pw' },
      to: ['a@example', 'b@example'],
    })
    expect(channelProblems(f)).toEqual({})
  })

  it('names what is missing', () => {
    expect(channelProblems(emptyChannelForm)).toEqual({ name: 'required', url: 'required', secret: 'required' })
    expect(channelProblems({ ...emptyChannelForm, name: 'x', url: 'ftp://x', secret: 's' })).toEqual({ url: 'badURL' })
    expect(channelProblems({ ...emptyChannelForm, name: 'x', type: 'email', smtpPort: '99999' })).toEqual({
      smtpHost: 'required',
      smtpPort: 'badPort',
      smtpFrom: 'required',
      to: 'required',
    })
    expect(channelProblems({ ...emptyChannelForm, name: 'x', type: 'email', smtpHost: 'h', smtpFrom: 'f@x', to: 'a@x', smtpPassword: 'p' })).toEqual({ smtpUser: 'required' })
    expect(splitList(' a ,, b;c ')).toEqual(['a', 'b', 'c'])
  })
})
