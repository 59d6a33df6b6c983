/**
 * The provider feed's cursor (DESIGN §4, spec/api.md): the list of (log
 * origin, size) a feed position covers, as base64url (no padding) of the
 * canonical CBOR map {v: 1, logs: [[origin, size], ...]}, origins ascending,
 * sizes > 0. The node issues it and a provider's client writes it back, so
 * both read it from here.
 */
import { encodeCanonical, decodeCanonical } from './cbor.ts'
import { LedgerError } from './errors.ts'
import { isValidOrigin } from './records.ts'

export const CURSOR_VERSION = 1
/** A cursor for 1,000 logs with long origins stays well below this. */
const MAX_CURSOR_CHARS = 200_000

/** Log origin → size. */
export type Sizes = Map<string, number>

/** The canonical cursor text for `sizes` (zero sizes are left out). */
export function encodeCursor(sizes: Sizes | Record<string, number>): string {
  const entries = (sizes instanceof Map ? [...sizes.entries()] : Object.entries(sizes))
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [o, n] of entries) {
    if (!isValidOrigin(o) || !Number.isSafeInteger(n)) throw new LedgerError('BAD_FIELD', `cannot put ${o}=${n} in a cursor`)
  }
  const bytes = encodeCanonical({ v: CURSOR_VERSION, logs: entries.map(([o, n]) => [o, n]) }, { maxItems: 100_000 })
  return Buffer.from(bytes).toString('base64url')
}

/** Parses a cursor strictly; anything but the canonical text of a valid cursor is BAD_REQUEST. */
export function decodeCursor(text: string, what = 'cursor'): Sizes {
  const bad = (why: string): never => {
    throw new LedgerError('BAD_REQUEST', `${what} is not a cursor this API issued (${why}); start again without one`)
  }
  if (text === '') return new Map()
  if (text.length > MAX_CURSOR_CHARS) bad('too long')
  if (!/^[A-Za-z0-9_-]+$/.test(text)) bad('not base64url')
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'))
  if (Buffer.from(bytes).toString('base64url') !== text) bad('not canonical base64url')
  let value
  try {
    value = decodeCanonical(bytes, { maxBytes: MAX_CURSOR_CHARS, maxItems: 100_000 })
  } catch (e) {
    return bad((e as Error).message)
  }
  if (!(value instanceof Map) || value.size !== 2 || value.get('v') !== CURSOR_VERSION || !Array.isArray(value.get('logs'))) {
    return bad(`expected {v: ${CURSOR_VERSION}, logs}`)
  }
  const out: Sizes = new Map()
  let prev = ''
  for (const item of value.get('logs') as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2) return bad('a log entry is [origin, size]')
    const [origin, size] = item as [unknown, unknown]
    if (typeof origin !== 'string' || !isValidOrigin(origin)) return bad('bad origin')
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) return bad('sizes are positive integers')
    if (origin <= prev) return bad('origins must be distinct and ascending')
    prev = origin
    out.set(origin, size)
  }
  return out
}
