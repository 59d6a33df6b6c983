/**
 * Entries: the bytes stored in a log's Merkle tree. An entry is the canonical
 * CBOR array [record: bstr, sig: bstr(64)], where sig is the log key's Ed25519
 * signature over RECORD_DOMAIN ‖ 0x00 ‖ record. The record id is the entry's
 * leaf hash, so one hash names the record and places it in the tree.
 */
import { concat, utf8 } from './bytes.ts'
import { decodeCanonical, headLength, writeHead, MAJOR_ARRAY, MAJOR_BYTES } from './cbor.ts'
import { sign, verify, SIGNATURE_BYTES } from './ed25519.ts'
import { LedgerError } from './errors.ts'
import { leafHash } from './hash.ts'
import { decodeRecord, encodeRecord, type CairnRecord } from './records.ts'

export const RECORD_DOMAIN: Uint8Array = utf8('cairn/record/v1')
export const MAX_ENTRY_BYTES = 65_535

const DOMAIN_PREFIX = concat(RECORD_DOMAIN, new Uint8Array([0x00]))

/** The bytes a log key signs for a record: "cairn/record/v1" ‖ 0x00 ‖ record. */
export function signedMessage(recordBytes: Uint8Array): Uint8Array {
  return concat(DOMAIN_PREFIX, recordBytes)
}

/**
 * signedMessage written into `scratch` (grown when too small) for a batch:
 * returns the message as a view of the scratch, valid until the next call,
 * and the scratch to pass next time.
 */
export function signedMessageIn(scratch: Uint8Array, recordBytes: Uint8Array): { message: Uint8Array; scratch: Uint8Array } {
  const n = DOMAIN_PREFIX.length + recordBytes.length
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, 2 * scratch.length))
  scratch.set(DOMAIN_PREFIX)
  scratch.set(recordBytes, DOMAIN_PREFIX.length)
  return { message: scratch.subarray(0, n), scratch }
}

export interface DecodedEntry {
  recordBytes: Uint8Array
  signature: Uint8Array
}

export interface OpenedEntry extends DecodedEntry {
  record: CairnRecord
  /** Record id = leaf hash of the entry. */
  id: Uint8Array
}

export interface EntryExpectation {
  /** Origin of the log the entry was fetched from (WRONG_LOG if the record names another). */
  log?: string
  /** Index the entry was fetched at (SEQ_MISMATCH if the record says otherwise). */
  seq?: number
}

function checkSize(length: number, what: string): void {
  if (length > MAX_ENTRY_BYTES) {
    throw new LedgerError('TOO_LARGE', `${what} is ${length} bytes; entries are at most ${MAX_ENTRY_BYTES} bytes`)
  }
}

function checkSignatureLength(signature: Uint8Array): void {
  if (signature.length !== SIGNATURE_BYTES) {
    throw new LedgerError('MALFORMED_ENTRY', `an entry signature is ${SIGNATURE_BYTES} bytes, got ${signature.length}`)
  }
}

/** Bytes of the entry that frames a record of `recordLength` bytes (the array head, the record's shortest byte-string head, the record, the signature with its head). */
export function entryLength(recordLength: number): number {
  return 1 + headLength(recordLength) + recordLength + headLength(SIGNATURE_BYTES) + SIGNATURE_BYTES
}

/**
 * Writes the entry [record, signature] at `at` of `out`, which must have
 * entryLength(record.length) bytes there, and returns the offset after it.
 * This is the canonical CBOR of the array by construction (definite lengths,
 * shortest heads); a test holds it to encodeCanonical.
 */
export function writeEntry(out: Uint8Array, at: number, recordBytes: Uint8Array, signature: Uint8Array): number {
  checkSignatureLength(signature)
  checkSize(entryLength(recordBytes.length), 'the entry')
  return frameEntry(out, at, recordBytes, signature)
}

/** writeEntry without its checks (the caller made them). */
function frameEntry(out: Uint8Array, at: number, recordBytes: Uint8Array, signature: Uint8Array): number {
  at = writeHead(out, at, MAJOR_ARRAY, 2)
  at = writeHead(out, at, MAJOR_BYTES, recordBytes.length)
  out.set(recordBytes, at)
  at = writeHead(out, at + recordBytes.length, MAJOR_BYTES, SIGNATURE_BYTES)
  out.set(signature, at)
  return at + SIGNATURE_BYTES
}

