/**
 * Redaction on legal order (spec/redaction.md). A log's owner may delete the
 * payload of one of its own entries; the leaf hash stays in the tree, so every
 * tile, root and proof is unchanged. The owner signs a **redaction notice**
 * with its log key under its own domain:
 *
 *   notice        = canonical CBOR {v: 1, log, index, id: bstr(32), reason, time}
 *   signed notice = canonical CBOR [notice: bstr, sig: bstr(64)],
 *                   sig = Ed25519(log key, "cairn/redaction/v1" ‖ 0x00 ‖ notice)
 *   marker        = 0xff ‖ "cairn/redacted/v1" ‖ 0x00 ‖ signed notice
 *
 * The marker stands in a log's entry bundles (and sync responses) where the
 * entry was. No cairn entry can begin with 0xff (entries begin with 0x82, and
 * 0xff is not even well-formed CBOR), so a marker is never taken for an entry;
 * a verifier takes the leaf hash from the notice's `id` instead of hashing it.
 */
import { concat, equalBytes, toHex, fromHex, utf8 } from './bytes.ts'
import { decodeCanonical, encodeCanonical, type CborDecoded } from './cbor.ts'
import { sign, verify, SIGNATURE_BYTES } from './ed25519.ts'
import { LedgerError, type ErrorCode } from './errors.ts'
import { HASH_SIZE } from './hash.ts'
import { isValidOrigin } from './records.ts'

export const REDACTION_DOMAIN: Uint8Array = utf8('cairn/redaction/v1')
export const REDACTION_VERSION = 1
export const REDACTION_REASONS = ['legal_order'] as const
export type RedactionReason = (typeof REDACTION_REASONS)[number]
/** Largest signed notice (a real one is about 200 bytes). */
export const MAX_NOTICE_BYTES = 1024
/** 0xff ‖ "cairn/redacted/v1" ‖ 0x00: the first 19 bytes of every marker. */
export const MARKER_MAGIC: Uint8Array = concat(new Uint8Array([0xff]), utf8('cairn/redacted/v1'), new Uint8Array([0x00]))
export const MAX_MARKER_BYTES = MARKER_MAGIC.length + MAX_NOTICE_BYTES

const DOMAIN_PREFIX = concat(REDACTION_DOMAIN, new Uint8Array([0x00]))
const NOTICE_KEYS = new Set(['v', 'log', 'index', 'id', 'reason', 'time'])

export interface RedactionNotice {
  v: 1
  /** Origin of the log whose entry is redacted (the signer). */
  log: string
  /** Index of the redacted entry in that log. */
  index: number
  /** The entry's leaf hash (= record id), which stays in the tree. */
  id: Uint8Array
  reason: RedactionReason
  /** Milliseconds since the epoch, when the owner redacted. */
  time: number
}

export interface OpenedRedaction {
  notice: RedactionNotice
  /** The signed notice: canonical CBOR [notice, sig]. */
  signed: Uint8Array
  noticeBytes: Uint8Array
  signature: Uint8Array
}

/** What the verifier knows about the log the notice or marker is checked against. */
export interface RedactionExpectation {
  /** Origin of the log (WRONG_LOG if the notice names another). */
  log?: string
  /** Position of a marker in the log (SEQ_MISMATCH if the notice names another index). */
  index?: number
  /** Size of the verified tree (OUT_OF_RANGE if the notice's index is not below it). */
  size?: number
  /** Leaf hash of the tree at the notice's index (BAD_REDACTION if `id` differs). */
  leaf?: Uint8Array
}

function fail(code: ErrorCode, message: string): never {
  throw new LedgerError(code, message)
}

