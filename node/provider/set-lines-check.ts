/**
 * Checking a set-lines file against the store (set-lines.ts runs it on every
 * log at start, a chunk of lines at a time, before the file is used for a
 * snapshot): each line must be byte for byte what rendering its entry from
 * the store gives — an indicator's jsonl line; for any other entry an empty
 * line; for an entry the store holds redacted, spaces (a line blanked in
 * place) — and every 1024th line must start at its mark. The first line
 * that differs is named with what differed (a field of the line, its
 * length, its place), never with the value it holds.
 */
import type { FileHandle } from 'node:fs/promises'
import { readStoredRecord, type StoredRecord } from '../../protocol/stored-record.ts'
import { isRedactionMarker } from '../../protocol/redaction.ts'
import { putJsonlLine, lineLength, putHex, putUint, LINE_PARTS, QUALITY, REF, EXPIRES } from './jsonl-line.ts'

const NL = 10
const SPACE = 0x20
const OPEN_BRACE = 0x7b
const MARK_EVERY = 1024

/** What did not match, and where. */
export interface LineMismatch {
  /** Entry index (line) of the log. */
  index: number
  what: string
}

export interface CheckedChunk {
  /** File offset after the chunk's last line. */
  end: number
  /** Lines that still hold a value although the store holds their entry redacted (applied while the files were not kept): to blank. Positions in the buffer. */
  pending: { index: number; start: number; end: number }[]
  mismatch?: LineMismatch
}

/** The fields a jsonl line shows, in its order (jsonl-line.ts), to name the one that differs. */
const FIELDS = ['alg', 'value', 'category', 'kind', 'media', 'quality', 'ref', 'expires', 'id', 'log', 'seq', 'time']

/** Names the first difference between the line the store gives and the one in the file (positions and field names only). */
function difference(want: Buffer, got: Buffer): string {
  let d = 0
  const n = Math.min(want.length, got.length)
  while (d < n && want[d] === got[d]) d++
  if (d === n) return `the line is ${got.length} bytes, the store's ${want.length}`
  const text = want.toString('latin1')
  let field = 'the line'
  for (const f of FIELDS) {
    const at = text.indexOf(`"${f}":`)
    if (at !== -1 && at <= d) field = `field "${f}"`
  }
  return `${field} differs from the store's (byte ${d} of the line)`
}

function allSpaces(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== SPACE) return false
  return true
}

// ------------------------------------------------------------ reading entries
//
// The check reads every entry of a log, so it does not build a record object
// and strings per entry (readStoredRecord and the garbage collection of its
// objects were a quarter of the check's time on a store of 510k entries,
// rendering a tenth): scanEntry reads the CBOR of an entry in place, noting
// where each field lies, and an indicator's line is rendered from those
// bytes into a reused buffer. It answers only for entries it reads exactly as
// readStoredRecord would and whose line it renders exactly as putJsonlLine
// would (fields of the cairn data model, ASCII text); for any other entry
// (a redaction marker, a nested value, text beyond ASCII, a field missing or
// of another type, a malformed entry) it answers SLOW and the entry is read
// by readStoredRecord and rendered by putJsonlLine, as before: what is
// compared, and what throws, is the same.

/** scanEntry's answers. */
const SLOW = 0
const INDICATOR = 1
const REVOCATION = 2
const OTHER = 3

