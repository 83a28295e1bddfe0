import { describe, expect, it } from 'vitest'
import { keysForEvent } from './live'

describe('keysForEvent', () => {
  it('maps each event type to the caches it makes stale', () => {
    expect(keysForEvent('result', { result_id: 'r1', exec_id: 'e1' })).toEqual([['results'], ['result', 'r1'], ['execution', 'e1'], ['executions'], ['health'], ['checks']])
    expect(keysForEvent('alert', { id: 'chk-1' })).toEqual([['alerts'], ['checks']])
    expect(keysForEvent('agent', { pc_id: 'pc-1' })).toContainEqual(['agent', 'pc-1'])
    expect(keysForEvent('execution', { exec_id: 'e1' })).toContainEqual(['execution', 'e1'])
    expect(keysForEvent('schedule', {})).toEqual([['schedules'], ['executions']])
    expect(keysForEvent('unknown', {})).toEqual([])
  })
})
