import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'

/**
 * Takes the writer lock, a file holding the owner's pid. A lock of a process
 * that no longer runs is stale and taken over.
 */
export function takeLock(path: string): void {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o640 })
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const owner = Number.parseInt(readFileSync(path, 'utf8'), 10)
  if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner)) {
    throw new Error(`audit log ${path} is locked by running process ${owner}; stop it first, or remove the lock if that pid is not Blackhole`)
  }
  writeFileSync(path, String(process.pid), { mode: 0o640 })
}

export function releaseLock(path: string): void {
  try {
    if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path)
  } catch {
    // Already gone.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
