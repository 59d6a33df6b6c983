/**
 * The Ed25519-heavy jobs the node hands to worker threads (node/worker-pool.ts):
 * pure functions from plain data to plain data.
 */
import { sign } from '../protocol/ed25519.ts'
import { encodeEntry, signedMessage, openEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { LedgerError } from '../protocol/errors.ts'
import type { Job } from './worker-pool.ts'

export interface SignInput {
  seed: Uint8Array
  /** Canonical record bytes, already validated by the caller. */
  records: Uint8Array[]
}

export interface SignOutput {
  entries: Uint8Array[]
  /** Leaf hashes (= record ids), 32 bytes each, concatenated. */
  ids: Uint8Array
}

/** Signs records into entries and computes their ids. */
export const signJob: Job<SignInput, SignOutput> = ({ seed, records }) => {
  const entries = records.map((r) => encodeEntry(r, sign(seed, signedMessage(r))))
  const ids = new Uint8Array(32 * entries.length)
  entries.forEach((e, i) => ids.set(leafHash(e), 32 * i))
  return { result: { entries, ids }, transfer: [ids.buffer as ArrayBuffer] }
}

export interface OpenInput {
  origin: string
  start: number
  entries: Uint8Array[]
  /** Log keys to try, current first. */
  keys: Uint8Array[]
}

export interface OpenOutput {
  /** Leaf hashes of the entries, concatenated. */
  ids: Uint8Array
  /** The first entry that failed, if any. */
  error?: { index: number; code: string; message: string }
}

/** Opens every entry (signature, record rules, log, seq); stops at the first failure. */
export const openJob: Job<OpenInput, OpenOutput> = ({ origin, start, entries, keys }) => {
  const ids = new Uint8Array(32 * entries.length)
  for (let i = 0; i < entries.length; i++) {
    let first: unknown
    let ok = false
    for (const key of keys) {
      try {
        ids.set(openEntry(entries[i]!, key, { log: origin, seq: start + i }).id, 32 * i)
        ok = true
        break
      } catch (e) {
        first ??= e
        if (!(e instanceof LedgerError) || e.code !== 'BAD_SIGNATURE') break
      }
    }
    if (!ok) {
      const e = first as Error
      return { result: { ids, error: { index: start + i, code: e instanceof LedgerError ? e.code : 'MALFORMED_ENTRY', message: e?.message ?? String(e) } } }
    }
  }
  return { result: { ids }, transfer: [ids.buffer as ArrayBuffer] }
}
