// Boundary check of a LaunchSpec before it crosses into C++. The policy
// package produces specs, but the launcher runs as root, so it trusts none:
// every error names the field, the bad value and what is expected.

import type { LaunchSpec } from '@blackhole/policy'

const RLIMIT_NAMES = new Set(['AS', 'DATA', 'STACK', 'CORE', 'NOFILE', 'NPROC', 'MEMLOCK', 'FSIZE'])
const MOUNT_TYPES = new Set(['bind', 'proc', 'dev', 'tmpfs', 'mask', 'readonly'])
const NETWORK_MODES = new Set(['none', 'veth', 'host'])
const ENFORCE_MODES = new Set(['enforce', 'permissive', 'disabled'])
const MAX_ID = 0xfffffffe // (uid_t)-1 means "unchanged" to setresuid
const HOST_NAME_MAX = 64

type Bag = Record<string, unknown>

function show(value: unknown): string {
  const text = JSON.stringify(value)
  if (text === undefined) return String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function invalid(field: string, expected: string, value: unknown): TypeError {
  return new TypeError(`LaunchSpec.${field} must be ${expected}, got ${show(value)}`)
}

function object(value: unknown, field: string): Bag {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'an object', value)
  return value as Bag
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(field, 'an array', value)
  return value
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, 'a string', value)
  if (value.includes('\0')) throw invalid(field, 'a string without NUL bytes', value)
  return value
}

function absolutePath(value: unknown, field: string): string {
  const path = string(value, field)
  if (!path.startsWith('/')) throw invalid(field, 'an absolute path', value)
  return path
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, 'a boolean', value)
  return value
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `an integer from ${min} to ${max}`, value)
  }
  return value
}

function limit(value: unknown, field: string): void {
  if (value !== null) integer(value, field, 0, Number.MAX_SAFE_INTEGER)
}

function checkMount(value: unknown, field: string, index: number): void {
  const step = object(value, field)
  if (typeof step.type !== 'string' || !MOUNT_TYPES.has(step.type)) {
    throw invalid(`${field}.type`, `one of ${[...MOUNT_TYPES].join(', ')}`, step.type)
  }
  absolutePath(step.target, `${field}.target`)
  if (step.type === 'bind') {
    absolutePath(step.source, `${field}.source`)
    boolean(step.readOnly, `${field}.readOnly`)
    boolean(step.recursive, `${field}.recursive`)
  }
  if (step.type === 'tmpfs') {
    limit(step.sizeBytes, `${field}.sizeBytes`)
    integer(step.mode, `${field}.mode`, 0, 0o7777)
    integer(step.uid, `${field}.uid`, 0, MAX_ID)
    integer(step.gid, `${field}.gid`, 0, MAX_ID)
    boolean(step.readOnly, `${field}.readOnly`)
  }
  if (index > 0 && step.type === 'bind' && step.target === '/') {
    throw invalid(`${field}.target`, 'a path other than / (only the first step may bind the root)', step.target)
  }
}

function checkSeccomp(value: unknown): void {
  const seccomp = object(value, 'seccomp')
  if (typeof seccomp.mode !== 'string' || !ENFORCE_MODES.has(seccomp.mode)) {
    throw invalid('seccomp.mode', 'enforce, permissive or disabled', seccomp.mode)
  }
  boolean(seccomp.listener, 'seccomp.listener')
  integer(seccomp.flags, 'seccomp.flags', 0, 0xffff)
  if (seccomp.filter === null) {
    if (seccomp.listener) throw invalid('seccomp.listener', 'false when seccomp.filter is null', true)
    return
  }
  const filter = string(seccomp.filter, 'seccomp.filter')
  const bytes = Buffer.from(filter, 'base64')
  if (bytes.length === 0 || bytes.length % 8 !== 0 || bytes.length > 4096 * 8) {
    throw invalid('seccomp.filter', 'base64 of 1 to 4096 struct sock_filter entries (8 bytes each)', filter)
  }
}

function checkLandlock(value: unknown): void {
  if (value === null) return
  const landlock = object(value, 'landlock')
  integer(landlock.minAbi, 'landlock.minAbi', 1, 1000)
  integer(landlock.handledAccessFs, 'landlock.handledAccessFs', 0, Number.MAX_SAFE_INTEGER)
  integer(landlock.handledAccessNet, 'landlock.handledAccessNet', 0, Number.MAX_SAFE_INTEGER)
  integer(landlock.scoped, 'landlock.scoped', 0, Number.MAX_SAFE_INTEGER)
  integer(landlock.restrictFlags, 'landlock.restrictFlags', 0, 0xffffffff)
  array(landlock.pathRules, 'landlock.pathRules').forEach((rule, i) => {
    const at = `landlock.pathRules[${i}]`
    absolutePath(object(rule, at).path, `${at}.path`)
    integer((rule as Bag).access, `${at}.access`, 0, Number.MAX_SAFE_INTEGER)
  })
  array(landlock.netRules, 'landlock.netRules').forEach((rule, i) => {
    const at = `landlock.netRules[${i}]`
    integer(object(rule, at).port, `${at}.port`, 0, 65535)
    integer((rule as Bag).access, `${at}.access`, 0, Number.MAX_SAFE_INTEGER)
  })
}

