/**
 * Replacing a whole file so that a crash or a full disk leaves either the old
 * file or the new one, never a mix or an empty file: the bytes go to
 * `<path>.tmp` beside it, are fsynced, take their mode, and are renamed over
 * the file; then the directory is fsynced so the rename itself survives a
 * power cut. Both forms do the same: the sync one for the CLI and the
 * client's synchronous writers, the async one for a node's serving thread,
 * which must not block on fsync.
 *
 * `mode`: the file's mode whatever the umask (a node directory's files are
 * 0600); without it the file is 0644 less the umask, as any file the user
 * makes (a provider's local copy).
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/** What a file is replaced with: bytes, text, or parts written one after the other. */
export type FileData = Uint8Array | string | readonly (Uint8Array | string)[]

const partsOf = (data: FileData): Uint8Array[] =>
  (typeof data === 'string' || data instanceof Uint8Array ? [data] : data).map((p) => (typeof p === 'string' ? Buffer.from(p) : p))

const tmpOf = (path: string) => `${path}.tmp`
const USER_MODE = 0o644

/** fsyncs the directory holding `path`; some platforms cannot, and there the rename is still atomic. */
function syncDirOf(path: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dirname(path), 'r')
    fsyncSync(fd)
  } catch {
    // not supported here (e.g. some network file systems): nothing more can be done
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Replaces `path` with `data`; on failure the old file is left as it was, and the first error is thrown. */
export function replaceFileSync(path: string, data: FileData, mode?: number): void {
  const tmp = tmpOf(path)
  try {
    const fd = openSync(tmp, 'w', mode ?? USER_MODE)
    let failed = true
    try {
      for (const part of partsOf(data)) {
        for (let off = 0; off < part.length;) off += writeSync(fd, part, off, part.length - off)
      }
      if (mode !== undefined) fchmodSync(fd, mode) // also a stale temporary file of another mode
      fsyncSync(fd)
      failed = false
    } finally {
      try {
        closeSync(fd)
      } catch (e) {
        if (!failed) throw e // else the write's own error is the one to report
      }
    }
    renameSync(tmp, path)
  } catch (e) {
    try { rmSync(tmp, { force: true }) } catch { /* not ours to remove (e.g. a directory of that name) */ }
    throw e
  }
  syncDirOf(path)
}

/** Replacements of one path under way in this process: the next waits for the one before (they share `<path>.tmp`). */
const pending = new Map<string, Promise<void>>()

/** replaceFileSync without blocking the thread on the writes and fsyncs; calls for one path run one after another. */
export function replaceFile(path: string, data: FileData, mode?: number): Promise<void> {
  const before = pending.get(path) ?? Promise.resolve()
  const mine = before.catch(() => undefined).then(() => replaceNow(path, data, mode))
  const tail = mine.catch(() => undefined)
  pending.set(path, tail)
  void tail.then(() => { if (pending.get(path) === tail) pending.delete(path) })
  return mine
}

async function replaceNow(path: string, data: FileData, mode: number | undefined): Promise<void> {
  const tmp = tmpOf(path)
  try {
    const fh = await open(tmp, 'w', mode ?? USER_MODE)
    let failed = true
    try {
      for (const part of partsOf(data)) await fh.writeFile(part) // from the current position, every byte
      if (mode !== undefined) await fh.chmod(mode)
      await fh.sync()
      failed = false
    } finally {
      await fh.close().catch((e: unknown) => { if (!failed) throw e })
    }
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined)
    throw e
  }
  const dir = await open(dirname(path), 'r').catch(() => undefined)
  if (!dir) return
  try {
    await dir.sync()
  } catch {
    // as in syncDirOf
  } finally {
    await dir.close()
  }
}
