/**
 * The Ed25519-heavy jobs the node hands to worker threads (node/worker-pool.ts):
 * pure functions from plain data to plain data.
 */
import { signerFor, SIGNATURE_BYTES } from '../protocol/ed25519.ts'
import { entryLength, writeEntry, signedMessageIn, type OpenedEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { LedgerError } from '../protocol/errors.ts'
import { openEntryWithKeys, type LogKeys } from '../protocol/log-keys.ts'
import { ALGS, CATEGORIES, KINDS, MEDIA, REVOCATION_REASONS, OPINIONS, ATTESTATION_REASONS, RECORD_VERSION, RECORD_ID_BYTES, type CairnRecord } from '../protocol/records.ts'
import type { Job } from './pool.ts'

/**
 * Byte strings back to back in one buffer, `ends[i]` the offset where item i
 * ends. A batch crosses to a worker and back as two buffers instead of one
 * ArrayBuffer per record (each cost a copy and an allocation on both sides).
 */
export interface Packed {
  bytes: Uint8Array
  ends: Uint32Array
}

export function pack(items: readonly Uint8Array[]): Packed {
  let total = 0
  const ends = new Uint32Array(items.length)
  items.forEach((b, i) => { ends[i] = total += b.length })
  const bytes = new Uint8Array(total)
  items.forEach((b, i) => bytes.set(b, ends[i]! - b.length))
  return { bytes, ends }
}

/** The items of a Packed, as views of its buffer. */
export function unpack({ bytes, ends }: Packed): Uint8Array[] {
  const out: Uint8Array[] = new Array(ends.length)
  for (let i = 0, at = 0; i < ends.length; at = ends[i++]!) out[i] = bytes.subarray(at, ends[i])
  return out
}

export interface SignInput {
  seed: Uint8Array
  /** Canonical record bytes, already validated by the caller. */
  records: Packed
}

export interface SignOutput {
  /** The entries, in the order of the records. */
  entries: Packed
  /** Leaf hashes (= record ids), 32 bytes each, concatenated. */
  ids: Uint8Array
}

/** Signs records into entries, framed straight into one buffer, and computes their ids. */
export const signJob: Job<SignInput, SignOutput> = ({ seed, records }) => {
  const recs = unpack(records)
  const ends = new Uint32Array(recs.length)
  let total = 0
  recs.forEach((r, i) => { ends[i] = total += entryLength(r.length) })
  const bytes = new Uint8Array(total)
  const ids = new Uint8Array(32 * recs.length)
  const signWithSeed = signerFor(seed)
  let scratch: Uint8Array = new Uint8Array(1024)
  let at = 0
  recs.forEach((r, i) => {
    const from = at
    const m = signedMessageIn(scratch, r)
    scratch = m.scratch
    at = writeEntry(bytes, at, r, signWithSeed(m.message))
    ids.set(leafHash(bytes.subarray(from, at)), 32 * i)
  })
  return { result: { entries: { bytes, ends }, ids }, transfer: [bytes.buffer as ArrayBuffer, ends.buffer as ArrayBuffer, ids.buffer as ArrayBuffer] }
}

export interface OpenInput {
  origin: string
  start: number
  entries: Uint8Array[]
  /** The log's keys with their ranges (roster.logKeys), current first. */
  keys: LogKeys
}

export interface OpenOutput {
  /** Leaf hashes of the entries, concatenated. */
  ids: Uint8Array
  /** Per entry, the index in `keys` of the key that signed it. */
  signers?: Uint16Array
  /** Per entry, FIELD_SLOTS numbers: where its record and record fields lie in the entry (recordFields). */
  fields?: Float64Array
  /** The first entry that failed, if any. */
  error?: { index: number; code: string; message: string }
}

/** Opens every entry (signature, record rules, log, seq); stops at the first failure. */
export const openJob: Job<OpenInput, OpenOutput> = ({ origin, start, entries, keys }) => {
  const ids = new Uint8Array(32 * entries.length)
  const signers = new Uint16Array(entries.length)
  const fields = new Float64Array(FIELD_SLOTS * entries.length)
  for (let i = 0; i < entries.length; i++) {
    try {
      const entry = entries[i]!
      const opened = openEntryWithKeys(entry, keys, origin, start + i)
      ids.set(opened.id, 32 * i)
      signers[i] = keyIndex(keys, opened.signer)
      recordFields(entry, opened, fields, FIELD_SLOTS * i)
    } catch (e) {
      return { result: { ids, error: { index: start + i, code: e instanceof LedgerError ? e.code : 'MALFORMED_ENTRY', message: (e as Error)?.message ?? String(e) } } }
    }
  }
  return { result: { ids, signers, fields }, transfer: [ids.buffer as ArrayBuffer, signers.buffer as ArrayBuffer, fields.buffer as ArrayBuffer] }
}

/** Index in `keys` of the key object `publicKey` is (openEntryWithKeys returns the key's own array); -1: none. */
function keyIndex(keys: LogKeys, publicKey: Uint8Array): number {
  for (let k = 0; k < keys.length; k++) if (keys[k]!.publicKey === publicKey) return k
  return -1
}

/**
 * What the main thread needs of an opened entry without decoding it again:
 * FIELD_SLOTS numbers per entry, written by the worker that opened it
 * (recordFields) and read back by the main thread over its own copy of the
 * same bytes (recordFromFields). Byte strings travel as offsets into the
 * entry, closed sets as indexes into their tables, so the record the main
 * thread rebuilds is the one validateRecord returned in the worker: same
 * keys in the same order, byte strings as views of the entry. A record this
 * does not describe (roster records, indicators with `ref`) is marked 0 and
 * decoded on the main thread as before.
 *
 *   0 kind: 0 not described, 1 indicator, 2 revocation, 3 attestation
 *   1, 2 the record's bytes in the entry: offset, length
 *   3 time
 *   4, 5 indicator: value offset, length; revocation, attestation: target offset (RECORD_ID_BYTES)
 *   6 indicator: alg | category << 4 | kind << 8 | media << 12;
 *     revocation: reason; attestation: opinion | (reason + 1) << 4 (0: none)
 *   7 indicator: quality (-1: none)
 *   8 indicator: expires (-1: none)
 */
export const FIELD_SLOTS = 9

/** Fills the slots at `at` for an entry the caller opened; its record bytes, signature (the entry's last bytes) and the record's byte strings must be views of `entry`'s buffer, else the entry is marked not described. */
export function recordFields(entry: Uint8Array, { recordBytes, signature, record }: OpenedEntry, out: Float64Array, at: number): void {
  out[at] = 0
  const rec = offsetIn(entry, recordBytes)
  if (rec < 0 || signature.length !== SIGNATURE_BYTES || offsetIn(entry, signature) !== entry.length - SIGNATURE_BYTES) return
  out[at + 1] = rec
  out[at + 2] = recordBytes.length
  out[at + 3] = record.time
  if (record.type === 'indicator') {
    const value = offsetIn(entry, record.value)
    if (value < 0 || record.ref !== undefined) return
    out[at + 4] = value
    out[at + 5] = record.value.length
    out[at + 6] = ALGS.indexOf(record.alg) | (CATEGORIES.indexOf(record.category) << 4) | (KINDS.indexOf(record.kind) << 8) | (MEDIA.indexOf(record.media) << 12)
    out[at + 7] = record.quality ?? -1
    out[at + 8] = record.expires ?? -1
    out[at] = 1
  } else if (record.type === 'revocation' || record.type === 'attestation') {
    const target = offsetIn(entry, record.target)
    if (target < 0) return
    out[at + 4] = target
    if (record.type === 'revocation') {
      out[at + 6] = REVOCATION_REASONS.indexOf(record.reason)
      out[at] = 2
    } else {
      out[at + 6] = OPINIONS.indexOf(record.opinion) | ((record.reason === undefined ? 0 : ATTESTATION_REASONS.indexOf(record.reason) + 1) << 4)
      out[at] = 3
    }
  }
}

/** Where `b` lies in `entry`, when it is a view of the entry's bytes; -1 when it is not. */
function offsetIn(entry: Uint8Array, b: Uint8Array): number {
  return b.buffer === entry.buffer && b.byteOffset >= entry.byteOffset && b.byteOffset + b.length <= entry.byteOffset + entry.length ? b.byteOffset - entry.byteOffset : -1
}

/** A view of `length` bytes of `entry` from `offset`, as a plain Uint8Array (never a Buffer). */
function view(entry: Uint8Array, offset: number, length: number): Uint8Array {
  return new Uint8Array(entry.buffer, entry.byteOffset + offset, length)
}

/**
 * The record, its bytes and signature of `entry` (at index `seq` of `origin`)
 * from the slots a worker wrote when it opened the same bytes; undefined when
 * the slots do not describe it (the caller decodes the entry).
 */
export function recordFromFields(entry: Uint8Array, f: Float64Array, at: number, origin: string, seq: number): { record: CairnRecord; recordBytes: Uint8Array; signature: Uint8Array } | undefined {
  const kind = f[at]!
  if (kind === 0) return undefined
  const v = RECORD_VERSION as 1
  const time = f[at + 3]!
  let record: CairnRecord
  if (kind === 1) {
    const codes = f[at + 6]!
    const rec: CairnRecord = {
      v, type: 'indicator', log: origin, seq, time,
      alg: ALGS[codes & 0xf]!, value: view(entry, f[at + 4]!, f[at + 5]!),
      category: CATEGORIES[(codes >> 4) & 0xf]!, kind: KINDS[(codes >> 8) & 0xf]!, media: MEDIA[(codes >> 12) & 0xf]!,
    }
    // Optional keys in validateIndicator's order (quality, ref, expires); records with ref are not described.
    if (f[at + 7]! >= 0) rec.quality = f[at + 7]!
    if (f[at + 8]! >= 0) rec.expires = f[at + 8]!
    record = rec
  } else if (kind === 2) {
    record = { v, type: 'revocation', log: origin, seq, time, target: view(entry, f[at + 4]!, RECORD_ID_BYTES), reason: REVOCATION_REASONS[f[at + 6]!]! }
  } else {
    const codes = f[at + 6]!
    const rec: CairnRecord = { v, type: 'attestation', log: origin, seq, time, target: view(entry, f[at + 4]!, RECORD_ID_BYTES), opinion: OPINIONS[codes & 0xf]! }
    if (codes >> 4 > 0) rec.reason = ATTESTATION_REASONS[(codes >> 4) - 1]!
    record = rec
  }
  return { record, recordBytes: view(entry, f[at + 1]!, f[at + 2]!), signature: view(entry, entry.length - SIGNATURE_BYTES, SIGNATURE_BYTES) }
}