/** Validates a notice (a decoded Map or a plain object) in the order of spec/redaction.md §R.2. */
export function validateNotice(input: unknown): RedactionNotice {
  const map = input instanceof Map
    ? (input as Map<string, unknown>)
    : typeof input === 'object' && input !== null && !Array.isArray(input) && !(input instanceof Uint8Array)
      ? new Map(Object.entries(input).filter(([, v]) => v !== undefined))
      : fail('BAD_FIELD', 'a redaction notice must be a map')
  if (!map.has('v')) fail('MISSING_FIELD', 'the redaction notice is missing the required key "v"')
  if (map.get('v') !== REDACTION_VERSION) fail('BAD_VERSION', `redaction notice version must be ${REDACTION_VERSION}; got ${String(map.get('v'))}`)
  for (const k of map.keys()) {
    if (!NOTICE_KEYS.has(k)) fail('UNKNOWN_FIELD', `the redaction notice has an unknown key "${String(k)}"; allowed keys: ${[...NOTICE_KEYS].join(', ')}`)
  }
  const need = (k: string): unknown => (map.has(k) ? map.get(k) : fail('MISSING_FIELD', `the redaction notice is missing the required key "${k}"`))
  const uint = (k: string): number => {
    const v = need(k)
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('BAD_FIELD', `redaction notice: "${k}" must be an unsigned integer`)
    return v
  }
  const log = need('log')
  if (!isValidOrigin(log)) fail('BAD_FIELD', 'redaction notice: "log" must be an origin <federation>/<member>')
  const index = uint('index')
  const id = need('id')
  if (!(id instanceof Uint8Array) || id.length !== HASH_SIZE) fail('BAD_FIELD', `redaction notice: "id" must be a ${HASH_SIZE}-byte leaf hash`)
  const reason = need('reason')
  if (typeof reason !== 'string') fail('BAD_FIELD', 'redaction notice: "reason" must be a text string')
  if (!(REDACTION_REASONS as readonly string[]).includes(reason)) {
    fail('BAD_REASON', `redaction notice: "reason" must be one of ${REDACTION_REASONS.join(', ')}; got "${reason}"`)
  }
  const time = uint('time')
  return { v: 1, log, index, id, reason: reason as RedactionReason, time }
}

/** Canonical CBOR of a validated notice. */
export function encodeNotice(notice: RedactionNotice): Uint8Array {
  const n = validateNotice(notice)
  return encodeCanonical({ v: n.v, log: n.log, index: n.index, id: n.id, reason: n.reason, time: n.time })
}

/** The bytes the log key signs: "cairn/redaction/v1" ‖ 0x00 ‖ notice. */
export function redactionMessage(noticeBytes: Uint8Array): Uint8Array {
  return concat(DOMAIN_PREFIX, noticeBytes)
}

/** Signs a notice with the log's seed; returns the signed notice [notice, sig]. */
export function signRedaction(seed: Uint8Array, notice: RedactionNotice): Uint8Array {
  const noticeBytes = encodeNotice(notice)
  return encodeCanonical([noticeBytes, sign(seed, redactionMessage(noticeBytes))])
}

/** Size, canonical CBOR and shape of a signed notice; no signature check. */
export function decodeSignedNotice(signed: Uint8Array): { noticeBytes: Uint8Array; signature: Uint8Array } {
  if (signed.length > MAX_NOTICE_BYTES) fail('TOO_LARGE', `a signed redaction notice is at most ${MAX_NOTICE_BYTES} bytes, got ${signed.length}`)
  const v = decodeCanonical(signed, { maxBytes: MAX_NOTICE_BYTES })
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] instanceof Uint8Array) || !(v[1] instanceof Uint8Array) || v[1].length !== SIGNATURE_BYTES) {
    fail('BAD_REDACTION', `a signed redaction notice is the CBOR array [notice: bytes, signature: ${SIGNATURE_BYTES} bytes]`)
  }
  return { noticeBytes: v[0], signature: v[1] }
}

/** The notice inside a signed notice, decoded and validated but NOT authenticated (to pick the log's keys). */
export function readNoticeUnverified(signed: Uint8Array): RedactionNotice {
  const { noticeBytes } = decodeSignedNotice(signed)
  return validateNotice(decodeCanonical(noticeBytes, { maxBytes: MAX_NOTICE_BYTES }) as CborDecoded)
}

