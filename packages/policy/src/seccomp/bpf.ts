// A small classic-BPF assembler for seccomp filters and an interpreter that
// runs a filter against a seccomp_data record, so decisions can be tested
// without loading anything into the kernel.

// Instruction classes, sizes, modes and operations from linux/bpf_common.h.
export const BPF = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07,
  W: 0x00, H: 0x08, B: 0x10,
  IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80,
  ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0,
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  K: 0x00, X: 0x08, A: 0x10,
  TAX: 0x00, TXA: 0x80,
} as const

/** Return values from linux/seccomp.h; the low 16 bits carry the errno for RET_ERRNO. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const

/** The kernel's BPF_MAXINSNS: a seccomp program may not be longer. */
export const BPF_MAX_INSTRUCTIONS = 4096

/** Offsets in struct seccomp_data; arguments are 64-bit, little-endian on x86_64 and aarch64. */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  instructionPointer: 8,
  argLow: (index: number) => 16 + 8 * index,
  argHigh: (index: number) => 20 + 8 * index,
} as const

/** A jump target: a label name, or 0 for the next instruction. */
type Target = string | 0

interface PendingInstruction {
  code: number
  jt: Target
  jf: Target
  k: number | { label: string }
}

export interface Instruction {
  code: number
  jt: number
  jf: number
  k: number
}

/** Builds a program with symbolic forward jumps, resolved by assemble(). */
export class ProgramBuilder {
  private readonly pending: PendingInstruction[] = []
  private readonly labels = new Map<string, number>()
  private nextLabel = 0

  get length(): number {
    return this.pending.length
  }

  /** Returns a fresh label name. */
  newLabel(hint: string): string {
    return `${hint}#${this.nextLabel++}`
  }

  /** Places a label at the next instruction. */
  mark(label: string): void {
    if (this.labels.has(label)) throw new Error(`BPF label ${label} placed twice`)
    this.labels.set(label, this.pending.length)
  }

  loadAbsolute(offset: number): void {
    this.pending.push({ code: BPF.LD | BPF.W | BPF.ABS, jt: 0, jf: 0, k: offset })
  }

  and(value: number): void {
    this.pending.push({ code: BPF.ALU | BPF.AND | BPF.K, jt: 0, jf: 0, k: value >>> 0 })
  }

  jump(op: 'eq' | 'ge' | 'gt' | 'set', value: number, jt: Target, jf: Target): void {
    const codes = { eq: BPF.JEQ, ge: BPF.JGE, gt: BPF.JGT, set: BPF.JSET }
    this.pending.push({ code: BPF.JMP | codes[op] | BPF.K, jt, jf, k: value >>> 0 })
  }

  /** Unconditional jump; its 32-bit offset reaches any label. */
  jumpAlways(label: string): void {
    this.pending.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: { label } })
  }

  ret(value: number): void {
    this.pending.push({ code: BPF.RET | BPF.K, jt: 0, jf: 0, k: value >>> 0 })
  }

  /** Resolves labels and returns the instructions; throws when a conditional jump is out of its 8-bit range. */
  assemble(): Instruction[] {
    if (this.pending.length > BPF_MAX_INSTRUCTIONS) {
      throw new Error(`seccomp program has ${this.pending.length} instructions, more than the kernel limit of ${BPF_MAX_INSTRUCTIONS}`)
    }
    return this.pending.map((insn, index) => {
      const offset = (target: Target, max: number): number => {
        if (target === 0) return 0
        const at = this.labels.get(target)
        if (at === undefined) throw new Error(`BPF label ${target} is never placed`)
        const distance = at - index - 1
        if (distance < 0 || distance > max) throw new Error(`BPF jump from ${index} to ${target} (${distance}) is out of range`)
        return distance
      }
      const k = typeof insn.k === 'number' ? insn.k : offset(insn.k.label, 0xffffffff)
      return { code: insn.code, jt: offset(insn.jt, 255), jf: offset(insn.jf, 255), k }
    })
  }
}

/** Encodes instructions as struct sock_filter[] in little-endian byte order. */
export function encodeProgram(instructions: Instruction[]): Buffer {
  const buffer = Buffer.alloc(instructions.length * 8)
  instructions.forEach((insn, i) => {
    buffer.writeUInt16LE(insn.code, i * 8)
    buffer.writeUInt8(insn.jt, i * 8 + 2)
    buffer.writeUInt8(insn.jf, i * 8 + 3)
    buffer.writeUInt32LE(insn.k >>> 0, i * 8 + 4)
  })
  return buffer
}

export function decodeProgram(program: Buffer | Uint8Array | string): Instruction[] {
  const buffer = typeof program === 'string' ? Buffer.from(program, 'base64') : Buffer.from(program)
  if (buffer.length % 8 !== 0) throw new Error(`BPF program length ${buffer.length} is not a multiple of 8 bytes`)
  const instructions: Instruction[] = []
  for (let offset = 0; offset < buffer.length; offset += 8) {
    instructions.push({
      code: buffer.readUInt16LE(offset),
      jt: buffer.readUInt8(offset + 2),
      jf: buffer.readUInt8(offset + 3),
      k: buffer.readUInt32LE(offset + 4),
    })
  }
  return instructions
}

