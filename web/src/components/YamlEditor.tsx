// The code editor for YAML (and scripts): CodeMirror 6, fetched as its own
// chunk the first time an editor opens (./CodeEditor.tsx); until then a
// plain textarea holds the text, so nothing typed is lost.
import { lazy, Suspense } from 'react'
import { t } from '../i18n'
import type { EditorError } from './CodeEditor'

const CodeEditor = lazy(() => import('./CodeEditor'))

export type { EditorError }

export function YamlEditor({
  value,
  onChange,
  errorLine,
  errorMessage,
  label,
  readOnly,
  rows = 18,
  language = 'yaml',
}: {
  value: string
  onChange: (v: string) => void
  errorLine?: number | null
  errorMessage?: string
  label: string
  readOnly?: boolean
  rows?: number
  language?: 'yaml' | 'text'
}) {
  const errors = errorLine ? [{ line: errorLine, message: errorMessage ?? '' }] : []
  return (
    <Suspense
      fallback={
        <textarea
          className="editor-text mono"
          value={value}
          rows={rows}
          spellCheck={false}
          aria-label={label}
          aria-busy
          title={t('editor.loading')}
          readOnly={readOnly}
          onChange={(e) => onChange(e.target.value)}
        />
      }
    >
      <CodeEditor value={value} onChange={onChange} label={label} readOnly={readOnly} errors={errors} rows={rows} language={language} />
    </Suspense>
  )
}
