/**
 * Canonical CBOR (RFC 8949 §4.2.1, core deterministic encoding) for cairn's
 * data model: unsigned integers up to 2^53-1, text strings, byte strings,
 * arrays, and maps with text-string keys. Nothing else exists in a record.
 *
 * Encoding is ours (small and exact). Decoding runs in three steps:
 *  1. a well-formedness scan of every head (RFC 8949 Appendix C), iterative so
 *     deep nesting cannot overflow the stack; it enforces the depth and item
 *     caps and rejects what lies outside the data model (negative integers,
 *     tags, floats, simple values, indefinite lengths, trailing bytes);
 *  2. cbor-x builds the value;
 *  3. the value is re-encoded against the input byte by byte: any difference
 *     (non-shortest heads, unsorted or duplicate keys, non-text keys, integers
 *     over 2^53-1, invalid UTF-8) means the input was not canonical.
 * Error codes: MALFORMED_CBOR (not well-formed), NON_CANONICAL_CBOR (well-formed
 * but not the one canonical encoding of a data-model value), TOO_LARGE (budgets).
 *
 * Why one file of ~600 lines: the flat-map fast paths (encodeFlat, and
 * canonicalFlatMap in decodeCanonical) must apply exactly the rules of the
 * general path, and share its head writer and key-order comparison; kept
 * together, one reader sees both sides of every rule (the differential fuzz
 * test in test/cbor.test.ts holds the two paths to the same outcome).
 */
import { Decoder, type Options } from 'cbor-x'
import { LedgerError } from './errors.ts'

export type CborValue =
  | number
  | string
  | Uint8Array
  | readonly CborValue[]
  | ReadonlyMap<string, CborValue>
  | { readonly [key: string]: CborValue }

/** What decodeCanonical returns: maps always come back as Map. */
export type CborDecoded = number | string | Uint8Array | CborDecoded[] | Map<string, CborDecoded>

export interface CborLimits {
  /** Nesting depth of arrays and maps (the outermost container is depth 1). */
  maxDepth?: number
  /** Most elements in one array or entries in one map. */
  maxItems?: number
}

export interface DecodeLimits extends CborLimits {
  /** Inputs longer than this are rejected with TOO_LARGE before decoding. */
  maxBytes?: number
}

export const DEFAULT_MAX_BYTES = 65_535
export const DEFAULT_MAX_DEPTH = 16
export const DEFAULT_MAX_ITEMS = 1024

const MAJOR_UINT = 0
export const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
export const MAJOR_ARRAY = 4
const MAJOR_MAP = 5

// ---------------------------------------------------------------- encoding

/** Thrown inside the writer; mapped to BAD_FIELD on encode and NON_CANONICAL_CBOR on decode. */
class OutsideModel extends Error {}
/** Thrown by the checking sink at the first byte that differs. */
class Mismatch extends Error {}

interface Sink {
  head(major: number, n: number): void
  raw(bytes: Uint8Array): void
}

class Builder implements Sink {
  buf = new Uint8Array(256)
  len = 0
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }
  head(major: number, n: number): void {
    this.room(9)
    this.len = writeHead(this.buf, this.len, major, n)
  }
  raw(bytes: Uint8Array): void {
    this.room(bytes.length)
    this.buf.set(bytes, this.len)
    this.len += bytes.length
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len)
  }
}

/** Compares what the encoder would write with the input, without building a copy. */
class Checker implements Sink {
  pos = 0
  private scratch = new Uint8Array(9)
  constructor(private readonly input: Uint8Array) {}
  head(major: number, n: number): void {
    const end = writeHead(this.scratch, 0, major, n)
    for (let i = 0; i < end; i++) if (this.input[this.pos + i] !== this.scratch[i]) throw new Mismatch()
    this.pos += end
  }
  raw(bytes: Uint8Array): void {
    if (this.pos + bytes.length > this.input.length) throw new Mismatch()
    // A decoded byte string is a view of the input at this very position: nothing to compare.
    // (Only for long strings: reading .buffer of a small on-heap typed array makes V8 copy it out.)
    if (bytes.length >= 256 && bytes.buffer === this.input.buffer && bytes.byteOffset === this.input.byteOffset + this.pos) {
      this.pos += bytes.length
      return
    }
    for (let i = 0; i < bytes.length; i++) if (this.input[this.pos + i] !== bytes[i]) throw new Mismatch()
    this.pos += bytes.length
  }
}