/** Input for runFilter, mirroring struct seccomp_data. */
export interface SeccompData {
  nr: number
  arch: number
  instructionPointer?: bigint
  /** Up to six arguments as unsigned 64-bit values. */
  args?: (bigint | number)[]
}

function encodeData(data: SeccompData): Buffer {
  const buffer = Buffer.alloc(64)
  buffer.writeInt32LE(data.nr | 0, SECCOMP_DATA.nr)
  buffer.writeUInt32LE(data.arch >>> 0, SECCOMP_DATA.arch)
  buffer.writeBigUInt64LE(BigInt.asUintN(64, data.instructionPointer ?? 0n), SECCOMP_DATA.instructionPointer)
  for (let i = 0; i < 6; i++) {
    const arg = data.args?.[i] ?? 0n
    buffer.writeBigUInt64LE(BigInt.asUintN(64, BigInt(arg)), SECCOMP_DATA.argLow(i))
  }
  return buffer
}

/**
 * Runs a seccomp program the way the kernel's classic-BPF interpreter does
 * and returns its 32-bit return value. Supports every instruction a seccomp
 * filter may use; packet-relative loads (IND, LEN beyond 64) are rejected.
 */
export function runFilter(program: Buffer | Uint8Array | string | Instruction[], data: SeccompData): number {
  const instructions = Array.isArray(program) ? program : decodeProgram(program)
  const record = encodeData(data)
  const memory = new Uint32Array(16)
  let a = 0
  let x = 0
  let pc = 0
  while (pc < instructions.length) {
    const insn = instructions[pc] as Instruction
    pc++
    const cls = insn.code & 0x07
    switch (cls) {
      case BPF.LD:
      case BPF.LDX: {
        const mode = insn.code & 0xe0
        let value: number
        if (mode === BPF.IMM) value = insn.k
        else if (mode === BPF.MEM) value = memory[insn.k & 15] ?? 0
        else if (mode === BPF.LEN) value = 64
        else if (mode === BPF.ABS && (insn.code & 0x18) === BPF.W) {
          if (insn.k % 4 !== 0 || insn.k + 4 > 64) throw new Error(`BPF load at offset ${insn.k} outside seccomp_data`)
          value = record.readUInt32LE(insn.k)
        } else throw new Error(`unsupported BPF load 0x${insn.code.toString(16)} at ${pc - 1}`)
        if (cls === BPF.LD) a = value >>> 0
        else x = value >>> 0
        break
      }
      case BPF.ST:
        memory[insn.k & 15] = a
        break
      case BPF.STX:
        memory[insn.k & 15] = x
        break
      case BPF.ALU:
        a = alu(insn.code & 0xf0, a, (insn.code & BPF.X) !== 0 ? x : insn.k)
        break
      case BPF.JMP: {
        const op = insn.code & 0xf0
        if (op === BPF.JA) {
          pc += insn.k
          break
        }
        const operand = ((insn.code & BPF.X) !== 0 ? x : insn.k) >>> 0
        let taken: boolean
        if (op === BPF.JEQ) taken = a === operand
        else if (op === BPF.JGT) taken = a > operand
        else if (op === BPF.JGE) taken = a >= operand
        else if (op === BPF.JSET) taken = (a & operand) !== 0
        else throw new Error(`unsupported BPF jump 0x${insn.code.toString(16)} at ${pc - 1}`)
        pc += taken ? insn.jt : insn.jf
        break
      }
      case BPF.RET:
        return ((insn.code & 0x18) === BPF.A ? a : insn.k) >>> 0
      case BPF.MISC:
        if ((insn.code & 0xf8) === BPF.TXA) a = x
        else x = a
        break
    }
  }
  throw new Error('BPF program ended without a return instruction')
}

function alu(op: number, a: number, operand: number): number {
  const b = operand >>> 0
  switch (op) {
    case BPF.ADD: return (a + b) >>> 0
    case BPF.SUB: return (a - b) >>> 0
    case BPF.MUL: return Math.imul(a, b) >>> 0
    case BPF.DIV: if (b === 0) throw new Error('BPF division by zero'); return Math.floor(a / b) >>> 0
    case BPF.MOD: if (b === 0) throw new Error('BPF division by zero'); return (a % b) >>> 0
    case BPF.OR: return (a | b) >>> 0
    case BPF.AND: return (a & b) >>> 0
    case BPF.XOR: return (a ^ b) >>> 0
    case BPF.LSH: return b >= 32 ? 0 : (a << b) >>> 0
    case BPF.RSH: return b >= 32 ? 0 : a >>> b
    case BPF.NEG: return (-a) >>> 0
  }
  throw new Error(`unsupported BPF ALU operation 0x${op.toString(16)}`)
}

/** Splits a seccomp return value into its action and data (the errno for RET_ERRNO). */
export function describeReturn(value: number): { action: keyof typeof SECCOMP_RET | 'UNKNOWN'; data: number } {
  const actionBits = value & 0xffff0000
  const data = value & 0xffff
  if ((value >>> 0) === SECCOMP_RET.KILL_PROCESS) return { action: 'KILL_PROCESS', data: 0 }
  for (const [name, bits] of Object.entries(SECCOMP_RET)) {
    if (name !== 'KILL_PROCESS' && actionBits >>> 0 === bits) return { action: name as keyof typeof SECCOMP_RET, data }
  }
  return { action: 'UNKNOWN', data }
}
