// CodeMirror 6 for YAML and scripts (lazy chunk: loaded through
// ./YamlEditor.tsx only when an editor opens). Validation errors of the API
// arrive as `errors` (line + message) and are shown as lint diagnostics at
// their lines (gutter marker, underline, message on hover and in the lint
// panel). Colours come from the theme's CSS variables, so both themes keep
// their contrast. Keyboard: Tab indents (YAML forbids tabs: two spaces);
// Esc then Tab leaves the editor (CodeMirror's focus escape).
// The editor lives in an open shadow root: CodeMirror's styles then go into
// a constructed stylesheet (adoptedStyleSheets), which the dashboard's CSP
// (style-src 'self', no inline <style>) allows; in the document itself
// style-mod would add a <style> element, which the CSP blocks. The theme's
// CSS variables inherit into the shadow root.
import { useEffect, useRef } from 'react'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { HighlightStyle, bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from '@codemirror/language'
import { yaml } from '@codemirror/lang-yaml'
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint'
import { tags } from '@lezer/highlight'

export type EditorError = { line: number; message: string }

export type CodeEditorProps = {
  value: string
  onChange: (v: string) => void
  label: string
  language?: 'yaml' | 'text'
  readOnly?: boolean
  errors?: EditorError[]
  rows?: number
}

const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--accent)' },
  { tag: [tags.string, tags.special(tags.string)], color: 'var(--accent-2)' },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: 'var(--warn)' },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.keyword, tags.meta, tags.typeName, tags.labelName], color: 'var(--info, var(--accent))' },
  { tag: [tags.punctuation, tags.separator, tags.squareBracket, tags.brace], color: 'var(--text)' },
])

const theme = EditorView.theme({
  '.cm-content': { caretColor: 'var(--text)', fontFamily: 'var(--mono)' },
  '.cm-gutters': { backgroundColor: 'var(--panel-2)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--accent) 6%, transparent)' },
  '.cm-activeLineGutter': { backgroundColor: 'color-mix(in srgb, var(--accent) 12%, transparent)', color: 'var(--text)' },
  '&.cm-focused .cm-cursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'color-mix(in srgb, var(--accent) 25%, transparent) !important' },
  '.cm-lintRange-error': { backgroundColor: 'var(--bad-bg)' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--text)', border: '1px solid var(--border)' },
  '.cm-diagnostic-error': { borderLeftColor: 'var(--bad)' },
  '&': { maxHeight: '60vh', fontSize: '0.85rem', backgroundColor: 'var(--panel)', color: 'var(--text)' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '-2px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.4' },
})

/** Diagnostics for errors at lines of doc (lines outside it go to the last line). */
export function diagnosticsFor(state: EditorState, errors: readonly EditorError[]): Diagnostic[] {
  return errors.map((e) => {
    const l = state.doc.line(Math.min(Math.max(1, e.line), state.doc.lines))
    return { from: l.from, to: l.to > l.from ? l.to : l.from, severity: 'error', message: e.message, source: 'kanade' }
  })
}

export default function CodeEditor({ value, onChange, label, language = 'yaml', readOnly, errors = [], rows = 18 }: CodeEditorProps) {
  const box = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const change = useRef(onChange)
  change.current = onChange
  const ro = useRef(new Compartment())

  useEffect(() => {
    const host = box.current!
    const shadow = host.shadowRoot ?? host.attachShadow({ mode: 'open' })
    const mount = document.createElement('div')
    shadow.appendChild(mount)
    const v = new EditorView({
      root: shadow,
      parent: mount,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          indentUnit.of('  '),
          EditorState.tabSize.of(2),
          syntaxHighlighting(highlight),
          language === 'yaml' ? yaml() : [],
          lintGutter(),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          theme,
          ro.current.of([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true', spellcheck: 'false', autocapitalize: 'off', autocorrect: 'off' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) change.current(u.state.doc.toString())
          }),
          EditorView.theme({ '.cm-content, .cm-gutter': { minHeight: `${rows * 1.4}em` } }),
        ],
      }),
    })
    view.current = v
    return () => {
      v.destroy()
      mount.remove()
      view.current = null
    }
    // The editor is built once; value, readOnly and errors are pushed below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  // A value set from outside (loaded job, reset) replaces the document.
  useEffect(() => {
    const v = view.current
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } })
  }, [value])

  useEffect(() => {
    view.current?.dispatch({ effects: ro.current.reconfigure([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]) })
  }, [readOnly])

  const key = JSON.stringify(errors)
  useEffect(() => {
    const v = view.current
    if (v) v.dispatch(setDiagnostics(v.state, diagnosticsFor(v.state, errors)))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key])

  return <div ref={box} className="code-editor" data-testid="code-editor" data-error-lines={errors.map((e) => e.line).join(',') || undefined} />
}
