// Syscall lists: those every filter denies, those a profile may opt back
// into, and those reported to the supervisor. Validation and the BPF compiler both
// read these lists, so a profile can never name a rule the filter ignores.

import { SYSCALLS_AARCH64, SYSCALLS_X86_64 } from '../tables/syscalls.js'

/**
 * Syscalls denied as a whole even when a profile names nothing. Some change
 * the kernel or the host: modules, kexec, mounts, clocks, swap, reboot.
 * Some widen the attack surface far beyond what a service needs: bpf,
 * io_uring, userfaultfd, keyrings, perf. Others escape the namespaces
 * (unshare, setns, open_by_handle_at) or inspect other processes (ptrace,
 * process_vm_*). A name missing from one architecture's table is skipped
 * for that architecture.
 */
export const DEFAULT_DENIED_SYSCALLS: readonly string[] = [
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'create_module',
  'bpf', 'perf_event_open', 'userfaultfd', 'keyctl', 'add_key', 'request_key',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'unshare', 'setns', 'mount', 'umount2', 'pivot_root',
  'fsopen', 'fsconfig', 'fsmount', 'fspick', 'open_tree', 'open_tree_attr', 'move_mount', 'mount_setattr',
  'ptrace', 'process_vm_readv', 'process_vm_writev',
  'acct', 'swapon', 'swapoff', 'reboot', 'settimeofday', 'clock_settime', 'adjtimex', 'clock_adjtime',
  'syslog', 'vhangup', 'quotactl', 'quotactl_fd', 'lookup_dcookie', 'iopl', 'ioperm',
  'open_by_handle_at', 'name_to_handle_at', 'nfsservctl', 'uselib', 'sysfs', '_sysctl',
]

/**
 * Syscalls the filter checks by argument instead of denying outright:
 * - clone: CLONE_NEW* flags are denied;
 * - clone3: always ENOSYS, so libc falls back to clone, whose flags BPF can read;
 * - ioctl: TIOCSTI and TIOCLINUX are denied;
 * - socket: raw, packet, unix and most netlink families are denied;
 * - personality: only the default persona is allowed.
 * Listing them under `allowed` is accepted and changes nothing, except for
 * the opt-ins below.
 */
export const ARGUMENT_CHECKED_SYSCALLS: readonly string[] = ['clone', 'clone3', 'ioctl', 'socket', 'personality']

/**
 * The only default denials a profile may lift with `syscalls.allowed`, and
 * what each lifts. Each still needs a capability or a same-uid target in the
 * sandbox's own PID namespace to do harm, so opting in stays narrow:
 * - ptrace: debuggers and crash reporters tracing the service's own processes;
 * - personality: any persona, for programs that turn off address randomisation;
 * - socket: SOCK_RAW and AF_PACKET sockets, which the kernel still grants only
 *   with CAP_NET_RAW.
 */
export const OPT_IN_SYSCALLS: readonly string[] = ['ptrace', 'personality', 'socket']

/** Reported to the supervisor with their arguments, then allowed, in enforce and permissive mode. */
export const WATCHED_SYSCALLS: readonly string[] = ['execve', 'execveat', 'connect', 'bind']

/**
 * Syscalls the launcher itself makes after installing the filter: sendmsg
 * hands the listener to the supervisor and close drops the child's copy,
 * write and exit_group report a failed execve. No profile may deny them. A
 * notified sendmsg blocks the launch, because the supervisor has no listener
 * to answer it with yet, and a denied write loses the failure record.
 */
export const LAUNCHER_SYSCALLS: readonly string[] = ['sendmsg', 'close', 'write', 'exit_group']

/** Every syscall name in either table. */
export const KNOWN_SYSCALL_NAMES: ReadonlySet<string> = new Set([...Object.keys(SYSCALLS_X86_64), ...Object.keys(SYSCALLS_AARCH64)])
