// A sandbox's network: its links, listen sockets, control socket and veth
// pair, and cutting and restoring it for block and isolate.

import { readFileSync } from 'node:fs'
import { setLinkUp, type PeerCredentials } from '@blackhole/native'
import type { Profile } from '@blackhole/policy'
import { join } from 'node:path'
import { CONTROL_SOCKET_NAME, ControlSocket, controlDir } from './control-socket.js'
import { blockTraffic, unblockTraffic } from './firewall.js'
import type { LaunchAttachments } from './launch.js'
import { bindListenSockets, closeListenSockets, listenFdsOf, type BoundSocket } from './listen.js'
import { restoreSandboxRoute, setHostEndUp, setUpVeth, tearDownVeth, type VethLease } from './veth.js'

/** Lists the network links of a process's network namespace from /proc/PID/net/dev. */
export function sandboxLinks(pid: number): string[] {
  let text = ''
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
  } catch {
    return ['lo']
  }
  // Two header lines, then one `name: counters...` line per link.
  const links = text.split('\n').slice(2).map((line) => line.split(':')[0]!.trim()).filter((link) => link !== '')
  return links.length === 0 ? ['lo'] : links
}

/** Takes every link in the namespace of pid down. */
export function cutLinks(pid: number): void {
  for (const link of sandboxLinks(pid)) setLinkUp(pid, link, false)
}

/**
 * Brings the links of pid's namespace back up. lo stays down when the
 * profile does not allow localhost, because the launcher never raised it.
 */
export function restoreLinks(pid: number, profile: Profile): void {
  for (const link of sandboxLinks(pid)) {
    if (link === 'lo' && !profile.network.allowLocalhost) continue
    setLinkUp(pid, link, true)
  }
}

// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
const MAX_UNIX_PATH_BYTES = 107

/** Callbacks for the messages and rejections of a service's control socket. */
export interface ControlEvents {
  ready(peer: PeerCredentials): void
  status(text: string, peer: PeerCredentials): void
  watchdog(peer: PeerCredentials): void
  stopping(peer: PeerCredentials): void
  rejected(peer: PeerCredentials | null, reason: string): void
}

export interface ServiceNetworkOptions {
  service: string
  /**
   * Name the veth pair, its firewall chains and its lease derive from; the
   * service name by default. A supervisor under another cgroup parent passes
   * `<service>.<parent>` so two supervisors never share a host interface.
   */
  linkKey?: string
  profile: Profile
  dataDir: string
  /** CIDR the veth /30 subnets come from; DEFAULT_VETH_RANGE by default. */
  vethRange?: string
  /** Whether a host pid belongs to the service; peers of the control socket must. */
  isServiceProcess(pid: number): boolean
  control: ControlEvents
}

/**
 * The network resources of one run of a service: its listen sockets, its
 * control socket and its veth pair with their firewall rules. The
 * supervisor creates one per launch and releases it when the process is
 * gone or the launch failed.
 */
export class ServiceNetwork {
  readonly service: string
  readonly linkKey: string
  readonly profile: Profile
  sockets: BoundSocket[] = []
  control: ControlSocket | null = null
  veth: VethLease | null = null
  readonly #options: ServiceNetworkOptions
  readonly #warnings: string[] = []

  constructor(options: ServiceNetworkOptions) {
    this.#options = options
    this.service = options.service
    this.linkKey = options.linkKey ?? options.service
    this.profile = options.profile
  }

