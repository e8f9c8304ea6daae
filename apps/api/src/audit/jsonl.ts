import {
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  write,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { promisify } from 'node:util'

const writeAsync = promisify(write)
const fdatasyncAsync = promisify(fdatasync)

/** One complete line of the JSONL file. */
export interface JsonlLine {
  /** Text without the newline. */
  text: string
  /** Byte offset of the line's first byte. */
  offset: number
}

export interface JsonlContents {
  lines: JsonlLine[]
  /**
   * Bytes after the last newline: a line that a crash cut off while it was
   * being written. Empty when the file ends with a newline.
   */
  tornTail: string
  /** Byte length of the complete lines, where a repair truncates the file. */
  completeBytes: number
}

/**
 * Reads the JSONL file, or returns no lines when it does not exist. Only
 * bytes before limitBytes count. With fromByte, reading starts there and
 * skips the first line, which may be partial.
 * NOTE: verify reads the whole file into memory, about twice its size,
 * which bounds the log size it can check without a streaming reader.
 */
export function readJsonl(path: string, limitBytes?: number, fromByte = 0): JsonlContents {
  if (!existsSync(path)) return { lines: [], tornTail: '', completeBytes: 0 }
  let buffer: Buffer
  if (fromByte > 0) {
    const fd = openSync(path, 'r')
    try {
      const size = fstatSync(fd).size
      buffer = Buffer.alloc(Math.max(0, size - fromByte))
      buffer = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, fromByte))
    } finally {
      closeSync(fd)
    }
  } else {
    buffer = readFileSync(path)
  }
  if (limitBytes !== undefined && buffer.length > limitBytes - fromByte) buffer = buffer.subarray(0, Math.max(0, limitBytes - fromByte))
  const lines: JsonlLine[] = []
  let start = fromByte > 0 ? buffer.indexOf(0x0a) + 1 : 0
  if (fromByte > 0 && start === 0) return { lines, tornTail: '', completeBytes: fromByte }
  for (;;) {
    const end = buffer.indexOf(0x0a, start)
    if (end < 0) break
    lines.push({ text: buffer.toString('utf8', start, end), offset: fromByte + start })
    start = end + 1
  }
  return { lines, tornTail: buffer.toString('utf8', start), completeBytes: fromByte + start }
}

/** Returns the file's size in bytes, 0 when it does not exist. */
export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0
}

/**
 * Appends to the JSONL file through one descriptor. Each batch is one
 * write() followed by fdatasync(). The writer truncates a failed batch
 * again, so the file keeps no lines that the database rejected. If that
 * truncate fails too, the writer stops.
 */
export class JsonlAppender {
  private fd: number
  /** Bytes in the file that belong to committed batches. */
  size: number
  /** Number of fdatasync calls, which tests read to see group commit at work. */
  syncCount = 0

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o640)
    this.size = fstatSync(this.fd).size
  }

  /** Writes the bytes with one write() call and waits for fdatasync. */
  async append(data: Buffer): Promise<void> {
    let written = 0
    // write() on a regular file writes everything unless the disk is full or
    // a signal arrives; the loop covers the rare short write.
    while (written < data.length) {
      const { bytesWritten } = await writeAsync(this.fd, data, written, data.length - written, null)
      written += bytesWritten
    }
    await fdatasyncAsync(this.fd)
    this.syncCount += 1
  }

  /** Marks the appended bytes as committed. */
  commit(bytes: number): void {
    this.size += bytes
  }

  /** Cuts the file back to the last committed batch and syncs that. */
  rollback(): void {
    ftruncateSync(this.fd, this.size)
    fsyncSync(this.fd)
  }

  close(): void {
    closeSync(this.fd)
  }

  /**
   * Replaces the file's contents atomically (write a temporary file, fsync,
   * rename, fsync the folder) and reopens the descriptor.
   */
  replace(contents: string): void {
    closeSync(this.fd)
    replaceFile(this.path, contents)
    this.fd = openSync(this.path, 'a', 0o640)
    this.size = fstatSync(this.fd).size
  }
}

/**
 * Replaces a file's contents atomically: write a temporary file, fsync it,
 * rename it over the file and fsync the folder.
 */
export function replaceFile(path: string, contents: string): void {
  const temporary = `${path}.tmp`
  writeFileSync(temporary, contents, { mode: 0o640 })
  const fd = openSync(temporary, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temporary, path)
  syncFolder(dirname(path))
}

/** Appends bytes to a file and fsyncs it. */
export function appendAndSync(path: string, data: string): void {
  const fd = openSync(path, 'a', 0o640)
  try {
    writeFileSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Truncates a file to the given length and syncs it. */
export function truncateFile(path: string, length: number): void {
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, length)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Fsyncs a folder so a rename or a new file in it survives a power loss. */
export function syncFolder(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
