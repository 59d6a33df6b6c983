/**
 * What dist/ is built from, and the newest modification time among those
 * files: bin/cairn.mjs runs dist/ only when it is not older than the sources.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export const SOURCE_DIRS = ['protocol', 'client', 'workers', 'node', 'cli', 'wasm']

/** Newest mtime (ms) of the source files under root's SOURCE_DIRS and the build's own config. */
export function newestSource(root) {
  let newest = 0
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) visit(p)
      else if (e.isFile()) newest = Math.max(newest, statSync(p).mtimeMs)
    }
  }
  for (const d of SOURCE_DIRS) visit(join(root, d))
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs)
  return newest
}
