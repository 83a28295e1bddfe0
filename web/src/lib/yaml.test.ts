import { describe, expect, it } from 'vitest'
import { lineForError, lineForField } from './yaml'

const doc = `id: cleanup
version: 1.0.1
timeout: 5s   # decoy at top level
execute:
  shell: powershell
  script: |
    timeout: not-a-key
  timeout: 10x
calendar:
  days: [mon, fri]
`
describe('lineForField', () => {
  it('finds top-level and nested keys', () => {
    expect(lineForField(doc, 'id')).toBe(1)
    expect(lineForField(doc, 'execute.shell')).toBe(5)
    expect(lineForField(doc, 'execute.timeout')).toBe(8)
    expect(lineForField(doc, 'calendar.days[1]')).toBe(10)
  })
  it('falls back to the deepest match found', () => {
    expect(lineForField(doc, 'execute.nope')).toBe(4)
  })
  it('returns null when nothing matches', () => {
    expect(lineForField(doc, 'zzz')).toBeNull()
    expect(lineForField(doc, '')).toBeNull()
    expect(lineForField(doc, undefined)).toBeNull()
  })
})

describe('lineForError', () => {
  it('uses the field, else the line of a syntax error', () => {
    const y = 'id: a\nexecute:\n  timeout: x\n'
    expect(lineForError(y, 'execute.timeout', 'bad duration')).toBe(3)
    expect(lineForError(y, '', 'yaml: line 2: mapping values are not allowed')).toBe(2)
    expect(lineForError(y, '', 'yaml: line 99: nope')).toBe(null)
    expect(lineForError(y, undefined, 'no line here')).toBe(null)
  })
})