/** Writes the shortest head for (major, n) at `at`; returns the new offset. */
export function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const mt = major << 5
  if (n < 24) {
    out[at] = mt | n
    return at + 1
  }
  if (n < 0x100) {
    out[at] = mt | 24
    out[at + 1] = n
    return at + 2
  }
  if (n < 0x10000) {
    out[at] = mt | 25
    out[at + 1] = n >>> 8
    out[at + 2] = n & 0xff
    return at + 3
  }
  if (n < 0x100000000) {
    out[at] = mt | 26
    out[at + 1] = n >>> 24
    out[at + 2] = (n >>> 16) & 0xff
    out[at + 3] = (n >>> 8) & 0xff
    out[at + 4] = n & 0xff
    return at + 5
  }
  const hi = Math.floor(n / 0x100000000)
  const lo = n >>> 0
  out[at] = mt | 27
  out[at + 1] = hi >>> 24
  out[at + 2] = (hi >>> 16) & 0xff
  out[at + 3] = (hi >>> 8) & 0xff
  out[at + 4] = hi & 0xff
  out[at + 5] = lo >>> 24
  out[at + 6] = (lo >>> 16) & 0xff
  out[at + 7] = (lo >>> 8) & 0xff
  out[at + 8] = lo & 0xff
  return at + 9
}

const textEncoder = new TextEncoder()

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** UTF-8 of `s`; ASCII (every key and almost every value) skips TextEncoder, which dominates decoding otherwise. */
function textBytes(s: string): Uint8Array {
  if (isAscii(s)) {
    const out = new Uint8Array(s.length)
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
    return out
  }
  // TextEncoder would silently turn a lone surrogate into U+FFFD.
  if (!s.isWellFormed()) throw new OutsideModel('a text string contains a lone UTF-16 surrogate')
  return textEncoder.encode(s)
}

/** RFC 8949 §4.2.1 order for text keys: shorter encoding first, then bytewise. */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return compareKeysAt(a, 0, a.length, b, 0, b.length)
}

/** compareKeys of a[aFrom, aFrom + aLen) and b[bFrom, bFrom + bLen), without views of them. */
function compareKeysAt(a: Uint8Array, aFrom: number, aLen: number, b: Uint8Array, bFrom: number, bLen: number): number {
  if (aLen !== bLen) return aLen - bLen
  for (let i = 0; i < aLen; i++) if (a[aFrom + i] !== b[bFrom + i]) return a[aFrom + i]! - b[bFrom + i]!
  return 0
}

function isPlainObject(v: object): v is { readonly [key: string]: CborValue } {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function writeValue(v: unknown, sink: Sink, depth: number, maxDepth: number, maxItems: number): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new OutsideModel(`${v} is not an unsigned integer up to 2^53-1`)
    }
    sink.head(MAJOR_UINT, v)
    return
  }
  if (typeof v === 'string') {
    const b = textBytes(v)
    sink.head(MAJOR_TEXT, b.length)
    sink.raw(b)
    return
  }
  if (v instanceof Uint8Array) {
    sink.head(MAJOR_BYTES, v.length)
    sink.raw(v)
    return
  }
  if (typeof v !== 'object' || v === null) throw new OutsideModel(`${v === null ? 'null' : typeof v} is not in the data model`)
  if (depth >= maxDepth) throw new LedgerError('TOO_LARGE', `CBOR nesting is deeper than ${maxDepth} levels`)
  if (Array.isArray(v)) {
    if (v.length > maxItems) throw new LedgerError('TOO_LARGE', `a CBOR array has more than ${maxItems} elements`)
    sink.head(MAJOR_ARRAY, v.length)
    for (const item of v) writeValue(item, sink, depth + 1, maxDepth, maxItems)
    return
  }
  let entries: [string, unknown][]
  if (v instanceof Map) entries = [...v.entries()]
  else if (isPlainObject(v)) entries = Object.entries(v)
  else throw new OutsideModel(`${v.constructor?.name ?? 'object'} is not in the data model`)
  if (entries.length > maxItems) throw new LedgerError('TOO_LARGE', `a CBOR map has more than ${maxItems} entries`)
  const keyed = entries.map(([k, val]) => {
    if (typeof k !== 'string') throw new OutsideModel('map keys must be text strings')
    return { key: textBytes(k), val }
  })
  keyed.sort((a, b) => compareKeys(a.key, b.key))
  sink.head(MAJOR_MAP, keyed.length)
  for (const { key, val } of keyed) {
    sink.head(MAJOR_TEXT, key.length)
    sink.raw(key)
    writeValue(val, sink, depth + 1, maxDepth, maxItems)
  }
}

