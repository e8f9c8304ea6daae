// RecordGate: the per-service record budget and drop counting every monitor uses.

import { describe, expect, it } from 'vitest'
import { RecordGate, UNATTRIBUTED, type MonitorLogger } from '../../src/monitor/common.js'
import type { AuditInput } from '../../src/types.js'

const silent: MonitorLogger = { warn: () => undefined, error: () => undefined }

function input(service: string | null): AuditInput {
  return { service, type: 'PROCESS_EXEC', severity: 'info', description: 'x' }
}

describe('RecordGate', () => {
  it('drops records beyond the budget per second', () => {
    const recorded: AuditInput[] = []
    const gate = new RecordGate((record) => { recorded.push(record) }, silent, 3)
    for (let i = 0; i < 5; i++) gate.emit(input('web'), 1000)
    expect(recorded).toHaveLength(3)
    expect(gate.recorded).toBe(3)
    expect(gate.dropped).toBe(2)
    expect(gate.droppedByService.get('web')).toBe(2)
  })

  it('gives each service its own budget', () => {
    const gate = new RecordGate(() => undefined, silent, 1)
    expect(gate.emit(input('a'), 1000)).toBe(true)
    expect(gate.emit(input('b'), 1000)).toBe(true)
    expect(gate.emit(input('a'), 1000)).toBe(false)
  })

  it('refills the budget the next second', () => {
    const gate = new RecordGate(() => undefined, silent, 1)
    expect(gate.emit(input('a'), 1000)).toBe(true)
    expect(gate.emit(input('a'), 1999)).toBe(false)
    expect(gate.emit(input('a'), 2000)).toBe(true)
  })

  it('counts a rejected record as dropped', async () => {
    const errors: string[] = []
    const gate = new RecordGate(() => Promise.reject(new Error('disk full')), { warn: () => undefined, error: (m) => errors.push(m) }, 10)
    gate.emit(input('web'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(gate.recorded).toBe(0)
    expect(gate.dropped).toBe(1)
    expect(errors[0]).toMatch(/PROCESS_EXEC for web failed: disk full/)
  })

  it('counts drops without a service as unattributed', () => {
    const gate = new RecordGate(() => undefined, silent, 10)
    gate.drop(null, 4)
    expect(gate.stats(true, null, true).droppedByService).toEqual({ [UNATTRIBUTED]: 4 })
  })
})
