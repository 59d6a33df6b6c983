/**
 * spec/vectors/redactions/: signed redaction notices and redaction markers
 * (spec/redaction.md) for the log `vectors.cairn/eu-centre`, whose first 7
 * entries are those of proofs/ (indicator i at seq i).
 *
 * Each case: `description`, `vkey` (the log's verifier key), `size` (the
 * log's tree size), `index` (marker: its position in the log; notice: the
 * index it names), `leaf` (hex leaf hash of the log at `index`; null when
 * `index` ≥ `size`), `kind` ("notice" or "marker"), `bytes` (hex), `valid`;
 * valid cases add `notice` (JSON form, id as hex), invalid ones `error`.
 */
import { concat, toHex, utf8 } from '../../protocol/bytes.ts'
import { encodeCanonical, type CborValue } from '../../protocol/cbor.ts'
import { sign } from '../../protocol/ed25519.ts'
import { leafHash } from '../../protocol/hash.ts'
import {
  encodeNotice, encodeRedactionMarker, noticeToJson, redactionMessage, signRedaction, MARKER_MAGIC, MAX_NOTICE_BYTES,
  type RedactionNotice,
} from '../../protocol/redaction.ts'
import { RECORD_DOMAIN } from '../../protocol/entry.ts'
import type { ErrorCode } from '../../protocol/errors.ts'
import { VECTOR_ORIGIN, vectorLog, vectorLogVkey } from './checkpoints.ts'
import { proofVectorEntry } from './proofs.ts'
import { vectorKey, VECTOR_TIME_MS, type VectorCase } from './seeds.ts'

const SIZE = 7
const leaves = Array.from({ length: SIZE }, (_, i) => leafHash(proofVectorEntry(i)))
const TIME = VECTOR_TIME_MS + 86_400_000

type Kind = 'notice' | 'marker'

function notice(index: number, over: Partial<RedactionNotice> = {}): RedactionNotice {
  return { v: 1, log: VECTOR_ORIGIN, index, id: leaves[index]!, reason: 'legal_order', time: TIME, ...over }
}

/** A notice map of any shape (for schema errors), canonically encoded and validly signed. */
function signedRaw(map: CborValue, seed = vectorLog.seed): Uint8Array {
  const bytes = encodeCanonical(map)
  return encodeCanonical([bytes, sign(seed, redactionMessage(bytes))])
}

function rawMap(index: number, over: Record<string, CborValue | undefined> = {}): Record<string, CborValue> {
  const base: Record<string, CborValue | undefined> = { v: 1, log: VECTOR_ORIGIN, index, id: leaves[index]!, reason: 'legal_order', time: TIME, ...over }
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, CborValue>
}

function data(description: string, kind: Kind, bytes: Uint8Array, index: number): Record<string, unknown> {
  return { description, vkey: vectorLogVkey, size: SIZE, index, leaf: index < SIZE ? toHex(leaves[index]!) : null, kind, bytes: toHex(bytes) }
}

function ok(name: string, description: string, kind: Kind, n: RedactionNotice): VectorCase {
  const signed = signRedaction(vectorLog.seed, n)
  const bytes = kind === 'marker' ? encodeRedactionMarker(signed) : signed
  return { name: `valid-${kind}-${name}`, data: { ...data(description, kind, bytes, n.index), valid: true, notice: noticeToJson(n) } }
}

function bad(name: string, description: string, kind: Kind, bytes: Uint8Array, index: number, error: ErrorCode): VectorCase {
  return { name: `invalid-${kind}-${name}`, data: { ...data(description, kind, bytes, index), valid: false, error } }
}

const flip = (b: Uint8Array, at: number): Uint8Array => b.map((x, i) => (i === at ? x ^ 1 : x))

