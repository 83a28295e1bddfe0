// Guards of the dashboard's shape (issue 12):
//  - App.tsx imports every page, so nothing but main.tsx may import it (no import circle);
//  - the module graph has no cycles at all;
//  - API paths and query keys live in lib/queries/* only; only the transport calls fetch;
//  - the contract's types come from lib/api.gen.ts (generated from Go), never copied into lib/types.ts.
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
  // Where a request may be made or a path written: the resource modules, the
  // transport (api.ts knows the login path, whose 401 must not clear the
  // session), the client instance and the generated client itself.
  const owners = /^lib\/(queries\/|api\.ts$|client\.ts$|api\.gen\.ts$)/
  const others = files.filter((f) => !owners.test(rel(f)))
  const calls = (text: string) => /(?<![\w.$])fetch\(/.test(text)

  it('names no /api/ path outside lib/queries', () => {
    // A string or template literal that starts with /api/ (comments may mention paths).
    const hits = others.filter((f) => /['"`]\/api\//.test(readFileSync(f, 'utf8'))).map(rel)
    expect(hits).toEqual([])
  })

  it('calls fetch( in the transport only', () => {
    expect(calls(readFileSync(join(src, 'lib', 'api.ts'), 'utf8'))).toBe(true) // the check sees a call
    const hits = files.filter((f) => rel(f) !== 'lib/api.ts' && calls(readFileSync(f, 'utf8'))).map(rel)
    expect(hits).toEqual([])
  })

  it('has the generated client used by lib/queries only', () => {
    const client = join(src, 'lib', 'client.ts')
    const gen = join(src, 'lib', 'api.gen.ts')
    const users = (m: string) => [...graph].filter(([, deps]) => deps.includes(m)).map(([f]) => rel(f))
    expect(users(client).length).toBeGreaterThan(0)
    expect(users(client).filter((f) => !f.startsWith('lib/queries/'))).toEqual([])
    // The contract's types reach pages through lib/types.ts; its functions only through lib/client.ts.
    expect(users(gen).filter((f) => !['lib/api.ts', 'lib/client.ts', 'lib/types.ts'].includes(f))).toEqual([])
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

describe('the contract', () => {
  const gen = readFileSync(join(src, 'lib', 'api.gen.ts'), 'utf8')
  const types = readFileSync(join(src, 'lib', 'types.ts'), 'utf8')
  const generated = new Set([...gen.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]))

  it('is declared in api.gen.ts, not hand-copied into lib/types.ts', () => {
    expect(generated).toContain('Agent') // the parser sees the generated declarations
    // Declarations in types.ts (re-exports are `export type { … } from`, not declarations).
    const declared = [...types.matchAll(/^(?:export )?(?:interface|type) (\w+)/gm)].map((m) => m[1])
    expect(declared).toContain('ConfigScopeRef')
    expect(declared.filter((n) => generated.has(n))).toEqual([])
  })

  it('is re-exported by lib/types.ts from ./api.gen', () => {
    const block = /export type \{([^}]*)\} from '\.\/api\.gen'/.exec(types)
    expect(block).not.toBeNull()
    const names = block![1].split(',').map((n) => n.replace(/\/\/.*$/gm, '').trim().split(/\s+as\s+/)[0]).filter(Boolean)
    expect(names).toContain('Agent')
    expect(names.filter((n) => !generated.has(n))).toEqual([])
  })
})