/**
 * Opens a signed notice with the log's keys (current first, then rotated-out
 * ones), then checks it against what the caller knows of the log. Check
 * order: size, CBOR, shape, key, signature, notice rules, log, index, size, leaf.
 */
export function openRedaction(signed: Uint8Array, publicKeys: Uint8Array | readonly Uint8Array[], expect: RedactionExpectation = {}): OpenedRedaction {
  const { noticeBytes, signature } = decodeSignedNotice(signed)
  const keys = publicKeys instanceof Uint8Array ? [publicKeys] : publicKeys
  if (keys.length === 0) fail('UNKNOWN_KEY', 'no log key to check the redaction notice with')
  const message = redactionMessage(noticeBytes)
  if (!keys.some((k) => verify(k, message, signature))) fail('BAD_SIGNATURE', 'the redaction notice is not signed by the log key')
  const notice = validateNotice(decodeCanonical(noticeBytes, { maxBytes: MAX_NOTICE_BYTES }) as CborDecoded)
  if (expect.log !== undefined && notice.log !== expect.log) fail('WRONG_LOG', `the redaction notice names log "${notice.log}", not "${expect.log}"`)
  if (expect.index !== undefined && notice.index !== expect.index) {
    fail('SEQ_MISMATCH', `the redaction notice names index ${notice.index} but stands at index ${expect.index}`)
  }
  if (expect.size !== undefined && notice.index >= expect.size) fail('OUT_OF_RANGE', `the redaction notice names index ${notice.index}, beyond the tree of size ${expect.size}`)
  if (expect.leaf !== undefined && !equalBytes(expect.leaf, notice.id)) {
    fail('BAD_REDACTION', `the redaction notice names leaf ${toHex(notice.id)} but the tree holds ${toHex(expect.leaf)} at index ${notice.index}`)
  }
  return { notice, signed, noticeBytes, signature }
}

/** True when `bytes` is in the marker position of a bundle rather than an entry (first byte 0xff). */
export function isRedactionMarker(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === 0xff
}

export function encodeRedactionMarker(signed: Uint8Array): Uint8Array {
  decodeSignedNotice(signed)
  return concat(MARKER_MAGIC, signed)
}

/** The signed notice inside a marker (magic checked, nothing else). */
export function markerNotice(marker: Uint8Array): Uint8Array {
  if (marker.length > MAX_MARKER_BYTES) fail('TOO_LARGE', `a redaction marker is at most ${MAX_MARKER_BYTES} bytes, got ${marker.length}`)
  if (marker.length < MARKER_MAGIC.length || !equalBytes(marker.subarray(0, MARKER_MAGIC.length), MARKER_MAGIC)) {
    fail('BAD_REDACTION', 'not a redaction marker: it must start with 0xff "cairn/redacted/v1" 0x00')
  }
  return marker.subarray(MARKER_MAGIC.length)
}

/**
 * Opens a marker found at `expect.index` of `expect.log`: magic, then the
 * signed notice as openRedaction. The leaf hash of that position is the
 * returned notice's `id`.
 */
export function openRedactionMarker(marker: Uint8Array, publicKeys: Uint8Array | readonly Uint8Array[], expect: RedactionExpectation & { log: string; index: number }): OpenedRedaction {
  return openRedaction(markerNotice(marker), publicKeys, expect)
}

/** JSON form (vectors, API): id as lowercase hex. */
export function noticeToJson(n: RedactionNotice): Record<string, unknown> {
  return { v: n.v, log: n.log, index: n.index, id: toHex(n.id), reason: n.reason, time: n.time }
}

export function noticeFromJson(json: Record<string, unknown>): RedactionNotice {
  return validateNotice({ ...json, id: typeof json.id === 'string' ? fromHex(json.id, 'id') : json.id })
}
