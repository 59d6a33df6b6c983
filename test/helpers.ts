/** Shared test helpers. */
import * as assert from 'uvu/assert'
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
