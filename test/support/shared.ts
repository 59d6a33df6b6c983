/**
 * Where tests find the material shared beside the repository (../shared:
 * the OASIS STIX schemas, Meta's PDQ reference images): CAIRN_SHARED_DIR if
 * set, else `../shared` relative to the repository root. Never an absolute
 * path of one machine. When the folder is absent a test says so in one line
 * and skips what needs it.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = new URL('../..', import.meta.url).pathname

/** The path of `name` under the shared folder, or undefined (with one line on stderr saying what skips) if it is absent. */
export function sharedPath(name: string, skipping: string): string | undefined {
  const base = process.env.CAIRN_SHARED_DIR ?? resolve(root, '..', 'shared')
  const p = join(base, name)
  if (existsSync(p)) return p
  console.error(`skip: ${p} is absent (set CAIRN_SHARED_DIR to the folder holding ${name}); ${skipping}`)
  return undefined
}