/** Frames record bytes and a signature as an entry (no signature check). */
export function encodeEntry(recordBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  checkSignatureLength(signature)
  const length = entryLength(recordBytes.length)
  checkSize(length, 'the entry')
  const entry = new Uint8Array(length)
  frameEntry(entry, 0, recordBytes, signature)
  return entry
}

/** Validates and encodes the record, signs it with the log's seed, returns the entry. */
export function signEntry(seed: Uint8Array, record: CairnRecord): Uint8Array {
  const recordBytes = encodeRecord(record)
  return encodeEntry(recordBytes, sign(seed, signedMessage(recordBytes)))
}

/**
 * The one canonical form of a well-formed entry, read directly: 0x82, the
 * record as a byte string with its length in the shortest form, 0x58 0x40
 * and the 64-byte signature, nothing after. Undefined for anything else,
 * which then goes through the general decoder (and its exact errors).
 */
function splitCanonicalEntry(b: Uint8Array): DecodedEntry | undefined {
  if (b.length < 3 || b[0] !== 0x82) return undefined
  const h = b[1]!
  let len: number
  let at: number
  if (h >= 0x40 && h < 0x58) {
    len = h - 0x40
    at = 2
  } else if (h === 0x58) {
    len = b[2]!
    at = 3
    if (len < 24) return undefined
  } else if (h === 0x59 && b.length > 3) {
    len = (b[2]! << 8) | b[3]!
    at = 4
    if (len < 256) return undefined
  } else return undefined
  const sigAt = at + len + 2
  if (b.length !== sigAt + SIGNATURE_BYTES || b[at + len] !== 0x58 || b[at + len + 1] !== SIGNATURE_BYTES) return undefined
  const view = new Uint8Array(b.buffer, b.byteOffset, b.length)
  return { recordBytes: view.subarray(at, at + len), signature: view.subarray(sigAt) }
}

/** Splits an entry into record bytes and signature: size, canonical CBOR and shape only. */
export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  checkSize(bytes.length, 'the entry')
  const fast = bytes instanceof Uint8Array ? splitCanonicalEntry(bytes) : undefined
  if (fast) return fast
  const value = decodeCanonical(bytes, { maxBytes: MAX_ENTRY_BYTES })
  if (!Array.isArray(value) || value.length !== 2) {
    throw new LedgerError('MALFORMED_ENTRY', 'an entry must be the CBOR array [record: bytes, signature: bytes]')
  }
  const [recordBytes, signature] = value
  if (!(recordBytes instanceof Uint8Array)) throw new LedgerError('MALFORMED_ENTRY', 'the first element of an entry must be the record as a byte string')
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new LedgerError('MALFORMED_ENTRY', `the second element of an entry must be a ${SIGNATURE_BYTES}-byte signature`)
  }
  return { recordBytes, signature }
}

/** openEntry's signed message: one scratch per thread, grown by signedMessageIn. */
let openScratch: Uint8Array = new Uint8Array(1024)

/**
 * Checks one entry completely, in this order: size (TOO_LARGE), CBOR and shape
 * (MALFORMED_CBOR, NON_CANONICAL_CBOR, MALFORMED_ENTRY), signature under the
 * log key (BAD_PUBLIC_KEY, BAD_SIGNATURE), record rules, then the caller's
 * expectations (WRONG_LOG, SEQ_MISMATCH).
 */
export function openEntry(entry: Uint8Array, publicKey: Uint8Array, expect: EntryExpectation = {}): OpenedEntry {
  const { recordBytes, signature } = decodeEntry(entry)
  // The signed message is built in a scratch kept between calls: verify is synchronous and keeps nothing of it.
  const m = signedMessageIn(openScratch, recordBytes)
  openScratch = m.scratch
  if (!verify(publicKey, m.message, signature)) {
    throw new LedgerError('BAD_SIGNATURE', 'the entry signature does not verify under the log key')
  }
  const record = decodeRecord(recordBytes)
  if (expect.log !== undefined && record.log !== expect.log) {
    throw new LedgerError('WRONG_LOG', `the record names log "${record.log}" but was found in log "${expect.log}"`)
  }
  if (expect.seq !== undefined && record.seq !== expect.seq) {
    throw new LedgerError('SEQ_MISMATCH', `the record says seq ${record.seq} but sits at index ${expect.seq}`)
  }
  return { record, recordBytes, signature, id: leafHash(entry) }
}

/** Record id: SHA-256(0x00 ‖ entry), the entry's Merkle leaf hash. */
export function recordId(entry: Uint8Array): Uint8Array {
  return leafHash(entry)
}
