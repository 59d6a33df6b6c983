/**
 * A log's keys: every Ed25519 key the roster has given a log, each with the
 * range of entry indexes where it is valid, and the one way to open an
 * entry, a redaction notice or a checkpoint with them (spec/federation.md
 * §10.3). The current key comes first, so the common case verifies once.
 *
 * Which index a signature is tied to:
 *  - an entry at index i: i;
 *  - a checkpoint of size n: n - 1, the last entry it covers (0 for the empty
 *    tree). The log signs it after appending entry n - 1, with the key that
 *    signed that entry, so the last checkpoint under a retired key stays
 *    valid and a new key signs checkpoints from the first entry it signed;
 *  - a redaction notice for index i: any key still valid at i or later (the
 *    notice is signed after the entry, perhaps by a key rotated in since; a
 *    key retired before entry i was written cannot have signed it).
 *
 * The roster (protocol/roster.ts) sets the ranges: a rotation ends the old
 * key at its cut-over, a compromise ends every key at the stated index and
 * marks it `compromised` (spec/federation.md §10.7-10.8). An entry at or past
 * a compromised key's `until` that this key signed opens as `compromised`:
 * tree content only, admitted when a checkpoint signed by a valid key covers
 * it; a checkpoint never opens under a key past its `until`.
 */
import { LedgerError } from './errors.ts'
import { decodeEntry, openEntry, signedMessage, type OpenedEntry } from './entry.ts'
import { verify } from './ed25519.ts'
import { parseVerifierKey, verifierKey } from './note.ts'
import { openCheckpoint, parseCheckpointNote, type CheckpointNote, type OpenCheckpointOptions, type OpenedCheckpoint } from './checkpoint.ts'
import { openRedaction, markerNotice, redactionMessage, type OpenedRedaction, type RedactionExpectation } from './redaction.ts'

/** One key of a log (plain data: it crosses to worker threads by structured clone). */
export interface LogKey {
  /** The 32-byte Ed25519 public key. */
  publicKey: Uint8Array
  /** Its verifier key string (name = the log's origin); derived from the checkpoint's origin when absent. */
  vkey?: string
  /** First entry index the key may sign. */
  from: number
  /** First index it may no longer sign; absent: still valid. */
  until?: number
  /** The federation recorded this key as compromised from `until` on. */
  compromised?: true
}

/**
 * An entry opened with a log's keys; `signer`: the public key it verified
 * under (the roster decides from it whether a rotation counts, §10.7);
 * `compromised` when only a compromised key past its `until` signed it.
 */
export type OpenedEntryWithKeys = OpenedEntry & { signer: Uint8Array; compromised?: true }

/** A log's keys, the current one first. */
export type LogKeys = readonly LogKey[]

/** A LogKey from a verifier key string, valid over [from, until). */
export function logKeyFromVkey(vkey: string, from = 0, until?: number): LogKey {
  const key: LogKey = { publicKey: parseVerifierKey(vkey).publicKey, vkey, from }
  if (until !== undefined) key.until = until
  return key
}

/** True when `key` may sign the entry at `index`. */
export function validAt(key: LogKey, index: number): boolean {
  return index >= key.from && (key.until === undefined || index < key.until)
}

/** The key that may sign index `index` (ranges never overlap), or undefined. */
export function keyAt(keys: LogKeys, index: number): LogKey | undefined {
  return keys.find((k) => validAt(k, index))
}

/** The index a checkpoint of `size` is tied to: its last entry (see the header). */
export function checkpointIndex(size: number): number {
  return Math.max(0, size - 1)
}

/**
 * Opens the entry at `index` of `origin`'s log (openEntry: size, CBOR, the
 * signature, record rules, log, seq) under each key valid at that index in
 * turn. Only BAD_SIGNATURE moves on to the next key; the first error is
 * thrown. No key valid at `index`: BAD_SIGNATURE (after the entry decodes).
 */
