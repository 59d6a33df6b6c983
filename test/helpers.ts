/** Shared test helpers. */
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LedgerError, type ErrorCode } from '../protocol/errors.ts'

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