// Field codes of the keys scanEntry knows (readStoredRecord's TEXT_FIELDS, UINT_FIELDS, value and target).
const F_TYPE = 0, F_LOG = 1, F_ALG = 2, F_CATEGORY = 3, F_KIND = 4, F_MEDIA = 5, F_REF = 6, F_REASON = 7, F_OPINION = 8
const F_SEQ = 9, F_TIME = 10, F_QUALITY = 11, F_EXPIRES = 12, F_VALUE = 13, F_TARGET = 14
const FIELD_COUNT = 15
/** Slots per entry in ChunkEntries.fields: per field its start in the entry (-1: absent) or its value (uints), then per field its length. */
const SLOTS = 2 * FIELD_COUNT
const MAJOR_UINT = 0, MAJOR_BYTES = 2, MAJOR_TEXT = 3, MAJOR_ARRAY = 4, MAJOR_MAP = 5
const FIELD_MAJOR = [3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 2, 2]
const ascii = (s: string) => Buffer.from(s, 'latin1')
const K_ALG = ascii('alg'), K_LOG = ascii('log'), K_SEQ = ascii('seq'), K_REF = ascii('ref')
const K_TYPE = ascii('type'), K_TIME = ascii('time'), K_KIND = ascii('kind')
const K_VALUE = ascii('value'), K_MEDIA = ascii('media')
const K_TARGET = ascii('target'), K_REASON = ascii('reason')
const K_QUALITY = ascii('quality'), K_EXPIRES = ascii('expires'), K_OPINION = ascii('opinion')
const K_CATEGORY = ascii('category')
const TYPE_INDICATOR = ascii('indicator')
const TYPE_REVOCATION = ascii('revocation')
const TYPE_REDACTED = ascii('redacted')

let pos = 0
let lim = 0
let headValue = 0

/** Reads a CBOR head at `pos` (as stored-record.ts's reader): its major type, or -1 where that reader fails; the value goes to headValue. */
function head(b: Uint8Array): number {
  if (pos >= lim) return -1
  const ib = b[pos++]!
  const ai = ib & 31
  if (ai < 24) {
    headValue = ai
    return ib >> 5
  }
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0
  if (n === 0 || pos + n > lim) return -1
  let v = 0
  for (let i = 0; i < n; i++) v = v * 256 + b[pos++]!
  headValue = v
  return ib >> 5
}

function isAscii(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i]! >= 0x80) return false
  return true
}

function sameBytes(b: Uint8Array, at: number, length: number, want: Uint8Array): boolean {
  if (length !== want.length) return false
  for (let i = 0; i < length; i++) if (b[at + i] !== want[i]) return false
  return true
}

/** `code` if the key b[at, at + k.length) is `k`, else -1. */
function key(b: Uint8Array, at: number, k: Uint8Array, code: number): number {
  return sameBytes(b, at, k.length, k) ? code : -1
}

/** The field code of the key b[at, at + length) (ASCII), or -1 for a key readStoredRecord skips. */
function keyCode(b: Uint8Array, at: number, length: number): number {
  const c = b[at]
  switch (length) {
    case 3: return c === 0x61 ? key(b, at, K_ALG, F_ALG) : c === 0x6c ? key(b, at, K_LOG, F_LOG) : c === 0x73 ? key(b, at, K_SEQ, F_SEQ) : c === 0x72 ? key(b, at, K_REF, F_REF) : -1
    case 4: return c === 0x74 ? (b[at + 1] === 0x79 ? key(b, at, K_TYPE, F_TYPE) : key(b, at, K_TIME, F_TIME)) : c === 0x6b ? key(b, at, K_KIND, F_KIND) : -1
    case 5: return c === 0x76 ? key(b, at, K_VALUE, F_VALUE) : c === 0x6d ? key(b, at, K_MEDIA, F_MEDIA) : -1
    case 6: return c === 0x74 ? key(b, at, K_TARGET, F_TARGET) : c === 0x72 ? key(b, at, K_REASON, F_REASON) : -1
    case 7: return c === 0x71 ? key(b, at, K_QUALITY, F_QUALITY) : c === 0x65 ? key(b, at, K_EXPIRES, F_EXPIRES) : c === 0x6f ? key(b, at, K_OPINION, F_OPINION) : -1
    case 8: return key(b, at, K_CATEGORY, F_CATEGORY)
    default: return -1
  }
}

/**
 * Reads a stored entry in place: INDICATOR, REVOCATION or OTHER, its fields
 * in out[o, o + SLOTS) (starts -1 beforehand), where readStoredRecord reads
 * it the same way and every text of it is ASCII; else SLOW (read it with
 * readStoredRecord).
 */
