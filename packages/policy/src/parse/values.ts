// Checks for single values: paths, environment names, listen sockets,
// network destinations. Each returns an error message, or null when valid.

import { isIP } from 'node:net'

/** Loader and interpreter variables that inject code into the service's programs. */
const INJECTION_NAMES = new Set([
  'GCONV_PATH', 'NODE_OPTIONS', 'NODE_PATH', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONINSPECT',
  'PERL5OPT', 'PERL5LIB', 'PERLLIB', 'RUBYOPT', 'RUBYLIB', 'BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'HOSTALIASES', 'LOCPATH', 'MALLOC_TRACE',
  'NLSPATH', 'RESOLV_HOST_CONF', 'GETCONF_DIR',
])

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Kernel filesystems that no writable path may cover. */
export const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev']

export function checkEnvName(name: string): string | null {
  if (!ENV_NAME.test(name)) return `invalid environment variable name "${name}"; expected letters, digits and _ and no leading digit`
  if (name.startsWith('LD_') || INJECTION_NAMES.has(name)) {
    return `environment variable "${name}" is not allowed because it makes programs load or run extra code`
  }
  return null
}

export function checkEnvValue(name: string, value: string): string | null {
  if (/[\n\r\0]/.test(value)) return `value of environment variable "${name}" contains a newline or NUL character`
  return null
}

/** Checks that a path is absolute and already normalised; returns an error message or null. */
export function checkPath(path: string): string | null {
  if (path === '') return 'invalid path "": expected an absolute path'
  if (/[\0\n\r]/.test(path)) return `invalid path ${JSON.stringify(path)}: contains a newline or NUL character`
  if (!path.startsWith('/')) return `invalid path "${path}": expected an absolute path starting with /`
  if (path.length > 4095) return `invalid path "${path.slice(0, 40)}...": longer than 4095 characters`
  if (path === '/') return null
  const segments = path.slice(1).split('/')
  if (segments.includes('..')) return `invalid path "${path}": ".." segments are not allowed; write the resolved path`
  const normal = '/' + segments.filter((s) => s !== '' && s !== '.').join('/')
  if (normal !== path) return `invalid path "${path}": not normalised; write "${normal}"`
  return null
}

/** Maps /var/run, a symlink to /run on Debian and most distributions, to /run. */
export function resolveVarRun(path: string): string {
  return path === '/var/run' || path.startsWith('/var/run/') ? `/run${path.slice('/var/run'.length)}` : path
}

export function isSameOrUnder(path: string, parent: string): boolean {
  return parent === '/' || path === parent || path.startsWith(`${parent}/`)
}

/** Extra checks for a path that becomes writable. */
export function checkWritablePath(path: string): string | null {
  if (path === '/') return 'writable path "/" is not allowed; set filesystem.read_only_root: false to make the root writable'
  const resolved = resolveVarRun(path)
  const kernel = KERNEL_FILESYSTEMS.find((fs) => isSameOrUnder(resolved, fs))
  if (kernel !== undefined) return `writable path "${path}" is on the kernel filesystem ${kernel}; /proc, /sys and /dev cannot be writable`
  return null
}

/** Parses an address or CIDR into canonical CIDR form; returns an error message for invalid input. */
export function parseCidr(input: string): { cidr: string } | { error: string } {
  const [address = '', prefix, extra] = input.split('/')
  const version = isIP(address)
  const expected = 'expected an IPv4 or IPv6 address, optionally with a /prefix (for example 10.0.0.0/8 or 2001:db8::/32)'
  if (version === 0 || extra !== undefined) return { error: `invalid address "${input}"; ${expected}` }
  const maxPrefix = version === 4 ? 32 : 128
  if (prefix === undefined) return { cidr: `${address}/${maxPrefix}` }
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
    return { error: `invalid prefix length "/${prefix}" in "${input}"; expected 0 to ${maxPrefix}` }
  }
  return { cidr: `${address}/${Number(prefix)}` }
}

const FD_NAME = /^[A-Za-z0-9_.-]{1,255}$/

export type ListenParse =
  | { kind: 'tcp'; port: number; host: string | null }
  | { kind: 'unix'; path: string }
  | { error: string }

/** Parses `tcp:PORT`, `tcp:HOST:PORT` (IPv6 hosts in brackets) or `unix:/abs/path`. */
export function parseListen(socket: string): ListenParse {
  const expected = 'expected tcp:PORT, tcp:HOST:PORT or unix:/absolute/path'
  if (socket.startsWith('unix:')) {
    const path = socket.slice('unix:'.length)
    const pathError = checkPath(path)
    if (pathError !== null) return { error: `invalid listen socket "${socket}": ${pathError}` }
    if (path.length > 107) return { error: `invalid listen socket "${socket}": unix socket paths are limited to 107 bytes` }
    return { kind: 'unix', path }
  }
  if (!socket.startsWith('tcp:')) return { error: `invalid listen socket "${socket}"; ${expected}` }
  const rest = socket.slice('tcp:'.length)
  const colon = rest.lastIndexOf(':')
  const portText = colon === -1 ? rest : rest.slice(colon + 1)
  let host: string | null = colon === -1 ? null : rest.slice(0, colon)
  if (host !== null && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { error: `invalid listen socket "${socket}": port must be an integer from 1 to 65535` }
  }
  if (host !== null && isIP(host) === 0) {
    return { error: `invalid listen socket "${socket}": host "${host}" is not an IPv4 or IPv6 address` }
  }
  return { kind: 'tcp', port: Number(portText), host }
}

/** Default LISTEN_FDNAMES entry for a socket: `tcp-8080` or `unix-app.sock`. */
export function defaultListenName(parsed: { kind: 'tcp'; port: number } | { kind: 'unix'; path: string }): string {
  if (parsed.kind === 'tcp') return `tcp-${parsed.port}`
  const base = parsed.path.slice(parsed.path.lastIndexOf('/') + 1)
  const cleaned = base.replace(/[^A-Za-z0-9_.-]/g, '_')
  return `unix-${cleaned}`.slice(0, 255)
}

export function checkListenName(name: string): string | null {
  return FD_NAME.test(name) ? null : `invalid socket name "${name}"; expected 1 to 255 letters, digits, _ . or -`
}
