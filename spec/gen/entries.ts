/**
 * spec/vectors/entries/: signed entries of the log `vectors.cairn/eu-centre`.
 *
 * Each case: `description`, `public_key` (the log key, 32 bytes), `entry`,
 * `valid`; valid cases add `record_id` (SHA-256(0x00 ‖ entry)) and `record`
 * (the record map as JSON, byte strings as hex); invalid ones add `error`, the
 * LedgerError code cairn's openEntry(entry, public_key) rejects with. Each
 * invalid case breaks exactly one rule, with a correct signature unless the
 * signature is what it breaks. The non-canonical encodings are built by hand
 * with the raw writer below; the Ed25519 edge cases by the scalar arithmetic
 * of RFC 8032 §5.1.6 (a lax verifier accepts them, a strict one must not).
 */
import { createHash } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { concat, sha256, toHex, utf8 } from '../../protocol/bytes.ts'
import { encodeCanonical, type CborValue } from '../../protocol/cbor.ts'
import { sign } from '../../protocol/ed25519.ts'
import { encodeEntry, openEntry, signEntry, signedMessage, MAX_ENTRY_BYTES } from '../../protocol/entry.ts'
import { isLedgerError, type ErrorCode } from '../../protocol/errors.ts'
import { recordToJson, type CairnRecord } from '../../protocol/records.ts'
import { refPseudonym } from '../../protocol/case-ref.ts'
import { vectorKey, VECTOR_TIME_MS, type VectorCase } from './seeds.ts'
import { L, P, bigToLe, leToBig, secretScalar, sha512 } from './scalars.ts'

export const ENTRY_VECTOR_ORIGIN = 'vectors.cairn/eu-centre'
const log = vectorKey('eu-centre/log')
const other = vectorKey('eu-centre/impostor')
const ncmec = vectorKey('ncmec/log')
const ncmecWitness = vectorKey('ncmec/witness')
const T = VECTOR_TIME_MS

// ------------------------------------------------------------ sample values

/** n deterministic bytes: SHA-256("cairn-entry-vector/<label>/<i>") blocks. */
function sample(label: string, n: number): Uint8Array {
  const blocks: Uint8Array[] = []
  for (let i = 0; blocks.length * 32 < n; i++) blocks.push(sha256(utf8(`cairn-entry-vector/${label}/${i}`)))
  return concat(...blocks).slice(0, n)
}
const digest = (alg: string, text: string): Uint8Array => new Uint8Array(createHash(alg).update(text).digest())

const VALUES = {
  md5: digest('md5', 'cairn entry vector sample'),
  sha1: digest('sha1', 'cairn entry vector sample'),
  sha256: digest('sha256', 'cairn entry vector sample'),
  pdq: sample('pdq', 32),
  photodna: sample('photodna', 144),
  tmk_pdqf: sample('tmk_pdqf', 258),
  url_sha256: digest('sha256', 'https://example.invalid/cairn-vector'),
}
/** A record id some other entry has. */
const TARGET = sha256(utf8('cairn-entry-vector/target'))
/** The pseudonym of the case reference "case:2026/0001-A" under the secret SHA-256("cairn-entry-vector/ref-secret"). */
const VECTOR_REF = refPseudonym(sha256(utf8('cairn-entry-vector/ref-secret')), 'case:2026/0001-A')

// ------------------------------------------------------------ records

type Fields = { [key: string]: CborValue }

const header = (type: string, seq: number): Fields => ({ v: 1, type, log: ENTRY_VECTOR_ORIGIN, seq, time: T })

function indicator(over: Fields = {}): Fields {
  return { ...header('indicator', 0), alg: 'sha256', value: VALUES.sha256, category: 'A1', kind: 'known_material', media: 'image', ...over }
}
const pdqIndicator = (over: Fields = {}): Fields => indicator({ alg: 'pdq', value: VALUES.pdq, quality: 90, ...over })
const revocation = (over: Fields = {}): Fields => ({ ...header('revocation', 7), target: TARGET, reason: 'false_positive', ...over })
const attestation = (over: Fields = {}): Fields => ({ ...header('attestation', 8), target: TARGET, opinion: 'confirm', ...over })
const addMember = (over: Fields = {}): Fields => ({
  ...header('roster', 9),
  change: 'add_member',
  member: 'ncmec',
  origin: 'vectors.cairn/ncmec',
  key: ncmec.publicKey,
  witness_key: ncmecWitness.publicKey,
  peer_id: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
  roles: ['publisher', 'witness'],
  ...over,
})

