import { useSyncExternalStore } from 'react'

export type ThemeChoice = 'system' | 'light' | 'dark'
const KEY = 'kanade.theme'
const listeners = new Set<() => void>()
const mq = typeof window !== 'undefined' ? window.matchMedia('(prefers-color-scheme: dark)') : null

export function getTheme(): ThemeChoice {
  const v = localStorage.getItem(KEY)
  return v === 'light' || v === 'dark' ? v : 'system'
}

function apply() {
  const c = getTheme()
  const dark = c === 'dark' || (c === 'system' && !!mq?.matches)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
  for (const l of listeners) l()
}
mq?.addEventListener('change', apply)

export function setTheme(c: ThemeChoice) {
  localStorage.setItem(KEY, c)
  apply()
}

export function useTheme(): ThemeChoice {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    getTheme,
  )
}
