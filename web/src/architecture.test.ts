// Guards of the dashboard's shape (issue 12):
//  - App.tsx imports every page, so nothing but main.tsx may import it (no import circle);
//  - the module graph has no cycles at all;
//  - API paths and query keys live in lib/queries/* only.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const src = dirname(fileURLToPath(import.meta.url))

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(n) ? [p] : []
  })
}
const files = walk(src).filter((f) => !/\.test\.tsx?$/.test(f))
const rel = (f: string) => relative(src, f).split('\\').join('/')

/** The src files a module imports (relative specifiers only), resolved like the bundler does. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2]
    const base = resolve(dirname(file), spec)
    const hit = [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')].find((c) => files.includes(c))
    if (hit) out.push(hit)
  }
  return out
}
const graph = new Map(files.map((f) => [f, importsOf(f)]))

describe('module graph', () => {
  it('sees the imports it checks', () => {
    // A parser that silently finds nothing would pass every test below.
    expect(graph.get(join(src, 'main.tsx'))).toContain(join(src, 'App.tsx'))
    expect(graph.get(join(src, 'pages', 'Agents.tsx'))).toContain(join(src, 'lib', 'session.tsx'))
  })

  it('has App.tsx imported by main.tsx only', () => {
    const importers = [...graph].filter(([, deps]) => deps.includes(join(src, 'App.tsx'))).map(([f]) => rel(f))
    expect(importers).toEqual(['main.tsx'])
  })

  it('has no import cycles', () => {
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' -> '))
        return
      }
      state.set(f, 'open')
      for (const d of graph.get(f) ?? []) visit(d, [...path, f])
      state.set(f, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
  })
})

describe('API paths and query keys', () => {
  // Where a path may be written: the resource modules and the transport
  // (api.ts knows the login path, whose 401 must not clear the session).
  const owners = /^lib\/(queries\/|api\.ts$|api\.gen\.ts$)/
  const others = files.filter((f) => !owners.test(rel(f)))

  it('names no /api/ path outside lib/queries', () => {
    // A string or template literal that starts with /api/ (comments may mention paths).
    const hits = others.filter((f) => /['"`]\/api\//.test(readFileSync(f, 'utf8'))).map(rel)
    expect(hits).toEqual([])
  })

  it('writes no query key outside lib/queries', () => {
    // Pages and components pass no queryKey at all; lib code (live.tsx) may
    // pass a key it got from a factory, but never spell one inline.
    const ui = /^(pages|components)\//
    const hits = others
      .filter((f) => {
        const text = readFileSync(f, 'utf8')
        return ui.test(rel(f)) ? /queryKey\s*:/.test(text) : /queryKey\s*:\s*\[/.test(text)
      })
      .map(rel)
    expect(hits).toEqual([])
  })
})
