// Finds the line a 422 `field` (e.g. "execute.timeout" or "calendar.days[1]")
// refers to in the YAML the operator typed, so the editor can mark it. It
// walks block mappings by indentation; block-scalar text (script: |) is deeper
// than the keys beside it, so a key-like line inside a script never matches.
const indentOf = (l: string) => l.length - l.trimStart().length
const blank = (l: string) => !l.trim() || l.trimStart().startsWith('#')

export function lineForField(yaml: string, field: string | undefined | null): number | null {
  if (!field) return null
  const segs = field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s && !/^\d+$/.test(s))
  if (!segs.length) return null
  const lines = yaml.split('\n')
  let from = 0
  let to = lines.length
  let found: number | null = null
  for (const seg of segs) {
    // The indentation of this mapping level is that of its first key.
    let level = -1
    for (let i = from; i < to; i++) if (!blank(lines[i])) { level = indentOf(lines[i]); break }
    if (level < 0) break
    const esc = seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const re = new RegExp(`^\\s*(-\\s+)?["']?${esc}["']?\\s*:`)
    let hit: number | null = null
    for (let i = from; i < to; i++) {
      if (blank(lines[i]) || indentOf(lines[i]) !== level) continue
      if (re.test(lines[i])) { hit = i; break }
    }
    if (hit === null) break
    found = hit
    // The child block runs until the next line at this level or shallower.
    from = hit + 1
    let end = to
    for (let i = from; i < to; i++) if (!blank(lines[i]) && indentOf(lines[i]) <= level) { end = i; break }
    to = end
  }
  return found === null ? null : found + 1
}

/**
 * The line an API error points at: the line of its `field` in the YAML, else
 * a "line N" of the message (a YAML syntax error names its line), else null.
 */
export function lineForError(yaml: string, field: string | undefined | null, message: string | undefined | null): number | null {
  const byField = lineForField(yaml, field)
  if (byField) return byField
  const m = /\bline (\d+)\b/i.exec(message ?? '')
  if (!m) return null
  const n = Number(m[1])
  return n >= 1 && n <= yaml.split('\n').length ? n : null
}
