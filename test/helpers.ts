/** Shared test helpers. */
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'
import type { AppendItem } from '../node/storage/store.ts'
import { leafHash } from '../protocol/hash.ts'
import { utf8 } from '../protocol/bytes.ts'
import type { CairnRecord } from '../protocol/records.ts'

/** Awaits `fn` and asserts it rejects; with a code, asserts a LedgerError of that code; with a RegExp, matches the message. */
export async function rejects(fn: () => Promise<unknown>, expected?: ErrorCode | RegExp, what = ''): Promise<unknown> {
  try {
    await fn()
  } catch (e) {
    if (typeof expected === 'string') {
      assert.ok(e instanceof LedgerError, `${what} expected LedgerError ${expected}, got ${String(e)}`)
      assert.is((e as LedgerError).code, expected, `${what} ${(e as Error).message}`)
    } else if (expected) {
      assert.match(String((e as Error).message), expected, what)
    }
    return e
  }
  assert.unreachable(`${what} expected a rejection`)
}

/** Synchronous twin of `rejects`. */
export function throws(fn: () => unknown, expected?: ErrorCode | RegExp, what = ''): unknown {
  try {
    fn()
  } catch (e) {
    if (typeof expected === 'string') {
      assert.ok(e instanceof LedgerError, `${what} expected LedgerError ${expected}, got ${String(e)}`)
      assert.is((e as LedgerError).code, expected, `${what} ${(e as Error).message}`)
    } else if (expected) {
      assert.match(String((e as Error).message), expected, what)
    }
    return e
  }
  assert.unreachable(`${what} expected an exception`)
}

/** The JSON files of a vector folder, sorted, and a loader of one as `T`. */
export function vectorFolder<T>(dir: string): { files: string[]; load: (f: string) => T } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  return { files, load: (f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T }
}

/** Asserts a vector folder holds exactly what its generator writes for `cases`, byte for byte. */
export function assertGenerated(dir: string, files: string[], cases: { name: string; data: unknown }[]): void {
  const generated = new Map(cases.map((c) => [`${c.name}.json`, JSON.stringify(c.data, null, 2) + '\n']))
  assert.equal(files, [...generated.keys()].sort())
  for (const f of files) assert.is(readFileSync(join(dir, f), 'utf8'), generated.get(f), f)
}

/** The LedgerError code `fn` throws, or ACCEPTED; anything else is rethrown. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof LedgerError) return e.code
    throw e
  }
  return 'ACCEPTED'
}

/**
 * Indicator i of `origin` for store tests that do not verify signatures: its
 * entry is the stand-in bytes `entry-i` (its id their leaf hash), its value
 * 32 bytes that differ per i.
 */
export function storeIndicator(origin: string, i: number): AppendItem {
  const value = new Uint8Array(32)
  value.set(utf8(`v${i}`))
  value[31] = 1
  const entry = utf8(`entry-${i}`)
  const record = { v: 1, type: 'indicator', log: origin, seq: i, time: 1767225600000, alg: 'sha256', value, category: 'A1', kind: 'known_material', media: 'image' } as unknown as CairnRecord
  return { entry, id: leafHash(entry), record }
}
