// Finds the line a 422 `field` (e.g. "execute.timeout" or "calendar.days[1]")
// refers to in the YAML the operator typed, so the editor can mark it.
export function lineForField(yaml: string, field: string | undefined | null): number | null {
  if (!field) return null
  const segs = field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s && !/^\d+$/.test(s))
  if (!segs.length) return null
  const lines = yaml.split('\n')
  let from = 0
  let minIndent = -1
  let found: number | null = null
  for (const seg of segs) {
    const esc = seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const re = new RegExp(`^(\\s*)(-\\s+)?["']?${esc}["']?\\s*:`)
    let hit: number | null = null
    for (let i = from; i < lines.length; i++) {
      const m = re.exec(lines[i])
      if (!m) continue
      const indent = m[1].length + (m[2]?.length ?? 0)
      if (indent <= minIndent) continue
      hit = i
      minIndent = indent
      break
    }
    if (hit === null) break
    found = hit
    from = hit + 1
  }
  return found === null ? null : found + 1
}