function scanEntry(e: Uint8Array, out: Float64Array, o: number): number {
  if (isRedactionMarker(e)) return SLOW
  pos = 0
  lim = e.length
  if (head(e) !== MAJOR_ARRAY || headValue !== 2) return SLOW
  if (head(e) !== MAJOR_BYTES || pos + headValue > lim) return SLOW
  lim = pos + headValue // the record: its reader sees only these bytes
  if (head(e) !== MAJOR_MAP) return SLOW
  for (let pairs = headValue; pairs > 0; pairs--) {
    if (head(e) !== MAJOR_TEXT || pos + headValue > lim || !isAscii(e, pos, pos + headValue)) return SLOW
    const code = keyCode(e, pos, headValue)
    pos += headValue
    const major = head(e)
    if (code === -1) {
      // skip(): a uint, or bytes or text; nested values are left to readStoredRecord.
      if (major === MAJOR_UINT) continue
      if ((major !== MAJOR_BYTES && major !== MAJOR_TEXT) || pos + headValue > lim) return SLOW
      pos += headValue
      continue
    }
    if (major !== FIELD_MAJOR[code]) return SLOW
    if (major === MAJOR_UINT) {
      out[o + code] = headValue
      continue
    }
    if (pos + headValue > lim || (major === MAJOR_TEXT && !isAscii(e, pos, pos + headValue))) return SLOW
    out[o + code] = pos
    out[o + FIELD_COUNT + code] = headValue
    pos += headValue
  }
  if (out[o + F_TYPE] === -1 || out[o + F_LOG] === -1 || out[o + F_SEQ] === -1 || out[o + F_TIME] === -1) return SLOW
  const t = out[o + F_TYPE]!
  const tl = out[o + FIELD_COUNT + F_TYPE]!
  if (sameBytes(e, t, tl, TYPE_INDICATOR)) {
    // readStoredRecord needs alg, value and category; putJsonlLine kind and media too.
    const all = out[o + F_ALG] !== -1 && out[o + F_VALUE] !== -1 && out[o + F_CATEGORY] !== -1 && out[o + F_KIND] !== -1 && out[o + F_MEDIA] !== -1
    return all ? INDICATOR : SLOW
  }
  if (sameBytes(e, t, tl, TYPE_REVOCATION)) return out[o + F_TARGET] !== -1 && out[o + FIELD_COUNT + F_TARGET] === 32 ? REVOCATION : SLOW
  return sameBytes(e, t, tl, TYPE_REDACTED) ? SLOW : OTHER
}

const PARTS = LINE_PARTS.map(ascii)
const QUALITY_BYTES = ascii(QUALITY)
const REF_BYTES = ascii(REF)
const EXPIRES_BYTES = ascii(EXPIRES)

function put(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i]!
  return at
}

/** Copies field f of the entry (its bytes as they are). */
function putField(buf: Uint8Array, at: number, e: Uint8Array, f: Float64Array, o: number, field: number): number {
  const s = f[o + field]!
  const end = s + f[o + FIELD_COUNT + field]!
  for (let i = s; i < end; i++) buf[at++] = e[i]!
  return at
}

const HEX = ascii('0123456789abcdef')

/** Field f of the entry in lowercase hex (putHex). */
function putFieldHex(buf: Uint8Array, at: number, e: Uint8Array, f: Float64Array, o: number, field: number): number {
  const s = f[o + field]!
  const end = s + f[o + FIELD_COUNT + field]!
  for (let i = s; i < end; i++) {
    buf[at++] = HEX[e[i]! >> 4]!
    buf[at++] = HEX[e[i]! & 15]!
  }
  return at
}

/** An upper bound of the bytes of an indicator's line (every text of it is at most the entry, in hex twice that; every number at most 22 digits). */
function lineBound(e: Uint8Array, origin: Uint8Array, id: Uint8Array): number {
  return 2 * e.length + 2 * id.length + origin.length + 512
}

