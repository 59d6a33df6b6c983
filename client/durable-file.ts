/**
 * Replacing a whole file so that a crash or a full disk leaves either the old
 * file or the new one, never a mix or an empty file: the bytes go to a
 * temporary name beside it, are fsynced, take their mode (whatever the
 * umask), and are renamed over the file; then the directory is fsynced so the
 * rename itself survives a power cut. Both forms do the same: the sync one
 * for the CLI and the client's synchronous writers, the async one for a
 * node's serving thread, which must not block on fsync.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/** What a file is replaced with: bytes, text, or parts written one after the other. */
export type FileData = Uint8Array | string | readonly (Uint8Array | string)[]

const partsOf = (data: FileData): Uint8Array[] =>
  (typeof data === 'string' || data instanceof Uint8Array ? [data] : data).map((p) => (typeof p === 'string' ? Buffer.from(p) : p))

const tmpOf = (path: string) => `${path}.tmp`

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

/** Replaces `path` with `data`, mode `mode` whatever the umask; on failure the old file is left as it was. */
export function replaceFileSync(path: string, data: FileData, mode: number): void {
  const tmp = tmpOf(path)
  try {
    const fd = openSync(tmp, 'w', mode)
    try {
      for (const part of partsOf(data)) {
        for (let off = 0; off < part.length;) off += writeSync(fd, part, off, part.length - off)
      }
      fchmodSync(fd, mode)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (e) {
    try { rmSync(tmp, { force: true }) } catch { /* not ours to remove (e.g. a directory of that name) */ }
    throw e
  }
  syncDirOf(path)
}

/** replaceFileSync without blocking the thread on the writes and fsyncs. */
export async function replaceFile(path: string, data: FileData, mode: number): Promise<void> {
  const tmp = tmpOf(path)
  try {
    const fh = await open(tmp, 'w', mode)
    try {
      for (const part of partsOf(data)) await fh.writeFile(part) // from the current position, every byte
      await fh.chmod(mode)
      await fh.sync()
    } finally {
      await fh.close()
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
