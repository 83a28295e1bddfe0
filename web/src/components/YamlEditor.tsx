// A textarea with a line-number gutter; the line named by a 422 `field` is marked.
import { useRef, type UIEvent } from 'react'

export function YamlEditor({
  value,
  onChange,
  errorLine,
  label,
  readOnly,
  rows = 18,
}: {
  value: string
  onChange: (v: string) => void
  errorLine?: number | null
  label: string
  readOnly?: boolean
  rows?: number
}) {
  const gutter = useRef<HTMLDivElement>(null)
  const n = Math.max(rows, value.split('\n').length)
  const sync = (e: UIEvent<HTMLTextAreaElement>) => {
    if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop
  }
  return (
    <div className="editor">
      <div className="editor-gutter mono" ref={gutter} aria-hidden>
        {Array.from({ length: n }, (_, i) => (
          <div key={i} className={errorLine === i + 1 ? 'err-line' : undefined}>
            {i + 1}
          </div>
        ))}
      </div>
      <textarea
        className="editor-text mono"
        value={value}
        rows={rows}
        spellCheck={false}
        autoCapitalize="off"
        autoCorrect="off"
        aria-label={label}
        aria-invalid={errorLine ? true : undefined}
        readOnly={readOnly}
        onScroll={sync}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={(e) => {
          // Tab inserts two spaces (YAML forbids tabs); Esc leaves the editor for keyboard users.
          if (e.key === 'Tab' && !e.shiftKey && !readOnly) {
            e.preventDefault()
            const el = e.currentTarget
            const { selectionStart: s, selectionEnd: en } = el
            const v = el.value.slice(0, s) + '  ' + el.value.slice(en)
            onChange(v)
            requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2))
          }
        }}
      />
    </div>
  )
}