/** putJsonlLine's line of an indicator scanEntry read (fields at f[o..]), from its bytes: the same bytes. Returns the offset after it. */
function putScannedLine(buf: Uint8Array, at: number, e: Uint8Array, f: Float64Array, o: number, origin: Uint8Array, index: number, id: Uint8Array): number {
  const p = PARTS
  at = put(buf, at, p[0]!)
  at = putField(buf, at, e, f, o, F_ALG)
  at = put(buf, at, p[1]!)
  at = putFieldHex(buf, at, e, f, o, F_VALUE)
  at = put(buf, at, p[2]!)
  at = putField(buf, at, e, f, o, F_CATEGORY)
  at = put(buf, at, p[3]!)
  at = putField(buf, at, e, f, o, F_KIND)
  at = put(buf, at, p[4]!)
  at = putField(buf, at, e, f, o, F_MEDIA)
  at = put(buf, at, p[5]!)
  if (f[o + F_QUALITY] !== -1) at = putUint(buf, put(buf, at, QUALITY_BYTES), f[o + F_QUALITY]!)
  if (f[o + F_REF] !== -1) {
    at = putField(buf, put(buf, at, REF_BYTES), e, f, o, F_REF)
    buf[at++] = 0x22 // "
  }
  if (f[o + F_EXPIRES] !== -1) at = putUint(buf, put(buf, at, EXPIRES_BYTES), f[o + F_EXPIRES]!)
  at = put(buf, at, p[6]!)
  at = putHex(buf, at, id)
  at = put(buf, at, p[7]!)
  at = put(buf, at, origin)
  at = put(buf, at, p[8]!)
  at = putUint(buf, at, index)
  at = put(buf, at, p[9]!)
  at = putUint(buf, at, f[o + F_TIME]!)
  return put(buf, at, p[10]!)
}

/** A chunk of a log's entries as the check reads them (readChunk). */
export interface ChunkEntries {
  entries: readonly Uint8Array[]
  ids: readonly Uint8Array[]
  /** Per entry: scanEntry's answer. */
  kinds: Uint8Array
  /** Per entry, SLOTS of scanEntry's reading of it. */
  fields: Float64Array
  /** readStoredRecord of each entry scanEntry leaves to it, by position in the chunk. */
  slow: ReadonlyMap<number, StoredRecord>
  /** The revocations among them: position in the chunk and the id each revokes. */
  revocations: { i: number; target: Uint8Array }[]
}

/**
 * Reads the records of a chunk of stored entries for checkChunk (every one
 * is read: a malformed entry throws MALFORMED_ENTRY, as readStoredRecord of
 * it does), with the revocations among them.
 */
export function readChunk(entries: readonly Uint8Array[], ids: readonly Uint8Array[]): ChunkEntries {
  const kinds = new Uint8Array(entries.length)
  const fields = new Float64Array(entries.length * SLOTS).fill(-1)
  const slow = new Map<number, StoredRecord>()
  const revocations: ChunkEntries['revocations'] = []
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    const kind = scanEntry(e, fields, i * SLOTS)
    kinds[i] = kind
    if (kind === REVOCATION) {
      const t = fields[i * SLOTS + F_TARGET]!
      revocations.push({ i, target: e.subarray(t, t + 32) })
    }
    else if (kind === SLOW) {
      const r = readStoredRecord(e)
      slow.set(i, r)
      if (r.type === 'revocation') revocations.push({ i, target: r.target! })
    }
  }
  return { entries, ids, kinds, fields, slow, revocations }
}

/** A line's bytes, reused from chunk to chunk (a line is rendered into it, then compared). */
let scratch = Buffer.allocUnsafe(4096)
const originBytes = new Map<string, Buffer | undefined>()

/** An origin as the bytes of a line (undefined if it is not ASCII: its lines are left to putJsonlLine, which refuses them). */
function originOf(origin: string): Buffer | undefined {
  if (!originBytes.has(origin)) originBytes.set(origin, /^[\x00-\x7f]*$/.test(origin) ? Buffer.from(origin, 'latin1') : undefined)
  return originBytes.get(origin)
}