export function redactionCases(): VectorCase[] {
  const good = signRedaction(vectorLog.seed, notice(3))
  const goodBytes = encodeNotice(notice(3))
  const impostor = vectorKey('eu-centre/impostor')
  const withSig = (msg: Uint8Array, seed = vectorLog.seed) => encodeCanonical([goodBytes, sign(seed, msg)])
  // [notice, sig] with a non-shortest array head (0x98 0x02 instead of 0x82).
  const longHead = concat(new Uint8Array([0x98, 0x02]), good.subarray(1))
  // The notice map with keys in alphabetical order (not canonical), validly signed.
  const alphabetical = (() => {
    const n = notice(3)
    const keys: [string, CborValue][] = [['id', n.id], ['index', n.index], ['log', n.log], ['reason', n.reason], ['time', n.time], ['v', n.v]]
    const parts: Uint8Array[] = [new Uint8Array([0xa6])]
    for (const [k, v] of keys) parts.push(encodeCanonical(k), encodeCanonical(v))
    const bytes = concat(...parts)
    return encodeCanonical([bytes, sign(vectorLog.seed, redactionMessage(bytes))])
  })()
  const oversized = encodeCanonical([new Uint8Array(MAX_NOTICE_BYTES - 69), new Uint8Array(64)])
  const marker = (signed: Uint8Array) => concat(MARKER_MAGIC, signed)
  const otherMagic = concat(new Uint8Array([0xff]), utf8('cairn/redacted/v2'), new Uint8Array([0x00]), good)
  return [
    // --- valid -------------------------------------------------------------
    ok('middle', 'notice redacting entry 3 of a 7-entry log', 'notice', notice(3)),
    ok('first', 'notice redacting entry 0', 'notice', notice(0)),
    ok('last', 'notice redacting entry 6, the last of the tree', 'notice', notice(6)),
    ok('middle', 'marker standing for entry 3 in its bundle: its leaf is the notice id', 'marker', notice(3)),
    ok('first', 'marker standing for entry 0', 'marker', notice(0)),
    ok('time-zero', 'time 0 is an unsigned integer like any other', 'marker', notice(5, { time: 0 })),

    // --- signature ---------------------------------------------------------
    bad('bad-signature', 'one bit of the signature flipped', 'notice', flip(good, good.length - 1), 3, 'BAD_SIGNATURE'),
    bad('notice-altered', 'one bit of the signed notice bytes flipped (the time) after signing', 'notice', flip(good, 3 + goodBytes.length - 1), 3, 'BAD_SIGNATURE'),
    bad('wrong-key', 'signed by another key that claims the same log', 'notice', withSig(redactionMessage(goodBytes), impostor.seed), 3, 'BAD_SIGNATURE'),
    bad('record-domain', 'signed under "cairn/record/v1" 0x00 instead of "cairn/redaction/v1" 0x00', 'notice',
      withSig(concat(RECORD_DOMAIN, new Uint8Array([0]), goodBytes)), 3, 'BAD_SIGNATURE'),
    bad('no-domain', 'signature over the notice bytes alone', 'notice', withSig(goodBytes), 3, 'BAD_SIGNATURE'),
    bad('domain-without-zero', 'signature over "cairn/redaction/v1" ‖ notice, without the 0x00 separator', 'notice',
      withSig(concat(utf8('cairn/redaction/v1'), goodBytes)), 3, 'BAD_SIGNATURE'),

    // --- encoding and shape ------------------------------------------------
    bad('non-shortest-array-head', '[notice, sig] with the array length in a one-byte argument (98 02)', 'notice', longHead, 3, 'NON_CANONICAL_CBOR'),
    bad('keys-alphabetical', 'the notice map with its keys in alphabetical, not canonical, order (validly signed)', 'notice', alphabetical, 3, 'NON_CANONICAL_CBOR'),
    bad('truncated', 'the signed notice without its last byte', 'notice', good.subarray(0, good.length - 1), 3, 'MALFORMED_CBOR'),
    bad('trailing-byte', 'one byte after the signed notice', 'notice', concat(good, new Uint8Array([0])), 3, 'NON_CANONICAL_CBOR'),
    bad('too-large', `a signed notice of ${oversized.length} bytes (limit ${MAX_NOTICE_BYTES})`, 'notice', oversized, 3, 'TOO_LARGE'),
    bad('three-elements', '[notice, sig, extra]', 'notice', encodeCanonical([goodBytes, good.subarray(good.length - 64), 0]), 3, 'BAD_REDACTION'),
    bad('short-signature', 'a 63-byte signature', 'notice', encodeCanonical([goodBytes, good.subarray(good.length - 63)]), 3, 'BAD_REDACTION'),
    bad('notice-as-text', 'the notice as a text string', 'notice', encodeCanonical(['notice', good.subarray(good.length - 64)]), 3, 'BAD_REDACTION'),

    // --- notice rules (every one validly signed) ----------------------------
    bad('not-a-map', 'the notice is a CBOR array', 'notice', signedRaw([VECTOR_ORIGIN, 3]), 3, 'BAD_FIELD'),
    bad('missing-v', 'no "v"', 'notice', signedRaw(rawMap(3, { v: undefined })), 3, 'MISSING_FIELD'),
    bad('version-2', '"v": 2', 'notice', signedRaw(rawMap(3, { v: 2 })), 3, 'BAD_VERSION'),
    bad('unknown-key', 'an extra key "ref"', 'notice', signedRaw(rawMap(3, { ref: 'CASE-1' })), 3, 'UNKNOWN_FIELD'),
    bad('missing-id', 'no "id"', 'notice', signedRaw(rawMap(3, { id: undefined })), 3, 'MISSING_FIELD'),
    bad('short-id', '"id" of 31 bytes', 'notice', signedRaw(rawMap(3, { id: leaves[3]!.subarray(0, 31) })), 3, 'BAD_FIELD'),
    bad('bad-log', '"log" that is not an origin', 'notice', signedRaw(rawMap(3, { log: 'eu-centre' })), 3, 'BAD_FIELD'),
    bad('index-text', '"index" as a text string', 'notice', signedRaw(rawMap(3, { index: '3' })), 3, 'BAD_FIELD'),
    bad('reason', '"reason": "false_positive" (only legal_order redacts)', 'notice', signedRaw(rawMap(3, { reason: 'false_positive' })), 3, 'BAD_REASON'),
    bad('missing-time', 'no "time"', 'notice', signedRaw(rawMap(3, { time: undefined })), 3, 'MISSING_FIELD'),

    // --- against the log ----------------------------------------------------
    bad('other-log', 'validly signed by this key, but naming log vectors.cairn/ncmec', 'notice',
      signRedaction(vectorLog.seed, notice(3, { log: 'vectors.cairn/ncmec' })), 3, 'WRONG_LOG'),
    bad('index-beyond-tree', 'index 7 in a tree of size 7', 'notice', signRedaction(vectorLog.seed, notice(3, { index: 7 })), 7, 'OUT_OF_RANGE'),
    bad('wrong-id', 'index 3 with the leaf hash of entry 4', 'notice', signRedaction(vectorLog.seed, notice(3, { id: leaves[4]! })), 3, 'BAD_REDACTION'),
    bad('wrong-index', 'the leaf hash of entry 3 named at index 4', 'notice', signRedaction(vectorLog.seed, notice(3, { index: 4 })), 4, 'BAD_REDACTION'),

    // --- markers -----------------------------------------------------------
    bad('no-magic', 'the signed notice without the marker prefix (it begins 0x82, like an entry)', 'marker', good, 3, 'BAD_REDACTION'),
    bad('other-magic', 'prefix 0xff "cairn/redacted/v2" 0x00', 'marker', otherMagic, 3, 'BAD_REDACTION'),
    bad('magic-only', 'the 19-byte prefix and nothing else', 'marker', MARKER_MAGIC, 3, 'MALFORMED_CBOR'),
    bad('at-other-index', 'the marker of entry 3 standing at index 4', 'marker', marker(good), 4, 'SEQ_MISMATCH'),
    bad('bad-signature', 'a marker whose notice signature has one bit flipped', 'marker', marker(flip(good, good.length - 1)), 3, 'BAD_SIGNATURE'),
    bad('wrong-key', 'a marker signed by another key', 'marker', marker(withSig(redactionMessage(goodBytes), impostor.seed)), 3, 'BAD_SIGNATURE'),
    bad('wrong-id', 'a marker at index 3 naming the leaf hash of entry 4', 'marker', marker(signRedaction(vectorLog.seed, notice(3, { id: leaves[4]! }))), 3, 'BAD_REDACTION'),
  ]
}
