// collectHostFacts on this machine: root, hybrid cgroups (v1 controllers
// next to an empty cgroup2 mount), Landlock ABI 7.

import { describe, expect, it } from 'vitest'
import { collectHostFacts, doctorStatus, formatDoctor } from '../../src/diagnostics/doctor.js'

describe('doctor on this host', () => {
  const report = collectHostFacts()
  const output = formatDoctor(report)

  it('reports root', () => {
    expect(report.root).toBe(true)
    expect(output).toMatch(/^ok {4}root +uid 0$/m)
  })

  it('reports the cgroup layout', () => {
    expect(['hybrid', 'v1']).toContain(report.cgroups.layout)
    expect(report.cgroups.controllers.memory).toBe(1)
    expect(report.cgroups.controllers.pids).toBe(1)
    expect(output).toMatch(/^ok {4}cgroups +(hybrid|v1)/m)
  })

  it('reports Landlock ABI 7', () => {
    expect(report.landlockAbi).toBe(7)
    expect(output).toMatch(/^ok {4}Landlock +ABI 7$/m)
  })

  it('reports seccomp, pidfd and clone3', () => {
    expect(report.seccompFilter).toBe(true)
    expect(report.seccompNotify).toBe(true)
    expect(report.pidfd).toBe(true)
    expect(report.clone3).toBe(true)
  })

  it('opens the audit socket', () => {
    expect(report.audit.error).toBe('')
    expect(report.audit.netlink).toBe(true)
  })

  it('can run sandboxes', () => {
    expect(doctorStatus(report)).toBe(0)
    expect(output).toContain('This host can run Blackhole sandboxes.')
  })
})
