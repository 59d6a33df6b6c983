/**
 * The credentials this node's centre issued (spec/credentials.md §4): one
 * JSON line each in <dir>/credentials-issued.jsonl — id, holder, role, iat,
 * exp, never the credential itself (like tokens.ts keeps only a hash). A
 * file, not the store: `cairn credential issue` signs offline, while the
 * node may be running and holds the store's lock; appends of one short line
 * are atomic (O_APPEND).
 */
import { appendFileSync, existsSync, openSync, closeSync, fsyncSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Credential } from '../../protocol/credential.ts'

export interface IssuedCredential {
  id: string
  holder: string
  role: string
  iat: number
  exp: number
}

/** Most lines read back (a year of a thousand providers re-issued monthly, with room). */
const MAX_ISSUED = 100_000

export const issuedFile = (dir: string) => join(dir, 'credentials-issued.jsonl')

export function recordIssued(dir: string, c: Credential): void {
  const path = issuedFile(dir)
  const row: IssuedCredential = { id: c.id, holder: c.holder, role: c.role, iat: c.iat, exp: c.exp }
  appendFileSync(path, JSON.stringify(row) + '\n', { mode: 0o600 })
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Every credential issued, oldest first (lines that do not parse are skipped: a torn last line). */
export function readIssued(dir: string): IssuedCredential[] {
  const path = issuedFile(dir)
  if (!existsSync(path)) return []
  const out: IssuedCredential[] = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line || out.length >= MAX_ISSUED) continue
    try {
      const r = JSON.parse(line) as IssuedCredential
      if (typeof r.id === 'string' && typeof r.exp === 'number') out.push(r)
    } catch {
      // a line cut short by a crash
    }
  }
  return out
}
