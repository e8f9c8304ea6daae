import { parseArgs } from 'node:util'
import { collectHostFacts, doctorStatus, formatDoctor } from '../diagnostics/doctor.js'
import type { Output } from './common.js'

export const DOCTOR_USAGE = `Usage: blackhole doctor [--json]

Reports what this host offers the sandbox (root, namespaces, cgroups,
Landlock, seccomp user notification, audit netlink, AppArmor, pidfd) and
what each missing piece means.

Options:
  --json      print the facts as JSON instead of the report
  -h, --help  show this help

Exit status: 0 when every required mechanism is present, 1 otherwise.`

export async function doctorCommand(args: string[], output: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(DOCTOR_USAGE)
    return 0
  }
  const report = collectHostFacts()
  output.out(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report).replace(/\n$/, ''))
  return doctorStatus(report)
}
