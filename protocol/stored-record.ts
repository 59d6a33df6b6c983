/**
 * Reads the record inside a stored entry without validating it again: the
 * fields the feed, the snapshot files, STIX and a provider's local copy use.
 *
 * Why a second CBOR reader beside protocol/cbor.ts: entries reach this only
 * after they were fully verified (the node's ingest, or a client's proof that
 * they are in a signed tree), and a 10,000-entry feed page must cost a range
 * read plus a hash per entry, not a canonical re-validation of each. The
 * differential test (test/stored-record.test.ts) holds this reader to the
 * validating decoder's result on every vector and on generated records.
 */
import { LedgerError } from './errors.ts'
import { isRedactionMarker, markerNotice, readNoticeUnverified } from './redaction.ts'

/** The fields of a stored record that the feed and STIX views use. */
export interface StoredRecord {
  type: string
  log: string
  seq: number
  time: number
  alg?: string
  value?: Uint8Array
  category?: string
  kind?: string
  media?: string
  ref?: string
  quality?: number
  expires?: number
  target?: Uint8Array
  reason?: string
  opinion?: string
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** A minimal CBOR reader over the data model of cairn records (uints, strings, arrays, maps). */
class CborReader {
  pos = 0
  constructor(private readonly b: Uint8Array) {}
  private fail(): never {
    throw new LedgerError('MALFORMED_ENTRY', 'stored entry is not a cairn entry')
  }
  head(): [number, number] {
    const b = this.b
    if (this.pos >= b.length) this.fail()
    const ib = b[this.pos++]!
    const major = ib >> 5
    const ai = ib & 31
    if (ai < 24) return [major, ai]
    const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : this.fail()
    if (this.pos + n > b.length) this.fail()
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + b[this.pos++]!
    return [major, v]
  }
  uint(): number {
    const [m, v] = this.head()
    if (m !== 0) this.fail()
    return v
  }
  bytes(): Uint8Array {
    const [m, n] = this.head()
    if (m !== 2 || this.pos + n > this.b.length) this.fail()
    const out = this.b.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  text(): string {
    const [m, n] = this.head()
    if (m !== 3 || this.pos + n > this.b.length) this.fail()
    const b = this.b
    let ascii = true
    for (let i = this.pos; i < this.pos + n; i++) if (b[i]! >= 0x80) { ascii = false; break }
    let s: string
    if (ascii) {
      s = ''
      for (let i = this.pos; i < this.pos + n; i++) s += String.fromCharCode(b[i]!)
    } else {
      s = utf8Decoder.decode(b.subarray(this.pos, this.pos + n))
    }
    this.pos += n
    return s
  }
  skip(): void {
    const [m, n] = this.head()
    if (m === 0) return
    if (m === 2 || m === 3) {
      if (this.pos + n > this.b.length) this.fail()
      this.pos += n
    } else if (m === 4) for (let i = 0; i < n; i++) this.skip()
    else if (m === 5) for (let i = 0; i < 2 * n; i++) this.skip()
    else this.fail()
  }
}

const TEXT_FIELDS = new Set(['type', 'log', 'alg', 'category', 'kind', 'media', 'ref', 'reason', 'opinion'])
const UINT_FIELDS = new Set(['seq', 'time', 'quality', 'expires'])

/**
 * Reads the record inside a stored entry ([record bstr, sig bstr]) without
 * re-validating it: only for entries the store accepted (or that a client has
 * proven to be in a signed tree). Malformed bytes throw MALFORMED_ENTRY.
 */
export function readStoredRecord(entry: Uint8Array): StoredRecord {
  if (isRedactionMarker(entry)) {
    // Marker of a redacted entry: what is left is its place, the redaction time and the leaf hash (as `target`).
    const n = readNoticeUnverified(markerNotice(entry))
    return { type: 'redacted', log: n.log, seq: n.index, time: n.time, target: n.id }
  }
  const outer = new CborReader(entry)
  const [m, n] = outer.head()
  if (m !== 4 || n !== 2) throw new LedgerError('MALFORMED_ENTRY', 'an entry is [record, signature]')
  const r = new CborReader(outer.bytes())
  const [mm, pairs] = r.head()
  if (mm !== 5) throw new LedgerError('MALFORMED_ENTRY', 'a record is a map')
  const out: Record<string, unknown> = {}
  for (let i = 0; i < pairs; i++) {
    const k = r.text()
    if (TEXT_FIELDS.has(k)) out[k] = r.text()
    else if (UINT_FIELDS.has(k)) out[k] = r.uint()
    else if (k === 'value' || k === 'target') out[k] = r.bytes()
    else r.skip()
  }
  if (typeof out.type !== 'string' || typeof out.log !== 'string' || typeof out.seq !== 'number' || typeof out.time !== 'number') {
    throw new LedgerError('MALFORMED_ENTRY', 'a record needs type, log, seq and time')
  }
  if (out.type === 'indicator' && (!(out.value instanceof Uint8Array) || typeof out.alg !== 'string' || typeof out.category !== 'string')) {
    throw new LedgerError('MALFORMED_ENTRY', 'an indicator needs alg, value and category')
  }
  if (out.type === 'revocation' && !(out.target instanceof Uint8Array && out.target.length === 32)) {
    throw new LedgerError('MALFORMED_ENTRY', 'a revocation needs a 32-byte target')
  }
  return out as unknown as StoredRecord
}