export function openEntryWithKeys(entry: Uint8Array, keys: LogKeys, origin: string, index: number): OpenedEntryWithKeys {
  const expect = { log: origin, seq: index }
  let first: unknown
  for (const key of keys) {
    if (!validAt(key, index)) continue
    try {
      const opened = openEntry(entry, key.publicKey, expect) as OpenedEntryWithKeys
      opened.signer = key.publicKey
      return opened
    } catch (e) {
      if (!(e instanceof LedgerError) || e.code !== 'BAD_SIGNATURE') throw e
      first ??= e
    }
  }
  for (const key of keys) {
    if (!key.compromised || key.until === undefined || index < key.until) continue
    try {
      const opened = openEntry(entry, key.publicKey, expect) as OpenedEntryWithKeys
      opened.signer = key.publicKey
      opened.compromised = true
      return opened
    } catch (e) {
      if (!(e instanceof LedgerError) || e.code !== 'BAD_SIGNATURE') throw e
      first ??= e
    }
  }
  if (first) throw first
  decodeEntry(entry)
  throw new LedgerError('BAD_SIGNATURE', `no key of ${origin} is valid at index ${index}`)
}

/**
 * The key of `keys` whose signature the entry carries, whatever its range
 * (undefined: none). For entries checked when they were stored, e.g. a
 * node's replay of its roster records at start-up.
 */
export function entrySigner(entry: Uint8Array, keys: LogKeys): Uint8Array | undefined {
  const { recordBytes, signature } = decodeEntry(entry)
  const message = signedMessage(recordBytes)
  return keys.find((k) => verify(k.publicKey, message, signature))?.publicKey
}

/**
 * Opens a signed redaction notice with the log's keys (openRedaction's checks
 * and order), then makes sure the key that signed it was still valid at or
 * after the notice's index (see the header).
 */
export function openRedactionWithKeys(signed: Uint8Array, keys: LogKeys, expect: RedactionExpectation = {}): OpenedRedaction {
  const opened = openRedaction(signed, keys.map((k) => k.publicKey), expect)
  const { index } = opened.notice
  const allowed = keys.filter((k) => k.until === undefined || index < k.until)
  if (allowed.length === keys.length) return opened
  const message = redactionMessage(opened.noticeBytes)
  if (!allowed.some((k) => verify(k.publicKey, message, opened.signature))) {
    throw new LedgerError('BAD_SIGNATURE', `the redaction notice for index ${index} is signed by a key the log retired before that index`)
  }
  return opened
}

/** A redaction marker at `expect.index` of `expect.log`: its magic, then openRedactionWithKeys. */
export function openRedactionMarkerWithKeys(marker: Uint8Array, keys: LogKeys, expect: RedactionExpectation & { log: string; index: number }): OpenedRedaction {
  return openRedactionWithKeys(markerNotice(marker), keys, expect)
}

/**
 * Opens a signed checkpoint (openCheckpoint's checks and order) under each key
 * valid at its last entry, checkpointIndex(size), in turn; the first error is
 * thrown. No key valid there: UNKNOWN_KEY, as for a note no trusted key signed.
 * Text is parsed once, before the keys are tried.
 */
export function openCheckpointWithKeys(
  input: string | Uint8Array | CheckpointNote,
  keys: LogKeys,
  options: OpenCheckpointOptions = {},
): OpenedCheckpoint {
  const cp = typeof input === 'string' || input instanceof Uint8Array ? parseCheckpointNote(input, options) : input
  const { origin, size } = cp.checkpoint
  const index = checkpointIndex(size)
  let first: unknown
  for (const key of keys) {
    if (!validAt(key, index)) continue
    try {
      return openCheckpoint(cp, key.vkey ?? verifierKey(origin, key.publicKey), options)
    } catch (e) {
      first ??= e
    }
  }
  throw first ?? new LedgerError('UNKNOWN_KEY', `no key of ${origin} is valid for a checkpoint of size ${size}`)
}
