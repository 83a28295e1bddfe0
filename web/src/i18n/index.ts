// All user-facing strings live in one module per language. `t` interpolates
// {name} placeholders and picks `key_one` / `key_other` from a `count`.
import { en } from './en'

type Raw = keyof typeof en
type Base<K> = K extends `${infer B}_one` ? B : K extends `${infer B}_other` ? B : K
/** A string key; a plural's base name (without _one/_other) is a key too. */
export type Key = Raw | Base<Raw>
type Dict = Partial<Record<Raw, string>>

const languages: Record<string, Dict> = { en }
let current: Dict = en
export let locale = 'en'

export function setLanguage(lang: string) {
  if (languages[lang]) {
    current = languages[lang]
    locale = lang
  }
}

export function t(key: Key, vars?: Record<string, string | number>): string {
  let s: string | undefined
  if (vars && typeof vars.count === 'number') {
    const plural = `${key}_${vars.count === 1 ? 'one' : 'other'}` as Raw
    s = current[plural] ?? en[plural]
  }
  s = s ?? current[key as Raw] ?? en[key as Raw] ?? key
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m))
  return s
}

export function has(key: string): key is Key {
  return key in en
}