/**
 * Checks lines [first, first + chunk.entries.length) of `origin`, which start at
 * file offset `at`; `buf` holds the file from `at` (at least those lines,
 * unless the file ends first). `redacted`: lines blanked (or being blanked)
 * by this process, which may hold their value or spaces.
 */
export function checkChunk(
  origin: string, first: number, chunk: ChunkEntries,
  buf: Buffer, at: number, marks: readonly number[], redacted: ReadonlySet<number>,
): CheckedChunk {
  const pending: CheckedChunk['pending'] = []
  const { entries, ids, kinds, fields, slow } = chunk
  const originAscii = originOf(origin)
  let p = 0
  for (let i = 0; i < entries.length; i++) {
    const index = first + i
    if (index % MARK_EVERY === 0 && marks[index / MARK_EVERY] !== at + p) {
      const mark = marks[index / MARK_EVERY]
      return { end: at + p, pending, mismatch: { index, what: mark === undefined ? 'the line has no mark' : `its mark says offset ${mark}, the line starts at ${at + p}` } }
    }
    const nl = buf.indexOf(NL, p)
    if (nl === -1) return { end: at + p, pending, mismatch: { index, what: 'the file ends before this line' } }
    const kind = kinds[i]!
    const r = kind === SLOW ? slow.get(i)! : undefined
    if (kind === INDICATOR || r?.type === 'indicator') {
      const e = entries[i]!
      const id = ids[i]!
      let length: number
      if (r === undefined && originAscii !== undefined) {
        const bound = lineBound(e, originAscii, id)
        if (scratch.length < bound) scratch = Buffer.allocUnsafe(2 * bound)
        length = putScannedLine(scratch, 0, e, fields, i * SLOTS, originAscii, index, id) - 1 // without the newline
      } else {
        const rec = r ?? readStoredRecord(e)
        const n = lineLength(origin, index, id, rec)
        if (scratch.length < n) scratch = Buffer.allocUnsafe(2 * n)
        putJsonlLine(scratch, 0, origin, index, id, rec)
        length = n - 1
      }
      const ok = buf.compare(scratch, 0, length, p, nl) === 0 || (redacted.has(index) && allSpaces(buf, p, nl))
      if (!ok) return { end: at + p, pending, mismatch: { index, what: difference(scratch.subarray(0, length), buf.subarray(p, nl)) } }
    } else if (r?.type === 'redacted') {
      // Blanked in place (spaces), written after the redaction (empty), or not blanked yet (a value: blank it now, never serve it).
      if (nl > p && buf[p] === OPEN_BRACE) pending.push({ index, start: p, end: nl })
      else if (!allSpaces(buf, p, nl)) return { end: at + p, pending, mismatch: { index, what: 'the entry is redacted; its line holds neither spaces nor a line to blank' } }
    } else if (nl > p) {
      return { end: at + p, pending, mismatch: { index, what: `the entry is a ${r?.type ?? typeName(entries[i]!)}; its line is not empty` } }
    }
    p = nl + 1
  }
  return { end: at + p, pending }
}

/** The type of an entry, for a mismatch message. */
function typeName(e: Uint8Array): string {
  return readStoredRecord(e).type
}

/** The file from `at` until it holds `count` whole lines or ends; `guess` is the expected byte count. */
export async function readLines(fh: FileHandle, at: number, count: number, guess: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(guess + 64 * 1024)
  let { bytesRead } = await fh.read(buf, 0, buf.length, at)
  for (;;) {
    let lines = 0
    for (let p = buf.indexOf(NL); p !== -1 && p < bytesRead && lines < count; p = buf.indexOf(NL, p + 1)) lines++
    if (lines >= count || bytesRead < buf.length) return buf.subarray(0, bytesRead)
    const more = Buffer.allocUnsafe(buf.length * 2)
    buf.copy(more, 0, 0, bytesRead)
    buf = more
    bytesRead += (await fh.read(buf, bytesRead, buf.length - bytesRead, at + bytesRead)).bytesRead
  }
}