/**
 * The canonical encoding of `value`. Throws BAD_FIELD for anything outside the
 * data model (negative or fractional numbers, null, booleans, non-text keys, ...).
 */
export function encodeCanonical(value: CborValue, limits: CborLimits = {}): Uint8Array {
  const sink = new Builder()
  try {
    writeValue(value, sink, 0, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS)
  } catch (e) {
    if (e instanceof OutsideModel) throw new LedgerError('BAD_FIELD', `cannot encode as canonical CBOR: ${e.message}`)
    throw e
  }
  return sink.result()
}

/**
 * A fixed set of text keys in canonical order, each with its encoding, for
 * encodeFlat. Built once per set (at module load), so encoding a map of them
 * neither encodes nor sorts its keys again.
 */
export class KeyTable {
  readonly keys: readonly string[]
  readonly encoded: readonly Uint8Array[]
  constructor(keys: readonly string[]) {
    const rows = keys.map((k) => {
      const b = textBytes(k)
      const out = new Uint8Array(headLength(b.length) + b.length)
      out.set(b, writeHead(out, 0, MAJOR_TEXT, b.length))
      return { key: k, bytes: b, out }
    })
    rows.sort((a, b) => compareKeys(a.bytes, b.bytes))
    this.keys = rows.map((r) => r.key)
    this.encoded = rows.map((r) => r.out)
  }
}

/** Bytes of the shortest head for an argument of `n` (what writeHead writes). */
export function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/** Encoded length of a flat value (unsigned integer, ASCII text, bytes), or -1 for anything else. */
function flatValueLength(v: unknown): number {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? headLength(v) : -1
  if (typeof v === 'string') return isAscii(v) ? headLength(v.length) + v.length : -1
  if (v instanceof Uint8Array) return headLength(v.length) + v.length
  return -1
}

/**
 * The canonical encoding of a plain object whose keys all come from `table`
 * and whose values are unsigned integers, ASCII text or byte strings (a
 * record's map): the bytes encodeCanonical gives, written in one buffer of
 * the exact size. Anything else goes through encodeCanonical (and its errors).
 */
export function encodeFlat(table: KeyTable, obj: { readonly [key: string]: unknown }): Uint8Array {
  let size = 0
  let present = 0
  const { keys, encoded } = table
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i]!]
    if (v === undefined) continue
    const n = flatValueLength(v)
    if (n < 0) return encodeCanonical(obj as CborValue)
    size += encoded[i]!.length + n
    present++
  }
  let own = 0 // a key outside the table, or one holding undefined, is not for this path
  for (const k in obj) if (Object.hasOwn(obj, k)) own++
  if (own !== present || !isPlainObject(obj)) return encodeCanonical(obj as CborValue)
  const out = new Uint8Array(headLength(present) + size)
  let at = writeHead(out, 0, MAJOR_MAP, present)
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i]!]
    if (v === undefined) continue
    out.set(encoded[i]!, at)
    at += encoded[i]!.length
    if (typeof v === 'number') at = writeHead(out, at, MAJOR_UINT, v)
    else if (typeof v === 'string') {
      at = writeHead(out, at, MAJOR_TEXT, v.length)
      for (let j = 0; j < v.length; j++) out[at++] = v.charCodeAt(j)
    } else {
      const b = v as Uint8Array
      at = writeHead(out, at, MAJOR_BYTES, b.length)
      out.set(b, at)
      at += b.length
    }
  }
  return out
}

