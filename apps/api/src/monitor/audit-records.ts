// Parser for kernel audit records as they arrive on the audit netlink
// socket: `audit(1796400195.968:2): domain=163392776 blockers=fs.make_reg
// path="/tmp" dev="tmpfs" ino=1`. Records of one event share the
// `time:serial` stamp.

export const AUDIT_SYSCALL = 1300
export const AUDIT_EOE = 1320
export const AUDIT_LANDLOCK_ACCESS = 1423
export const AUDIT_LANDLOCK_DOMAIN = 1424

export interface KernelAuditRecord {
  type: number
  /** Event time in milliseconds since the epoch. */
  time: number
  /** Event serial number; records with the same time and serial belong to one event. */
  serial: number
  fields: Record<string, string>
}

// Fields the kernel logs with audit_log_untrustedstring: quoted when the
// value is plain, as bare uppercase hex when it contains a space, a quote,
// a control character or a byte above 0x7e.
const UNTRUSTED_FIELDS = new Set(['path', 'name', 'comm', 'exe', 'cwd', 'proctitle', 'ocomm', 'key'])

const HEADER = /^audit\((\d+)\.(\d{3}):(\d+)\):\s?/

function decodeHex(value: string): string | null {
  if (value.length === 0 || value.length % 2 !== 0 || !/^[0-9A-F]+$/.test(value)) return null
  return Buffer.from(value, 'hex').toString('utf8')
}

/** Splits `key=value key="quoted value"` text into fields, decoding hex-encoded untrusted strings. */
export function parseAuditFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  let index = 0
  while (index < text.length) {
    while (text[index] === ' ') index += 1
    const equals = text.indexOf('=', index)
    if (equals < 0) break
    const key = text.slice(index, equals)
    let value: string
    if (text[equals + 1] === '"') {
      // Quoted values never contain a quote: such strings are hex-encoded.
      const close = text.indexOf('"', equals + 2)
      const end = close < 0 ? text.length : close
      value = text.slice(equals + 2, end)
      index = end + 1
    } else {
      const space = text.indexOf(' ', equals + 1)
      const end = space < 0 ? text.length : space
      value = text.slice(equals + 1, end)
      index = end
      if (UNTRUSTED_FIELDS.has(key)) value = decodeHex(value) ?? value
    }
    // Keys without spaces only; a stray token such as `res=1'` in user messages is kept as is.
    if (key !== '' && !key.includes(' ')) fields[key] = value
  }
  return fields
}

/** Parses one record's text; returns null when the `audit(time:serial):` header is missing. */
export function parseAuditRecord(type: number, text: string): KernelAuditRecord | null {
  const header = HEADER.exec(text)
  if (header === null) return null
  const time = Number(header[1]) * 1000 + Number(header[2])
  return { type, time, serial: Number(header[3]), fields: parseAuditFields(text.slice(header[0].length)) }
}

/** One Landlock denial, assembled from the records of one audit event. */
export interface LandlockDenial {
  time: number
  serial: number
  /** Landlock domain id (hex in the record, kept as text). */
  domain: string
  /** Denied accesses, such as `fs.write_file` or `net.bind_tcp`. */
  blockers: string[]
  /** Path of a filesystem denial, null for network and scope denials. */
  path: string | null
  /** Pid of the denied process from the event's SYSCALL record, or null when the event had none. */
  pid: number | null
  /** Other fields of the access record, for example `dev`, `ino`, `daddr` and `dest`. */
  details: Record<string, string>
}

/** Builds the denials of one event; records of other types are context (SYSCALL gives the pid). */
export function landlockDenials(records: KernelAuditRecord[]): LandlockDenial[] {
  const syscall = records.find((record) => record.type === AUDIT_SYSCALL)
  const syscallPid = syscall?.fields.pid !== undefined ? Number(syscall.fields.pid) : null
  const denials: LandlockDenial[] = []
  for (const record of records) {
    if (record.type !== AUDIT_LANDLOCK_ACCESS) continue
    const { domain, blockers, path, ...details } = record.fields
    denials.push({
      time: record.time,
      serial: record.serial,
      domain: domain ?? '',
      blockers: blockers === undefined ? [] : blockers.split(','),
      path: path ?? null,
      pid: Number.isInteger(syscallPid) ? syscallPid : null,
      details,
    })
  }
  return denials
}
