/**
 * The Ed25519-heavy jobs the node hands to worker threads (node/worker-pool.ts):
 * pure functions from plain data to plain data.
 */
import { signerFor } from '../protocol/ed25519.ts'
import { entryLength, writeEntry, signedMessageIn } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { LedgerError } from '../protocol/errors.ts'
import { openEntryWithKeys, type LogKeys } from '../protocol/log-keys.ts'
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
  /** The first entry that failed, if any. */
  error?: { index: number; code: string; message: string }
}

/** Opens every entry (signature, record rules, log, seq); stops at the first failure. */
export const openJob: Job<OpenInput, OpenOutput> = ({ origin, start, entries, keys }) => {
  const ids = new Uint8Array(32 * entries.length)
  const signers = new Uint16Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    try {
      const opened = openEntryWithKeys(entries[i]!, keys, origin, start + i)
      ids.set(opened.id, 32 * i)
      signers[i] = keys.findIndex((k) => k.publicKey === opened.signer)
    } catch (e) {
      return { result: { ids, error: { index: start + i, code: e instanceof LedgerError ? e.code : 'MALFORMED_ENTRY', message: (e as Error)?.message ?? String(e) } } }
    }
  }
  return { result: { ids, signers }, transfer: [ids.buffer as ArrayBuffer, signers.buffer as ArrayBuffer] }
}