// ---------------------------------------------------------------- decoding

const decoder = new Decoder({
  mapsAsObjects: false, // maps as Map, so key types, order and count can be checked
  useRecords: false,
  structuredClone: false,
  copyBuffers: false, // byte strings are views into the input, not copies
  int64AsNumber: true, // 8-byte integers as numbers; those over 2^53-1 fail re-encoding
} as Options & { int64AsNumber: boolean })

function malformed(message: string): never {
  throw new LedgerError('MALFORMED_CBOR', `malformed CBOR: ${message}`)
}

interface Frame {
  /** Items still expected; for an indefinite container, the count read so far. */
  left: number
  indefinite: boolean
  major: number
}

/**
 * RFC 8949 Appendix C well-formedness of one data item spanning `bytes`, with
 * caps. Returns a reason when the item is well-formed but outside the data
 * model (or followed by trailing bytes), undefined when it is inside.
 */
function scan(bytes: Uint8Array, maxDepth: number, maxItems: number): string | undefined {
  const n = bytes.length
  const stack: Frame[] = []
  let outside: string | undefined
  let pos = 0
  let tagged = false // a tag head was read; its content item comes next
  for (;;) {
    const top = stack[stack.length - 1]
    if (top?.indefinite && !tagged && bytes[pos] === 0xff) {
      pos++
      if (top.major === MAJOR_MAP && top.left % 2 !== 0) malformed('an indefinite-length map ends after a key')
      stack.pop()
      if (itemDone(stack, maxItems)) break
      continue
    }
    if (pos >= n) malformed('the input ends in the middle of an item')
    const ib = bytes[pos++]!
    const major = ib >> 5
    const ai = ib & 0x1f
    let arg = ai
    if (ai >= 24 && ai <= 27) {
      const size = 1 << (ai - 24)
      if (pos + size > n) malformed('the input ends in the middle of an item head')
      arg = 0
      for (let i = 0; i < size; i++) arg = arg * 256 + bytes[pos + i]!
      pos += size
    } else if (ai >= 28 && ai <= 30) {
      malformed(`reserved additional information ${ai}`)
    }
    const indefinite = ai === 31
    tagged = major === 6
    if (top?.indefinite && (top.major === MAJOR_BYTES || top.major === MAJOR_TEXT)) {
      if (major !== top.major || indefinite) malformed('an indefinite-length string holds a chunk of another type')
    }
    if (indefinite && (major < MAJOR_BYTES || major === 6 || major === 7)) {
      malformed(major === 7 ? 'a break code outside an indefinite-length item' : `major type ${major} cannot have an indefinite length`)
    }
    if (indefinite) outside ??= 'indefinite-length items are not allowed'
    switch (major) {
      case MAJOR_UINT:
        break
      case 1:
        outside ??= 'negative integers are not allowed'
        break
      case MAJOR_BYTES:
      case MAJOR_TEXT:
        if (indefinite) {
          stack.push({ left: 0, indefinite: true, major })
          continue
        }
        if (arg > n - pos) malformed('a string runs past the end of the input')
        pos += arg
        break
      case MAJOR_ARRAY:
      case MAJOR_MAP:
        if (stack.length >= maxDepth) throw new LedgerError('TOO_LARGE', `CBOR nesting is deeper than ${maxDepth} levels`)
        if (!indefinite && arg > maxItems) {
          throw new LedgerError('TOO_LARGE', `a CBOR ${major === MAJOR_ARRAY ? 'array' : 'map'} has more than ${maxItems} ${major === MAJOR_ARRAY ? 'elements' : 'entries'}`)
        }
        if (indefinite) {
          stack.push({ left: 0, indefinite: true, major })
          continue
        }
        if (arg > 0) {
          const items = major === MAJOR_MAP ? arg * 2 : arg
          // every item takes at least one byte: a count beyond the input is truncation
          if (items > n - pos) malformed('a container holds more items than the input has bytes')
          stack.push({ left: items, indefinite: false, major })
          continue
        }
        break
      case 6:
        outside ??= 'tags are not allowed'
        continue // the tag content is the next item and completes it
      case 7:
        if (ai === 24 && arg < 32) malformed('a two-byte simple value below 32')
        outside ??= ai >= 25 ? 'floating-point numbers are not allowed' : 'simple values (false, true, null, undefined) are not allowed'
        break
    }
    if (itemDone(stack, maxItems)) break
  }
  if (pos < n) return `${n - pos} trailing byte(s) after the item`
  return outside
}

