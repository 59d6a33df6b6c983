/**
 * One line of the jsonl snapshot (GET /feed/snapshot?format=jsonl, spec/api.md
 * A.5.5): the JSON object of an indicator's alg, value, category, kind,
 * media, quality, ref and expires (each only if the record has it), id, log,
 * seq and time, in that order, written byte by byte into a
 * buffer (no JSON.stringify per line: a 10M snapshot is 10M of them). The set
 * lines files (set-lines.ts) hold these lines; the live rendering uses the
 * same bytes. Every line names where it comes from — its log, its index
 * there (seq) and its record id — so a provider can check it against the log.
 */
import { LedgerError } from '../../protocol/errors.ts'
import { toBase64 } from '../../protocol/bytes.ts'

/** The fields of an indicator that its snapshot line shows. */
export interface LineFields {
  alg?: string
  value?: Uint8Array
  category?: string
  kind?: string
  media?: string
  quality?: number
  ref?: string
  expires?: number
  time: number
}

/** The constant parts of a jsonl line, in order, around its nine values (the optional fields go between media's closing quote and id). */
export const LINE_PARTS = ['{"alg":"', '","value":"', '","category":"', '","kind":"', '","media":"', '"', ',"id":"', '","log":"', '","seq":', ',"time":', '}\n']
const LINE_FIXED = LINE_PARTS.reduce((n, p) => n + p.length, 0)
export const QUALITY = ',"quality":'
export const REF = ',"ref":"'
export const EXPIRES = ',"expires":'
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')

/** Decimal digits of a safe integer ≥ 0. */
function digitCount(n: number): number {
  let d = 1
  while (n >= 10) {
    n = Math.floor(n / 10)
    d++
  }
  return d
}

/** Bytes of the line putJsonlLine writes. */
export function lineLength(origin: string, index: number, id: Uint8Array, r: LineFields): number {
  let n = LINE_FIXED + r.alg!.length + 2 * r.value!.length + r.category!.length + r.kind!.length + r.media!.length +
    2 * id.length + origin.length + digitCount(index) + digitCount(r.time)
  if (r.quality !== undefined) n += QUALITY.length + digitCount(r.quality)
  if (r.ref !== undefined) n += REF.length + r.ref.length + 1
  if (r.expires !== undefined) n += EXPIRES.length + digitCount(r.expires)
  return n
}

/** Writes an ASCII string at `at`; a character beyond ASCII means a line that cannot be (lines are one byte per character). */
function putAscii(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) throw new LedgerError('STORAGE_CORRUPT', 'a snapshot line is not ASCII')
    buf[at++] = c
  }
  return at
}

/** Lowercase hex of `b` at `at`; returns the offset after it. */
export function putHex(buf: Uint8Array, at: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    buf[at++] = HEX_DIGITS[b[i]! >> 4]!
    buf[at++] = HEX_DIGITS[b[i]! & 15]!
  }
  return at
}

/** Decimal digits of a safe integer ≥ 0 at `at`; returns the offset after them. */
export function putUint(buf: Uint8Array, at: number, n: number): number {
  const end = at + digitCount(n)
  for (let i = end - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10)
    n = Math.floor(n / 10)
  }
  return end
}

/**
 * One jsonl snapshot line, written as bytes at `at` (lineLength of them);
 * returns the offset after it. Every field is lowercase hex, a code word from
 * a closed list, a validated origin or an integer: nothing needs escaping, so
 * the line is written directly, with no string built for it or its hex
 * (JSON.stringify of an object per line was slow; strings per line were the
 * largest garbage of publishing after the store's).
 */
export function putJsonlLine(buf: Uint8Array, at: number, origin: string, index: number, id: Uint8Array, r: LineFields): number {
  const p = LINE_PARTS
  at = putAscii(buf, at, p[0]!)
  at = putAscii(buf, at, r.alg!)
  at = putAscii(buf, at, p[1]!)
  at = putHex(buf, at, r.value!)
  at = putAscii(buf, at, p[2]!)
  at = putAscii(buf, at, r.category!)
  at = putAscii(buf, at, p[3]!)
  at = putAscii(buf, at, r.kind!)
  at = putAscii(buf, at, p[4]!)
  at = putAscii(buf, at, r.media!)
  at = putAscii(buf, at, p[5]!)
  if (r.quality !== undefined) at = putUint(buf, putAscii(buf, at, QUALITY), r.quality)
  if (r.ref !== undefined) at = putAscii(buf, putAscii(buf, putAscii(buf, at, REF), r.ref), '"')
  if (r.expires !== undefined) at = putUint(buf, putAscii(buf, at, EXPIRES), r.expires)
  at = putAscii(buf, at, p[6]!)
  at = putHex(buf, at, id)
  at = putAscii(buf, at, p[7]!)
  at = putAscii(buf, at, origin)
  at = putAscii(buf, at, p[8]!)
  at = putUint(buf, at, index)
  at = putAscii(buf, at, p[9]!)
  at = putUint(buf, at, r.time)
  return putAscii(buf, at, p[10]!)
}

/**
 * putJsonlLine's line as a string (the snapshot route's live rendering);
 * `extra` (the opinions, opinions.ts) goes before its closing brace.
 */
export function jsonlLine(origin: string, index: number, id: Uint8Array, r: LineFields, extra = ''): string {
  const buf = Buffer.allocUnsafe(lineLength(origin, index, id, r))
  putJsonlLine(buf, 0, origin, index, id, r)
  return extra ? buf.toString('latin1', 0, buf.length - 2) + extra + '}\n' : buf.toString('latin1')
}

/** The last key of a line with entries=1: the stored signed entry, base64 (what `cairn sync --from-snapshot` checks the line against). */
export function entryFragment(entry: Uint8Array): string {
  return `,"entry":"${toBase64(entry)}"`
}

/**
 * The jsonl snapshot's last line: the cursor, the number of lines, and the
 * cosigned checkpoint of each log at the cursor's size (the ones the lines
 * are to be checked against; a log of size 0 has none). A body without it
 * was cut short.
 */
export async function snapshotTrailer(store: { checkpointAt(origin: string, size: number): Promise<string | undefined> }, sizes: ReadonlyMap<string, number>, cursor: string, count: number): Promise<string> {
  const checkpoints: Record<string, string> = {}
  for (const [origin, size] of sizes) {
    const note = size > 0 ? await store.checkpointAt(origin, size) : undefined
    if (note !== undefined) checkpoints[origin] = note
  }
  return JSON.stringify({ cursor, count, checkpoints }) + '\n'
}
