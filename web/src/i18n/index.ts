// All user-facing strings live in one module per language. `t` interpolates
// {name} placeholders and picks `key_one` / `key_other` from a `count`.
// The language is the one chosen in the header (localStorage), else the
// first of the browser's languages we have, else English; <html lang>
// follows it so screen readers and Intl formats agree with the text.
import { useSyncExternalStore } from 'react'
import { en } from './en'
import { ja } from './ja'

type Raw = keyof typeof en
type Base<K> = K extends `${infer B}_one` ? B : K extends `${infer B}_other` ? B : K
/** A string key; a plural's base name (without _one/_other) is a key too. */
export type Key = Raw | Base<Raw>
export type Dict = Partial<Record<Raw, string>>

export const languages = { en, ja } as Record<string, Dict>
export type Lang = 'en' | 'ja'
export const languageNames: Record<Lang, string> = { en: 'English', ja: '日本語' }
const STORE = 'kanade.lang'

let current: Dict = en
export let locale: Lang = 'en'
const listeners = new Set<() => void>()

/** The language to start in: the stored choice, else the browser's first we have. */
export function initialLanguage(stored: string | null, browser: readonly string[]): Lang {
  if (stored && stored in languages) return stored as Lang
  for (const l of browser) {
    const base = l.toLowerCase().split('-')[0]
    if (base in languages) return base as Lang
  }
  return 'en'
}

export function setLanguage(lang: string, persist = false) {
  if (!languages[lang]) return
  current = languages[lang]
  locale = lang as Lang
  if (typeof document !== 'undefined') document.documentElement.lang = lang
  if (persist && typeof localStorage !== 'undefined') localStorage.setItem(STORE, lang)
  for (const l of listeners) l()
}

if (typeof window !== 'undefined' && typeof localStorage !== 'undefined') {
  setLanguage(initialLanguage(localStorage.getItem(STORE), navigator.languages ?? [navigator.language]))
}

/** The current language; re-renders the caller when it changes. */
export function useLanguage(): Lang {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    () => locale,
    () => locale,
  )
}

export function t(key: Key, vars?: Record<string, string | number>): string {
  let s: string | undefined
  if (vars && typeof vars.count === 'number') {
    const plural = `${key}_${vars.count === 1 ? 'one' : 'other'}` as Raw
    s = current[plural] ?? en[plural]
  }
  s = s ?? current[key as Raw] ?? en[key as Raw] ?? key
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? fmtVar(vars[k]) : m))
  return s
}

// Numbers in messages use the language's grouping (1,234 / 1,234; de would be 1.234).
function fmtVar(v: string | number): string {
  return typeof v === 'number' ? v.toLocaleString(locale) : v
}

/** n formatted for the current language. */
export function num(n: number): string {
  return n.toLocaleString(locale)
}

export function has(key: string): key is Key {
  return key in en
}