/** Marks one item complete in the innermost container; true when the top-level item is complete. */
function itemDone(stack: Frame[], maxItems: number): boolean {
  for (;;) {
    const top = stack[stack.length - 1]
    if (!top) return true
    if (top.indefinite) {
      top.left++
      if (top.left > (top.major === MAJOR_MAP ? 2 * maxItems : maxItems)) {
        throw new LedgerError('TOO_LARGE', `an indefinite-length item has more than ${maxItems} elements`)
      }
      return false
    }
    if (--top.left > 0) return false
    stack.pop()
  }
}

/**
 * Decodes bytes that decodeCanonical has already accepted once (a worker
 * thread opened the entry, or this node's store holds it), without checking
 * the canonical form again. Never for bytes straight from outside.
 */
export function decodeChecked(bytes: Uint8Array): CborDecoded {
  try {
    return decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)) as CborDecoded
  } catch (e) {
    throw new LedgerError('MALFORMED_CBOR', `malformed CBOR: ${(e as Error).message}`, { cause: e })
  }
}

/** Reads a shortest-form head argument at `at` (after the initial byte `ib`): [argument, next offset], or undefined if not shortest, too large or cut short. */
function shortestArg(b: Uint8Array, at: number, ib: number): [number, number] | undefined {
  const ai = ib & 0x1f
  if (ai < 24) return [ai, at]
  if (ai > 27) return undefined
  const size = 1 << (ai - 24)
  if (at + size > b.length) return undefined
  let arg = 0
  for (let i = 0; i < size; i++) arg = arg * 256 + b[at + i]!
  // Shortest form: the argument needs this width (27: 8 bytes, and only up to 2^53 - 1 here).
  const min = ai === 24 ? 24 : ai === 25 ? 0x100 : ai === 26 ? 0x10000 : 0x1_0000_0000
  if (arg < min || arg > Number.MAX_SAFE_INTEGER) return undefined
  return [arg, at + size]
}

/**
 * The fast path of decodeCanonical for what it decodes most (records, entries'
 * records): one definite map of ASCII text keys, in canonical order with no
 * repeats, to unsigned integers, ASCII text or byte strings, all heads in
 * shortest form, nothing after it. One pass, no re-encoding. Anything else,
 * well-formed or not, is undefined: the full path decides it (and words its
 * error), so this path only ever accepts what the full path accepts, with the
 * same value; a test holds the two paths to each other on mutated inputs.
 */
