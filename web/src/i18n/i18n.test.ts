import { describe, expect, it } from 'vitest'
import { en } from './en'
import { ja } from './ja'
import { initialLanguage } from './index'

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('Japanese strings', () => {
  it('has every English key and no other', () => {
    const missing = Object.keys(en).filter((k) => !(k in ja))
    const extra = Object.keys(ja).filter((k) => !(k in en))
    expect(missing, 'keys of en.ts missing in ja.ts').toEqual([])
    expect(extra, 'keys of ja.ts not in en.ts').toEqual([])
  })
  it('uses the same placeholders as English', () => {
    const bad = Object.entries(en)
      .filter(([k, v]) => JSON.stringify(placeholders(v)) !== JSON.stringify(placeholders((ja as Record<string, string>)[k] ?? '')))
      .map(([k]) => k)
    expect(bad, 'keys whose {placeholders} differ').toEqual([])
  })
  it('is not left in English', () => {
    // Strings that are the same in both languages are names, symbols and formats.
    const same = Object.entries(en).filter(([k, v]) => (ja as Record<string, string>)[k] === v && /[a-z]{4,}/.test(v.replace(/\{\w+\}/g, '')))
    const allowed = new Set(['notif.type.webhook', 'notif.type.slack', 'rollout.target', 'addpcs.os.linux', 'addpcs.os.darwin'])
    expect(same.map(([k]) => k).filter((k) => !allowed.has(k))).toEqual([])
  })
})

describe('initialLanguage', () => {
  it('prefers the stored choice, then the browser, then English', () => {
    expect(initialLanguage('ja', ['en-US'])).toBe('ja')
    expect(initialLanguage(null, ['ja-JP', 'en'])).toBe('ja')
    expect(initialLanguage(null, ['fr-FR', 'ja'])).toBe('ja')
    expect(initialLanguage(null, ['fr-FR'])).toBe('en')
    expect(initialLanguage('xx', ['en-GB'])).toBe('en')
  })
})
