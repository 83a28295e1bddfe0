import { describe, expect, it } from 'vitest'
import { csvCell, toCSV } from './csv'

describe('csvCell', () => {
  it('quotes commas, quotes and newlines', () => {
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('two\nlines')).toBe('"two\nlines"')
    expect(csvCell(' padded ')).toBe('" padded "')
  })
  it('renders empties, numbers, booleans and lists', () => {
    expect(csvCell(null)).toBe('')
    expect(csvCell(undefined)).toBe('')
    expect(csvCell(42)).toBe('42')
    expect(csvCell(-3)).toBe('-3')
    expect(csvCell(true)).toBe('true')
    expect(csvCell(['canary', 'eu'])).toBe('canary;eu')
  })
  it('defuses spreadsheet formulas', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`)
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('@cmd')).toBe("'@cmd")
  })
  it('keeps non-ASCII', () => {
    expect(csvCell('奏-pc')).toBe('奏-pc')
  })
})

describe('toCSV', () => {
  const rows = [
    { id: 'pc-1', groups: ['a', 'b'], online: true },
    { id: 'pc,2', groups: [], online: false },
  ]
  const cols = [
    { header: 'pc_id', value: (r: (typeof rows)[0]) => r.id },
    { header: 'groups', value: (r: (typeof rows)[0]) => r.groups },
    { header: 'online', value: (r: (typeof rows)[0]) => r.online },
  ]
  it('writes a BOM, a header and CRLF rows', () => {
    expect(toCSV(rows, cols)).toBe('\uFEFFpc_id,groups,online\r\npc-1,a;b,true\r\n"pc,2",,false\r\n')
  })
  it('can omit the BOM', () => {
    expect(toCSV([], cols, false)).toBe('pc_id,groups,online\r\n')
  })
})