function canonicalFlatMap(b: Uint8Array, maxItems: number): Map<string, CborDecoded> | undefined {
  if (b.length === 0 || b[0]! >> 5 !== MAJOR_MAP) return undefined
  const head = shortestArg(b, 1, b[0]!)
  if (!head) return undefined
  const [count] = head
  let at = head[1]
  if (count > maxItems) return undefined
  const out = new Map<string, CborDecoded>()
  let prevFrom = -1
  let prevLen = 0
  for (let i = 0; i < count; i++) {
    if (at >= b.length || b[at]! >> 5 !== MAJOR_TEXT) return undefined
    const kh = shortestArg(b, at + 1, b[at]!)
    if (!kh) return undefined
    const [klen, kfrom] = kh
    if (kfrom + klen > b.length) return undefined
    // Canonical order, strictly increasing (a repeated key is not canonical either).
    if (prevFrom >= 0 && compareKeysAt(b, kfrom, klen, b, prevFrom, prevLen) <= 0) return undefined
    const key = asciiAt(b, kfrom, klen)
    if (key === undefined) return undefined
    prevFrom = kfrom
    prevLen = klen
    at = kfrom + klen
    if (at >= b.length) return undefined
    const ib = b[at]!
    const major = ib >> 5
    const vh = shortestArg(b, at + 1, ib)
    if (!vh) return undefined
    const [arg, vfrom] = vh
    if (major === MAJOR_UINT) {
      out.set(key, arg)
      at = vfrom
    } else if (major === MAJOR_BYTES || major === MAJOR_TEXT) {
      if (vfrom + arg > b.length) return undefined
      if (major === MAJOR_BYTES) out.set(key, b.subarray(vfrom, vfrom + arg))
      else {
        const text = asciiAt(b, vfrom, arg)
        if (text === undefined) return undefined
        out.set(key, text)
      }
      at = vfrom + arg
    } else {
      return undefined
    }
  }
  return at === b.length ? out : undefined
}

/** The ASCII text of b[from, from + length), or undefined if a byte is not ASCII. */
function asciiAt(b: Uint8Array, from: number, length: number): string | undefined {
  let s = ''
  for (let i = from; i < from + length; i++) {
    const c = b[i]!
    if (c > 0x7f) return undefined
    s += String.fromCharCode(c)
  }
  return s
}

/**
 * Decodes `bytes` as exactly one canonical CBOR item of the data model.
 * Byte strings in the result are views into `bytes` (no copies).
 */
export function decodeCanonical(bytes: Uint8Array, limits: DecodeLimits = {}): CborDecoded {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH
  const maxItems = limits.maxItems ?? DEFAULT_MAX_ITEMS
  if (!(bytes instanceof Uint8Array)) throw new LedgerError('MALFORMED_CBOR', 'CBOR input must be bytes')
  if (bytes.length > maxBytes) {
    throw new LedgerError('TOO_LARGE', `CBOR input is ${bytes.length} bytes, more than the limit of ${maxBytes}`)
  }
  // A fresh plain view (no copy): byte strings come back as plain Uint8Array views even
  // for a Buffer input, and cbor-x's cached DataView lands on our view, not the caller's.
  const src = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
  if (maxDepth >= 1) {
    const flat = canonicalFlatMap(src, maxItems)
    if (flat !== undefined) return flat
  }
  return decodeCanonicalInFull(src, maxDepth, maxItems)
}

/** decodeCanonical without its flat-map fast path (tests hold the two to each other). */
export function decodeCanonicalInFull(src: Uint8Array, maxDepth: number, maxItems: number): CborDecoded {
  const outside = scan(src, maxDepth, maxItems)
  if (outside !== undefined) throw new LedgerError('NON_CANONICAL_CBOR', `not canonical CBOR: ${outside}`)
  let value: CborDecoded
  try {
    value = decoder.decode(src) as CborDecoded
  } catch (e) {
    throw new LedgerError('MALFORMED_CBOR', `malformed CBOR: ${(e as Error).message}`, { cause: e })
  }
  const checker = new Checker(src)
  try {
    writeValue(value, checker, 0, maxDepth, maxItems)
  } catch (e) {
    if (e instanceof Mismatch) {
      throw new LedgerError('NON_CANONICAL_CBOR', `not canonical CBOR: the input differs from the canonical encoding at byte ${checker.pos}`)
    }
    if (e instanceof OutsideModel) throw new LedgerError('NON_CANONICAL_CBOR', `not canonical CBOR: ${e.message}`)
    throw e
  }
  if (checker.pos !== src.length) throw new LedgerError('NON_CANONICAL_CBOR', 'not canonical CBOR: trailing bytes')
  return value
}