  /** Warnings to record as PROFILE_WARNING before the launch. */
  warnings(): string[] {
    const warnings = [...this.#warnings]
    if (this.profile.network.mode === 'host') {
      warnings.push(`${this.service} shares the host network (network mode host): it can reach and bind every host address, and block cannot cut it`)
    }
    return warnings
  }

  /** Binds the listen sockets and opens the control socket for the service's uid and gid (prepareLaunch's attach hook). */
  async attach(identity: { uid: number; gid: number }): Promise<LaunchAttachments> {
    this.sockets = bindListenSockets(this.profile.network.listen, identity)
    const path = join(controlDir(this.#options.dataDir, this.service), CONTROL_SOCKET_NAME)
    if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
      this.#warnings.push(`no control socket for ${this.service}: its path ${path} exceeds ${MAX_UNIX_PATH_BYTES} bytes; use a shorter data folder`)
      return { listenFds: listenFdsOf(this.sockets) }
    }
    const events = this.#options.control
    this.control = await ControlSocket.open({
      dataDir: this.#options.dataDir,
      service: this.service,
      uid: identity.uid,
      gid: identity.gid,
      isServiceProcess: (pid) => this.#options.isServiceProcess(pid),
      handlers: {
        onReady: (peer) => events.ready(peer),
        onStatus: (text, peer) => events.status(text, peer),
        onWatchdog: (peer) => events.watchdog(peer),
        onStopping: (peer) => events.stopping(peer),
        onRejected: (peer, reason) => events.rejected(peer, reason),
      },
    })
    return { listenFds: listenFdsOf(this.sockets), controlDir: this.control.dir }
  }

  /** Sets up the veth pair while the child waits in its new network namespace (the launcher's beforeRelease hook). */
  beforeRelease(pid: number): void {
    if (this.profile.network.mode !== 'veth') return
    this.veth = setUpVeth({
      service: this.linkKey,
      pid,
      dataDir: this.#options.dataDir,
      ...(this.#options.vethRange === undefined ? {} : { range: this.#options.vethRange }),
      allowedPorts: this.profile.network.allowedPorts,
      outbound: this.profile.network.outbound,
    })
  }

  /** TCP ports of the listen sockets, which block and isolate close on the host. */
  listenPorts(): number[] {
    return this.sockets.flatMap((socket) => (socket.port === null ? [] : [socket.port]))
  }

  /**
   * Cuts the sandbox's network: every link in its namespace down, the host
   * end of the veth down, and nftables drops for the veth and the TCP
   * listen ports. Returns false for network mode host, which has nothing
   * of its own to cut.
   */
  cut(pid: number): boolean {
    if (this.profile.network.mode === 'host') return false
    cutLinks(pid)
    if (this.veth !== null) setHostEndUp(this.linkKey, false)
    blockTraffic(this.veth?.hostIfname ?? null, this.listenPorts())
    return true
  }

  /** Undoes cut, including the sandbox's default route that went away with its link. */
  restore(pid: number): void {
    if (this.profile.network.mode === 'host') return
    unblockTraffic(this.veth?.hostIfname ?? null, this.listenPorts())
    restoreLinks(pid, this.profile)
    if (this.veth !== null) {
      setHostEndUp(this.linkKey, true)
      restoreSandboxRoute(pid, this.veth)
    }
  }

  /** Addresses for the SERVICE_STARTED record. */
  describe(): Record<string, unknown> {
    return {
      networkMode: this.profile.network.mode,
      veth: this.veth === null ? null : { ifname: this.veth.hostIfname, host: this.veth.hostAddress, sandbox: this.veth.sandboxAddress },
      listen: this.sockets.map((socket) => ({ name: socket.name, address: socket.address })),
      controlSocket: this.control?.path ?? null,
    }
  }

  /**
   * Closes the listen sockets (unlinking unix socket files), the control
   * socket and tears down the veth pair and its rules. Safe to call twice;
   * each part is tried even when an earlier one fails, and the first error
   * is thrown at the end.
   */
  async release(): Promise<void> {
    const errors: unknown[] = []
    const ports = this.listenPorts()
    closeListenSockets(this.sockets)
    this.sockets = []
    try {
      await this.control?.close()
    } catch (error) {
      errors.push(error)
    }
    this.control = null
    try {
      if (this.profile.network.mode === 'veth') tearDownVeth(this.#options.dataDir, this.linkKey, ports)
      else if (ports.length > 0) unblockTraffic(null, ports)
    } catch (error) {
      errors.push(error)
    }
    this.veth = null
    if (errors.length > 0) throw errors[0]
  }
}
