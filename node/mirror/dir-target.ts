/**
 * A mirror in a directory served by any static web server (docs/deploy.md
 * "A static mirror": nginx with auth_request for the restricted part).
 * Each file is written to a temporary name beside it and renamed, so a
 * reader never sees half a file. Restricted files (entry bundles,
 * snapshots) are 0640, for a web server in the directory's group only;
 * public ones 0644. Cache headers cannot be stored with a file: the web
 * server sets them by path (the nginx example does).
 */
import { mkdir, open, rename, rm, chmod, copyFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { MirrorFile } from './layout.ts'
import type { MirrorTarget } from './target.ts'

export class DirTarget implements MirrorTarget {
  readonly root: string
  readonly describe: string

  constructor(root: string) {
    this.root = resolve(root)
    this.describe = this.root
  }

  put(file: MirrorFile, body: Uint8Array): Promise<void> {
    return this.replace(file, async (tmp, mode) => {
      const fh = await open(tmp, 'w', mode)
      try {
        await fh.writeFile(body)
        await fh.sync()
      } finally {
        await fh.close()
      }
    })
  }

  putFile(file: MirrorFile, localPath: string): Promise<void> {
    return this.replace(file, (tmp) => copyFile(localPath, tmp)) // a copy: the node directory may be on another file system
  }

  /** Writes the file's bytes to a temporary name beside it (via `write`), sets its mode and renames it into place. */
  private async replace(file: MirrorFile, write: (tmp: string, mode: number) => Promise<void>): Promise<void> {
    const path = join(this.root, file.path)
    await mkdir(dirname(path), { recursive: true, mode: 0o755 })
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    const mode = file.restricted ? 0o640 : 0o644
    try {
      await write(tmp, mode)
      await chmod(tmp, mode) // whatever the umask
      await rename(tmp, path)
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw e
    }
  }
}
