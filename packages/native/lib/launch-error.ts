/**
 * A failed launch step: in the parent before the clone (pipe, clone), while
 * placing the child (cgroup, release), or in the child between clone and
 * execve (mounts, identity, capabilities, landlock, seccomp, execve).
 */
export class LaunchError extends Error {
  override readonly name = 'LaunchError'
  /** Step name such as `mount tmpfs`, `setresuid`, `capabilities`, `execve`. */
  readonly step: string
  readonly errno: number
  /** Errno name such as `EPERM`. */
  readonly code: string
  /** Path or value the step worked on; empty when none applies. */
  readonly detail: string

  constructor(step: string, errno: number, code: string, reason: string, detail: string, hint = '') {
    const subject = detail === '' ? step : `${step} ${detail}`
    super(`${subject}: ${reason} (${code})${hint === '' ? '' : `. ${hint}`}`)
    this.step = step
    this.errno = errno
    this.code = code
    this.detail = detail
  }
}