/** Drops keys (for "missing" cases). */
function without(fields: Fields, ...keys: string[]): Fields {
  const out = { ...fields }
  for (const k of keys) delete out[k]
  return out
}

// ------------------------------------------------------------ raw CBOR writer (may be non-canonical)

/** A head with an explicit argument width in bytes (0 = in the initial byte). */
function head(major: number, n: number, width?: 0 | 1 | 2 | 4 | 8): Uint8Array {
  const w = width ?? (n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000 ? 4 : 8)
  const ai = w === 0 ? n : 23 + Math.log2(w) + 1
  const out = new Uint8Array(1 + w)
  out[0] = (major << 5) | ai
  let v = BigInt(n)
  for (let i = w; i >= 1; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const rawText = (s: string, width?: 0 | 1 | 2 | 4 | 8): Uint8Array => concat(head(3, utf8(s).length, width), utf8(s))
const rawBytes = (b: Uint8Array, width?: 0 | 1 | 2 | 4 | 8): Uint8Array => concat(head(2, b.length, width), b)

type Pair = [key: Uint8Array, value: Uint8Array]

/** Canonical order of encoded keys (stable, so equal keys keep their order). */
const sortPairs = (ps: Pair[]): Pair[] => ps.sort((a, b) => a[0].length - b[0].length || Buffer.compare(a[0], b[0]))
/** The canonical (key, value) encodings of a record, in canonical order. */
const pairs = (fields: Fields): Pair[] => sortPairs(Object.entries(fields).map(([k, v]): Pair => [rawText(k), encodeCanonical(v)]))
const rawMap = (ps: Pair[]): Uint8Array => concat(head(5, ps.length), ...ps.flat())
/** Replaces the value encoding of `key` (which must exist). */
function withValue(ps: Pair[], key: string, value: Uint8Array): Pair[] {
  const k = toHex(rawText(key))
  if (!ps.some(([pk]) => toHex(pk) === k)) throw new Error(`no key ${key}`)
  return ps.map(([pk, pv]): Pair => [pk, toHex(pk) === k ? value : pv])
}

// ------------------------------------------------------------ Ed25519 by hand (RFC 8032 §5.1.6)

/** k = SHA-512(R ‖ A ‖ M) mod L. */
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array): bigint => leToBig(sha512(R, A, M)) % L

/** S + L in place of S: same value mod L, so only a lax verifier accepts it. */
function sPlusL(sig: Uint8Array): Uint8Array {
  return concat(sig.subarray(0, 32), bigToLe(leToBig(sig.subarray(32)) + L))
}

/**
 * R = a non-canonical encoding of the identity (y = p + 1) and S = k·a: then
 * [S]B = [k]A = R + [k]A holds as points, so a verifier that decodes R loosely
 * and compares points accepts; a strict one compares encodings and rejects.
 */
function nonCanonicalRSignature(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const R = bigToLe(P + 1n)
  const S = (challenge(R, publicKey, message) * secretScalar(seed)) % L
  return concat(R, bigToLe(S))
}

/** R = the identity (canonical encoding) and S = k·a: [S]B = [k]A = R + [k]A holds; only a verifier that rejects small-order R refuses it. */
function smallOrderRSignature(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const R = hex('01' + '00'.repeat(31))
  const S = (challenge(R, publicKey, message) * secretScalar(seed)) % L
  return concat(R, bigToLe(S))
}

/**
 * A signature that verifies (cofactorless) under a small-order key A: pick r
 * until 8 | k, so [k]A is the identity and (R = [r]B, S = r) satisfies the equation.
 */
function smallOrderForgery(smallKey: Uint8Array, message: Uint8Array): Uint8Array {
  for (let r = 1n; ; r++) {
    const R = ed.Point.BASE.multiply(r).toBytes()
    if (challenge(R, smallKey, message) % 8n === 0n) return concat(R, bigToLe(r))
  }
}

/** A point of order 8 (the canonical encoding from the "Taming the many EdDSAs" list). */
const SMALL_ORDER_KEY = hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')

/** y + p for the smallest y whose point is on the curve and not of small order: the same point, encoded with y >= p. */
function nonCanonicalKey(): Uint8Array {
  for (let y = 2n; y < 19n; y++) {
    try {
      const point = ed.Point.fromBytes(bigToLe(y), false)
      if (!point.isSmallOrder()) return bigToLe(y + P)
    } catch {
      // not on the curve
    }
  }
  throw new Error('no canonical point with y < 19')
}

// ------------------------------------------------------------ cases

/** Signs any record bytes and frames them without encodeEntry's size check. */
const signRaw = (recordBytes: Uint8Array, seed = log.seed): Uint8Array => encodeCanonical([recordBytes, sign(seed, signedMessage(recordBytes))], { maxItems: 2 })
const signFields = (fields: Fields): Uint8Array => signRaw(encodeCanonical(fields))

function valid(name: string, description: string, fields: Fields): VectorCase {
  const entry = signEntry(log.seed, fields as unknown as CairnRecord)
  const opened = openEntry(entry, log.publicKey)
  return {
    name,
    data: {
      description,
      public_key: toHex(log.publicKey),
      entry: toHex(entry),
      valid: true,
      record_id: toHex(opened.id),
      record: recordToJson(opened.record),
    },
  }
}

/** An invalid case; generation fails unless cairn rejects it with exactly `error`. */
function invalid(name: string, description: string, entry: Uint8Array, error: ErrorCode, publicKey = log.publicKey): VectorCase {
  try {
    openEntry(entry, publicKey)
  } catch (e) {
    if (!isLedgerError(e, error)) throw new Error(`vector ${name}: expected ${error}, got ${String(e)}`)
    return { name, data: { description, public_key: toHex(publicKey), entry: toHex(entry), valid: false, error } }
  }
  throw new Error(`vector ${name}: expected ${error}, but the entry opened`)
}

/** A signed record with an unknown key "pad" sized so the entry is exactly `size` bytes. */
function paddedEntry(size: number): Uint8Array {
  const make = (n: number): Uint8Array => signFields(indicator({ pad: new Uint8Array(n) }))
  const guess = make(1000)
  const entry = make(1000 + size - guess.length)
  if (entry.length !== size) throw new Error(`padded entry is ${entry.length} bytes, wanted ${size}`)
  return entry
}

function validCases(): VectorCase[] {
  return [
    valid('valid-indicator-md5', 'an MD5 indicator of known material', indicator({ alg: 'md5', value: VALUES.md5 })),
    valid('valid-indicator-sha1', 'a SHA-1 indicator', indicator({ alg: 'sha1', value: VALUES.sha1, category: 'B1' })),
    valid('valid-indicator-sha256', 'a SHA-256 indicator with the minimal key set', indicator()),
    valid('valid-indicator-pdq', 'a PDQ indicator with quality 90', pdqIndicator()),
    valid('valid-indicator-pdq-quality-50', 'a PDQ indicator at the lowest accepted quality', pdqIndicator({ quality: 50 })),
    valid('valid-indicator-photodna', 'a PhotoDNA indicator (144 bytes)', indicator({ alg: 'photodna', value: VALUES.photodna, category: 'A2' })),
    valid('valid-indicator-tmk-pdqf', 'a TMK+PDQF video indicator', indicator({ alg: 'tmk_pdqf', value: VALUES.tmk_pdqf, media: 'video', kind: 'new_material' })),
    valid('valid-indicator-tmk-pdqf-4096-bytes', 'a TMK+PDQF value at the 4 KiB limit', indicator({ alg: 'tmk_pdqf', value: sample('tmk_pdqf-max', 4096), media: 'video' })),
    valid('valid-indicator-url-sha256', 'a URL indicator (SHA-256 of the normalised URL)', indicator({ alg: 'url_sha256', value: VALUES.url_sha256, kind: 'url', media: 'url', category: 'B2' })),
    valid('valid-indicator-solicitation-text', 'a SHA-256 indicator of solicitation text', indicator({ kind: 'solicitation', media: 'text' })),
    valid('valid-indicator-all-optional-keys', 'a PDQ indicator with ref, quality and expires', pdqIndicator({ ref: VECTOR_REF, expires: T + 365 * 86_400_000, seq: 4_294_967_296 })),
    valid('valid-revocation', 'a revocation of a record of the same log', revocation()),
    valid('valid-attestation-confirm', 'an attestation confirming a record, without a reason', attestation()),
    valid('valid-attestation-dispute-with-reason', 'an attestation disputing a record as a false positive', attestation({ opinion: 'dispute', reason: 'false_positive' })),
    valid('valid-roster-add-member', 'a roster proposal adding a member with both roles', addMember()),
    valid('valid-roster-remove-member', 'a roster proposal removing a member', { ...header('roster', 10), change: 'remove_member', member: 'ncmec' }),
    valid('valid-roster-rotate-key', 'a roster proposal rotating a member\'s log key', { ...header('roster', 11), change: 'rotate_key', member: 'ncmec', key: other.publicKey }),
    valid('valid-roster-set-roles-empty', 'a roster proposal taking every role from a member', { ...header('roster', 12), change: 'set_roles', member: 'ncmec', roles: [] }),
    valid('valid-roster-set-threshold', 'a roster proposal setting the threshold to 3', { ...header('roster', 13), change: 'set_threshold', threshold: 3 }),
  ]
}

function cborCases(): VectorCase[] {
  const ps = pairs(indicator())
  const record = rawMap(ps)
  const sig = sign(log.seed, signedMessage(record))
  const entryOf = (...items: Uint8Array[]): Uint8Array => concat(head(4, items.length), ...items)
  const swapped = [...ps]
  ;[swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!]
  const byLength = pairs(indicator()).filter(([k]) => toHex(k) !== toHex(rawText('category')))
  return [
    // in the record
    invalid('invalid-record-cbor-non-shortest-int', 'seq 0 written with a one-byte argument (0x18 0x00)', signRaw(rawMap(withValue(ps, 'seq', hex('1800')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-time-non-shortest', 'a time below 2^32 written in the 8-byte form', signRaw(rawMap(withValue(ps, 'time', head(0, 1_700_000, 8)))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-non-shortest-text-length', 'a 3-character text string with a one-byte length', signRaw(rawMap(withValue(ps, 'alg', rawText('sha256', 1)))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-non-shortest-bytes-length', 'a 32-byte value with a two-byte length', signRaw(rawMap(withValue(ps, 'value', rawBytes(VALUES.sha256, 2)))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-non-shortest-map-length', 'the record map count with a one-byte argument', signRaw(concat(head(5, ps.length, 1), ...ps.flat())), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-indefinite-map', 'the record as an indefinite-length map', signRaw(concat(hex('bf'), ...ps.flat(), hex('ff'))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-indefinite-text', 'a text value as an indefinite-length string', signRaw(rawMap(withValue(ps, 'category', concat(hex('7f'), rawText('A'), rawText('1'), hex('ff'))))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-indefinite-array', 'roles as an indefinite-length array', signRaw(rawMap(withValue(pairs(addMember()), 'roles', concat(hex('9f'), rawText('publisher'), rawText('witness'), hex('ff'))))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-unsorted-keys', 'two keys of equal length out of bytewise order', signRaw(rawMap(swapped)), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-keys-sorted-lexically', 'keys in plain lexical order instead of length-first', signRaw(rawMap([...ps].sort((a, b) => Buffer.compare(a[0].subarray(1), b[0].subarray(1))))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-duplicate-key', 'the key "category" twice with different values', signRaw(rawMap(sortPairs([...byLength, [rawText('category'), rawText('A1')], [rawText('category'), rawText('B2')]]))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-float', 'seq as a half-precision float 0.0', signRaw(rawMap(withValue(ps, 'seq', hex('f90000')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-float-time', 'time as a double-precision float', signRaw(rawMap(withValue(ps, 'time', concat(hex('fb'), (() => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, T); return b })())))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-tag', 'time wrapped in tag 1 (epoch date)', signRaw(rawMap(withValue(ps, 'time', concat(hex('c1'), encodeCanonical(T))))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-bignum', 'seq as a tag-2 bignum', signRaw(rawMap(withValue(ps, 'seq', hex('c24100')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-undefined', 'an optional key with the value undefined', signRaw(rawMap(pairs({ ...indicator(), ref: 'x' }).map(([k, v]): Pair => [k, toHex(k) === toHex(rawText('ref')) ? hex('f7') : v]))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-null', 'an optional key with the value null', signRaw(rawMap(pairs({ ...indicator(), ref: 'x' }).map(([k, v]): Pair => [k, toHex(k) === toHex(rawText('ref')) ? hex('f6') : v]))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-boolean', 'v as the simple value true', signRaw(rawMap(withValue(ps, 'v', hex('f5')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-negative-int', 'seq as the negative integer -1', signRaw(rawMap(withValue(ps, 'seq', hex('20')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-int-over-2-53', 'seq = 2^53, beyond the integers cairn represents', signRaw(rawMap(withValue(ps, 'seq', head(0, 2 ** 53)))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-integer-key', 'an extra map entry with the integer key 1 (sorted first)', signRaw(concat(head(5, ps.length + 1), hex('0101'), ...ps.flat())), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-invalid-utf8', 'a text value that is not valid UTF-8', signRaw(rawMap(withValue(ps, 'category', hex('62c328')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-trailing-bytes', 'one byte (0x00) after the record map', signRaw(concat(record, hex('00'))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-cbor-truncated', 'the record map cut one byte short', signRaw(record.subarray(0, record.length - 1)), 'MALFORMED_CBOR'),
    invalid('invalid-record-cbor-reserved-info', 'a head with reserved additional information 28', signRaw(rawMap(withValue(ps, 'seq', hex('1c')))), 'MALFORMED_CBOR'),
    invalid('invalid-record-cbor-non-shortest-and-bad-version', 'v = 2 written as 0x18 0x02: canonical form is checked before the record rules', signRaw(rawMap(withValue(ps, 'v', hex('1802')))), 'NON_CANONICAL_CBOR'),
    invalid('invalid-record-not-a-map', 'the record is an array, not a map', signRaw(encodeCanonical([1, 'indicator'])), 'BAD_FIELD'),
    // in the entry array
    invalid('invalid-entry-cbor-non-shortest-record-length', 'the record byte string with a four-byte length', entryOf(rawBytes(record, 4), rawBytes(sig)), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-cbor-non-shortest-array-length', 'the entry array count with a one-byte argument', concat(head(4, 2, 1), rawBytes(record), rawBytes(sig)), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-cbor-indefinite-array', 'the entry as an indefinite-length array', concat(hex('9f'), rawBytes(record), rawBytes(sig), hex('ff')), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-cbor-indefinite-bytes', 'the record as an indefinite-length byte string of two chunks', entryOf(concat(hex('5f'), rawBytes(record.subarray(0, 10)), rawBytes(record.subarray(10)), hex('ff')), rawBytes(sig)), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-cbor-tag', 'the record byte string under tag 24 (embedded CBOR)', entryOf(concat(hex('d818'), rawBytes(record)), rawBytes(sig)), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-cbor-trailing-bytes', 'one byte (0x00) after the entry array', concat(entryOf(rawBytes(record), rawBytes(sig)), hex('00')), 'NON_CANONICAL_CBOR'),
    invalid('invalid-entry-truncated', 'the entry cut in the middle of the signature', entryOf(rawBytes(record), rawBytes(sig)).subarray(0, record.length + 40), 'MALFORMED_CBOR'),
    invalid('invalid-entry-empty', 'zero bytes', new Uint8Array(0), 'MALFORMED_CBOR'),
    invalid('invalid-entry-three-elements', 'the entry array with a third element', entryOf(rawBytes(record), rawBytes(sig), rawBytes(sig)), 'MALFORMED_ENTRY'),
    invalid('invalid-entry-not-an-array', 'the entry is the record map itself', record, 'MALFORMED_ENTRY'),
    invalid('invalid-entry-record-as-text', 'the record given as a text string', entryOf(rawText('sha256'), rawBytes(sig)), 'MALFORMED_ENTRY'),
    invalid('invalid-entry-signature-63-bytes', 'a signature one byte short', entryOf(rawBytes(record), rawBytes(sig.subarray(0, 63))), 'MALFORMED_ENTRY'),
    invalid('invalid-entry-oversized', 'an entry of 65,536 bytes, one over the limit (otherwise correctly signed)', paddedEntry(MAX_ENTRY_BYTES + 1), 'TOO_LARGE'),
    invalid('invalid-entry-65535-bytes-unknown-field', 'an entry of exactly 65,535 bytes passes the size check and fails on its unknown key "pad"', paddedEntry(MAX_ENTRY_BYTES), 'UNKNOWN_FIELD'),
  ]
}

function signatureCases(): VectorCase[] {
  const record = encodeCanonical(indicator())
  const message = signedMessage(record)
  const sig = sign(log.seed, message)
  const entry = (s: Uint8Array): Uint8Array => encodeEntry(record, s)
  const flipped = record.slice()
  flipped[flipped.length - 1]! ^= 0x01
  return [
    invalid('invalid-signature-wrong-domain', 'signed over "cairn/record/v2" ‖ 0x00 ‖ record', entry(sign(log.seed, concat(utf8('cairn/record/v2'), hex('00'), record))), 'BAD_SIGNATURE'),
    invalid('invalid-signature-no-domain', 'signed over the record bytes alone', entry(sign(log.seed, record)), 'BAD_SIGNATURE'),
    invalid('invalid-signature-missing-zero-byte', 'signed over "cairn/record/v1" ‖ record without the 0x00 separator', entry(sign(log.seed, concat(utf8('cairn/record/v1'), record))), 'BAD_SIGNATURE'),
    invalid('invalid-signature-other-key', 'signed by another key than the log key', entry(sign(other.seed, message)), 'BAD_SIGNATURE'),
    invalid('invalid-signature-tampered-record', 'one bit of the record flipped after signing', encodeEntry(flipped, sig), 'BAD_SIGNATURE'),
    invalid('invalid-signature-s-plus-l', 'S replaced by S + L (non-canonical S; equal mod L)', entry(sPlusL(sig)), 'BAD_SIGNATURE'),
    invalid('invalid-signature-non-canonical-r', 'R is the identity encoded with y = p + 1; the equation holds for points but not for encodings', entry(nonCanonicalRSignature(log.seed, log.publicKey, message)), 'BAD_SIGNATURE'),
    invalid('invalid-signature-small-order-r', 'R is the identity point (canonical encoding) and S = k·a; the cofactorless equation holds, but R has small order', entry(smallOrderRSignature(log.seed, log.publicKey, message)), 'BAD_SIGNATURE'),
    invalid('invalid-signature-all-zero', 'a signature of 64 zero bytes', entry(new Uint8Array(64)), 'BAD_SIGNATURE'),
    invalid('invalid-public-key-small-order', 'the log key is a point of order 8; the signature satisfies the cofactorless equation', entry(smallOrderForgery(SMALL_ORDER_KEY, message)), 'BAD_PUBLIC_KEY', SMALL_ORDER_KEY),
    invalid('invalid-public-key-identity', 'the log key is the identity point; R = [r]B, S = r satisfies the equation for any message', entry(smallOrderForgery(hex('01' + '00'.repeat(31)), message)), 'BAD_PUBLIC_KEY', hex('01' + '00'.repeat(31))),
    invalid('invalid-public-key-non-canonical', 'the log key encodes its y coordinate as y + p (>= p)', entry(sig), 'BAD_PUBLIC_KEY', nonCanonicalKey()),
  ]
}

function recordRuleCases(): VectorCase[] {
  const bad = (name: string, description: string, fields: Fields, error: ErrorCode): VectorCase => invalid(name, description, signFields(fields), error)
  return [
    // common keys
    bad('invalid-record-version-2', 'v = 2', indicator({ v: 2 }), 'BAD_VERSION'),
    bad('invalid-record-missing-version', 'no v key', without(indicator(), 'v'), 'MISSING_FIELD'),
    bad('invalid-record-unknown-type', 'type "note"', indicator({ type: 'note' }), 'UNKNOWN_TYPE'),
    bad('invalid-record-missing-type', 'no type key', without(indicator(), 'type'), 'MISSING_FIELD'),
    bad('invalid-record-unknown-field', 'an extra key "comment"', indicator({ comment: 'seen on a forum' }), 'UNKNOWN_FIELD'),
    bad('invalid-record-missing-log', 'no log key', without(indicator(), 'log'), 'MISSING_FIELD'),
    bad('invalid-record-log-with-plus', 'log "vectors.cairn/eu+centre" contains +', indicator({ log: 'vectors.cairn/eu+centre' }), 'BAD_FIELD'),
    bad('invalid-record-log-without-federation', 'log "eu-centre" has no federation part', indicator({ log: 'eu-centre' }), 'BAD_FIELD'),
    bad('invalid-record-seq-as-text', 'seq as the text "0"', indicator({ seq: '0' }), 'BAD_FIELD'),
    bad('invalid-record-missing-time', 'no time key', without(indicator(), 'time'), 'MISSING_FIELD'),
    // indicator
    bad('invalid-indicator-bad-alg', 'alg "sha512"', indicator({ alg: 'sha512', value: sample('sha512', 64) }), 'BAD_ALG'),
    bad('invalid-indicator-md5-wrong-length', 'an md5 value of 20 bytes', indicator({ alg: 'md5', value: VALUES.sha1 }), 'BAD_VALUE_LENGTH'),
    bad('invalid-indicator-photodna-wrong-length', 'a photodna value of 32 bytes', indicator({ alg: 'photodna', value: VALUES.sha256 }), 'BAD_VALUE_LENGTH'),
    bad('invalid-indicator-tmk-pdqf-too-long', 'a tmk_pdqf value of 4,097 bytes', indicator({ alg: 'tmk_pdqf', value: sample('tmk_pdqf-over', 4097), media: 'video' }), 'BAD_VALUE_LENGTH'),
    bad('invalid-indicator-tmk-pdqf-empty', 'an empty tmk_pdqf value', indicator({ alg: 'tmk_pdqf', value: new Uint8Array(0), media: 'video' }), 'BAD_VALUE_LENGTH'),
    bad('invalid-indicator-value-as-text', 'value as hex text instead of bytes', indicator({ value: toHex(VALUES.sha256) }), 'BAD_FIELD'),
    bad('invalid-indicator-all-zero-value', 'a sha256 value of 32 zero bytes', indicator({ value: new Uint8Array(32) }), 'DEGENERATE_HASH'),
    bad('invalid-indicator-all-ff-value', 'a pdq value of 32 0xff bytes', pdqIndicator({ value: new Uint8Array(32).fill(0xff) }), 'DEGENERATE_HASH'),
    bad('invalid-indicator-bad-category', 'category "C1"', indicator({ category: 'C1' }), 'BAD_CATEGORY'),
    bad('invalid-indicator-bad-kind', 'kind "suspected"', indicator({ kind: 'suspected' }), 'BAD_KIND'),
    bad('invalid-indicator-bad-media', 'media "audio"', indicator({ media: 'audio' }), 'BAD_MEDIA'),
    bad('invalid-indicator-url-sha256-image-kind', 'alg url_sha256 with kind known_material', indicator({ alg: 'url_sha256', value: VALUES.url_sha256, media: 'url' }), 'BAD_FIELD'),
    bad('invalid-indicator-kind-url-with-sha256', 'kind url with alg sha256', indicator({ kind: 'url', media: 'url' }), 'BAD_FIELD'),
    bad('invalid-indicator-url-media-mismatch', 'alg url_sha256 and kind url with media text', indicator({ alg: 'url_sha256', value: VALUES.url_sha256, kind: 'url', media: 'text' }), 'BAD_FIELD'),
    bad('invalid-indicator-pdq-video', 'alg pdq with media video', pdqIndicator({ media: 'video' }), 'BAD_FIELD'),
    bad('invalid-indicator-tmk-pdqf-image', 'alg tmk_pdqf with media image', indicator({ alg: 'tmk_pdqf', value: VALUES.tmk_pdqf }), 'BAD_FIELD'),
    bad('invalid-indicator-pdq-low-quality', 'PDQ quality 49', pdqIndicator({ quality: 49 }), 'LOW_QUALITY'),
    bad('invalid-indicator-pdq-missing-quality', 'a PDQ indicator without quality', without(pdqIndicator(), 'quality'), 'MISSING_FIELD'),
    bad('invalid-indicator-pdq-quality-over-100', 'PDQ quality 101', pdqIndicator({ quality: 101 }), 'BAD_FIELD'),
    bad('invalid-indicator-quality-on-sha256', 'quality on a sha256 indicator', indicator({ quality: 90 }), 'UNKNOWN_FIELD'),
    bad('invalid-indicator-ref-free-text', 'ref "Jane Doe report" (spaces: free text, possibly personal data)', indicator({ ref: 'Jane Doe report' }), 'BAD_REF'),
    bad('invalid-indicator-ref-too-long', 'ref of 65 characters', indicator({ ref: 'x'.repeat(65) }), 'BAD_REF'),
    bad('invalid-indicator-ref-empty', 'an empty ref', indicator({ ref: '' }), 'BAD_REF'),
    bad('invalid-indicator-ref-raw-name', 'ref "John.Smith": a raw case reference (a name), not its pseudonym', indicator({ ref: 'John.Smith' }), 'BAD_REF'),
    bad('invalid-indicator-ref-raw-case-number', 'ref "case:2026/0001-A": a raw case reference, not its pseudonym', indicator({ ref: 'case:2026/0001-A' }), 'BAD_REF'),
    bad('invalid-indicator-ref-pseudonym-uppercase', 'a pseudonym with uppercase hex digits', indicator({ ref: VECTOR_REF.toUpperCase().replace('P1:', 'p1:') }), 'BAD_REF'),
    bad('invalid-indicator-ref-pseudonym-short', 'a pseudonym of 31 hex digits', indicator({ ref: VECTOR_REF.slice(0, -1) }), 'BAD_REF'),
    bad('invalid-indicator-ref-pseudonym-unknown-version', 'prefix "p2:" (only p1 is defined)', indicator({ ref: 'p2:' + VECTOR_REF.slice(3) }), 'BAD_REF'),
    bad('invalid-indicator-expires-not-after-time', 'expires equal to time', indicator({ expires: T }), 'BAD_FIELD'),
    // revocation and attestation
    bad('invalid-revocation-bad-reason', 'reason "mistake"', revocation({ reason: 'mistake' }), 'BAD_REASON'),
    bad('invalid-revocation-target-wrong-length', 'target of 31 bytes', revocation({ target: TARGET.subarray(0, 31) }), 'BAD_FIELD'),
    bad('invalid-revocation-missing-target', 'no target key', without(revocation(), 'target'), 'MISSING_FIELD'),
    bad('invalid-attestation-bad-opinion', 'opinion "maybe"', attestation({ opinion: 'maybe' }), 'BAD_OPINION'),
    bad('invalid-attestation-free-text-reason', 'reason as free text', attestation({ opinion: 'dispute', reason: 'looks like a cartoon' }), 'BAD_REASON'),
    bad('invalid-attestation-revocation-reason', 'reason "legal_order" (a revocation reason, not an attestation reason)', attestation({ reason: 'legal_order' }), 'BAD_REASON'),
    // roster
    bad('invalid-roster-unknown-change', 'change "rename_member"', { ...header('roster', 9), change: 'rename_member', member: 'ncmec' }, 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-missing-change', 'a roster record without change', without(addMember(), 'change'), 'MISSING_FIELD'),
    bad('invalid-roster-add-member-small-order-key', 'add_member with a log key of order 8', addMember({ key: SMALL_ORDER_KEY }), 'BAD_PUBLIC_KEY'),
    bad('invalid-roster-add-member-same-keys', 'add_member whose witness key equals its log key', addMember({ witness_key: ncmec.publicKey }), 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-add-member-unsorted-roles', 'roles ["witness", "publisher"]', addMember({ roles: ['witness', 'publisher'] }), 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-add-member-duplicate-role', 'roles ["publisher", "publisher"]', addMember({ roles: ['publisher', 'publisher'] }), 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-add-member-unknown-role', 'roles ["admin"]', addMember({ roles: ['admin'] }), 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-add-member-origin-mismatch', 'origin "vectors.cairn/c3p" for member "ncmec"', addMember({ origin: 'vectors.cairn/c3p' }), 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-add-member-missing-peer-id', 'add_member without peer_id', without(addMember(), 'peer_id'), 'MISSING_FIELD'),
    bad('invalid-roster-remove-member-extra-key', 'remove_member with a key (not allowed for that change)', { ...header('roster', 10), change: 'remove_member', member: 'ncmec', key: ncmec.publicKey }, 'UNKNOWN_FIELD'),
    bad('invalid-roster-rotate-key-nothing', 'rotate_key naming none of key, witness_key, peer_id', { ...header('roster', 11), change: 'rotate_key', member: 'ncmec' }, 'BAD_ROSTER_CHANGE'),
    bad('invalid-roster-set-threshold-zero', 'set_threshold 0', { ...header('roster', 13), change: 'set_threshold', threshold: 0 }, 'BAD_ROSTER_CHANGE'),
  ]
}

export function entryCases(): VectorCase[] {
  return [...validCases(), ...cborCases(), ...signatureCases(), ...recordRuleCases()]
}