function checkIdentity(spec: Bag): void {
  integer(spec.uid, 'uid', 0, MAX_ID)
  integer(spec.gid, 'gid', 0, MAX_ID)
  array(spec.groups, 'groups').forEach((group, i) => integer(group, `groups[${i}]`, 0, MAX_ID))
  const seen = new Set<number>()
  array(spec.capabilities, 'capabilities').forEach((cap, i) => {
    integer(cap, `capabilities[${i}]`, 0, 63)
    if (seen.has(cap as number)) throw invalid(`capabilities[${i}]`, 'listed once', cap)
    seen.add(cap as number)
  })
  boolean(spec.noNewPrivs, 'noNewPrivs')
}

function checkNamespacesAndMounts(spec: Bag): void {
  const namespaces = object(spec.namespaces, 'namespaces')
  for (const name of ['pid', 'mount', 'net', 'ipc', 'uts', 'cgroup']) {
    boolean(namespaces[name], `namespaces.${name}`)
  }
  const hostname = string(spec.hostname, 'hostname')
  if (hostname.length === 0 || Buffer.byteLength(hostname) > HOST_NAME_MAX) {
    throw invalid('hostname', `1 to ${HOST_NAME_MAX} bytes`, hostname)
  }
  const mounts = array(spec.mounts, 'mounts')
  if (!namespaces.mount && mounts.length > 0) {
    throw invalid('mounts', 'empty when namespaces.mount is false', mounts.length)
  }
  mounts.forEach((step, i) => checkMount(step, `mounts[${i}]`, i))
  const network = object(spec.network, 'network')
  if (typeof network.mode !== 'string' || !NETWORK_MODES.has(network.mode)) {
    throw invalid('network.mode', 'none, veth or host', network.mode)
  }
  boolean(network.loopbackUp, 'network.loopbackUp')
}

function checkDescriptors(spec: Bag): void {
  array(spec.listenFds, 'listenFds').forEach((entry, i) => {
    const at = `listenFds[${i}]`
    integer(object(entry, at).fd, `${at}.fd`, 0, 0x7fffffff)
    const name = string((entry as Bag).name, `${at}.name`)
    if (!/^[A-Za-z0-9_.-]{1,255}$/.test(name)) {
      throw invalid(`${at}.name`, '1 to 255 letters, digits, ".", "_" or "-" (LISTEN_FDNAMES separates with ":")', name)
    }
  })
  const stdio = array(spec.stdio, 'stdio')
  if (stdio.length !== 3) throw invalid('stdio', 'three descriptors [stdin, stdout, stderr]', stdio)
  stdio.forEach((fd, i) => integer(fd, `stdio[${i}]`, -1, 0x7fffffff))
}

/** Throws a TypeError naming the first invalid field of a LaunchSpec. */
export function validateLaunchSpec(value: unknown): asserts value is LaunchSpec {
  const spec = object(value, '(root)')
  if (spec.specVersion !== 1) {
    throw invalid('specVersion', '1 (the only version this launcher implements)', spec.specVersion)
  }
  if (string(spec.name, 'name') === '') throw invalid('name', 'a non-empty string', spec.name)
  absolutePath(spec.file, 'file')
  array(spec.argv, 'argv').forEach((arg, i) => string(arg, `argv[${i}]`))
  array(spec.env, 'env').forEach((entry, i) => {
    if (!string(entry, `env[${i}]`).includes('=')) throw invalid(`env[${i}]`, 'NAME=value', entry)
  })
  absolutePath(spec.cwd, 'cwd')
  checkIdentity(spec)
  checkNamespacesAndMounts(spec)
  array(spec.rlimits, 'rlimits').forEach((entry, i) => {
    const at = `rlimits[${i}]`
    const rlimit = object(entry, at)
    if (typeof rlimit.resource !== 'string' || !RLIMIT_NAMES.has(rlimit.resource)) {
      throw invalid(`${at}.resource`, `one of ${[...RLIMIT_NAMES].join(', ')}`, rlimit.resource)
    }
    limit(rlimit.soft, `${at}.soft`)
    limit(rlimit.hard, `${at}.hard`)
    const soft = rlimit.soft === null ? Infinity : (rlimit.soft as number)
    const hard = rlimit.hard === null ? Infinity : (rlimit.hard as number)
    if (soft > hard) throw invalid(`${at}.soft`, `at most the hard limit ${String(rlimit.hard)}`, rlimit.soft)
  })
  array(spec.cgroupProcs, 'cgroupProcs').forEach((path, i) => absolutePath(path, `cgroupProcs[${i}]`))
  checkSeccomp(spec.seccomp)
  checkLandlock(spec.landlock)
  checkDescriptors(spec)
}
