// RFC 4180 CSV with CRLF line ends and a UTF-8 BOM (so spreadsheet programs
// read non-ASCII names correctly). Cells that a spreadsheet would run as a
// formula are prefixed with an apostrophe (CSV injection).

export type Cell = string | number | boolean | null | undefined | string[]

export interface Column<T> {
  header: string
  value: (row: T) => Cell
}

export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return ''
  let s = Array.isArray(v) ? v.join(';') : String(v)
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`
  if (/[",\r\n]/.test(s) || s !== s.trim()) s = `"${s.replace(/"/g, '""')}"`
  return s
}

export function toCSV<T>(rows: readonly T[], cols: readonly Column<T>[], bom = true): string {
  const lines = [cols.map((c) => csvCell(c.header)).join(',')]
  for (const r of rows) lines.push(cols.map((c) => csvCell(c.value(r))).join(','))
  return (bom ? '\uFEFF' : '') + lines.join('\r\n') + '\r\n'
}

export function downloadText(filename: string, text: string, type = 'text/plain;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
