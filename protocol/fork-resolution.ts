/**
 * Fork resolution (spec/federation.md §10.10): the federation's M-of-N
 * decision, a `resolve_fork` roster change, naming which branch of a log
 * that equivocated stands — by that branch's signed checkpoint — and the
 * member's new log key. Pure: the record rule for the checkpoint field, the
 * check of its signature under the member's keys, and the rule that tells a
 * resolved equivocation proof from a new one.
 *
 *  - The checkpoint is the standing branch's signed checkpoint note in the
 *    canonical form of spec/logs.md §9.1: exactly one signature line, the
 *    log's; origin `<federation>/<member>`; size N ≥ 1. It opens under the
 *    member's log key valid at index N − 1 (§10.3 notes).
 *  - Once the change applies, an equivocation proof whose checkpoints both
 *    have size ≤ N (the largest N of the member's applied resolutions) is
 *    resolved: it no longer freezes the log. A proof with a checkpoint past
 *    N is a new fork (under the new key, which signs from size N + 1) and
 *    freezes it again.
 */
import { LedgerError } from './errors.ts'
import { utf8 } from './bytes.ts'
import { openCheckpoint, parseCheckpointNote, type CheckpointNote } from './checkpoint.ts'
import { formatNote, verifierKey } from './note.ts'
import type { LogKeys } from './log-keys.ts' // types only: records.ts imports this file, and log-keys.ts imports records.ts
import { parseEquivocationProof, verifyEquivocationProof, type VerifiedEquivocation } from './equivocation.ts'
import { parseTlogProof } from './tlog-proof.ts'

/** A standing checkpoint is one body and one signature line: far below this. */
export const MAX_RESOLUTION_CHECKPOINT_BYTES = 1024

/** A resolution that applied: the member's log stands as the branch of `checkpoint` up to its size. */
export interface ForkResolution {
  /** The resolve_fork proposal's record id (hex). */
  id: string
  /** N: the standing branch's size; the log holds exactly its first N entries, then continues under the new key. */
  size: number
  root: Uint8Array
  /** The standing checkpoint note, as the record holds it (one signature line). */
  checkpoint: string
}

/**
 * The record rule for `checkpoint` (no keys needed): a signed checkpoint note
 * of at most MAX_RESOLUTION_CHECKPOINT_BYTES with exactly one signature line
 * (BAD_ROSTER_CHANGE), of the log `origin` (WRONG_ORIGIN), of size ≥ 1
 * (BAD_ROSTER_CHANGE). Parse errors keep their codes (MALFORMED_NOTE,
 * MALFORMED_CHECKPOINT).
 */
export function parseStandingCheckpoint(text: string, origin: string): CheckpointNote {
  if (utf8(text).length > MAX_RESOLUTION_CHECKPOINT_BYTES) {
    throw new LedgerError('BAD_ROSTER_CHANGE', `resolve_fork: "checkpoint" is more than ${MAX_RESOLUTION_CHECKPOINT_BYTES} bytes; it is one checkpoint with only the log's signature`)
  }
  const cp = parseCheckpointNote(text)
  if (cp.note.signatures.length !== 1) {
    throw new LedgerError('BAD_ROSTER_CHANGE', `resolve_fork: "checkpoint" must carry exactly one signature line, the log's (it has ${cp.note.signatures.length}; drop the cosignatures)`)
  }
  if (cp.checkpoint.origin !== origin || cp.note.signatures[0]!.name !== origin) {
    throw new LedgerError('WRONG_ORIGIN', `resolve_fork: "checkpoint" is a checkpoint of ${cp.checkpoint.origin} signed as ${cp.note.signatures[0]!.name}, not of the member's log ${origin}`)
  }
  if (cp.checkpoint.size < 1) throw new LedgerError('BAD_ROSTER_CHANGE', 'resolve_fork: the standing checkpoint must cover at least one entry')
  return cp
}

/**
 * A checkpoint as fetched (with cosignatures, perhaps) reduced to the form a
 * resolve_fork carries: its body and the log's own signature line. For the
 * CLI; the record rule still checks the result.
 */
export function standingCheckpointText(text: string): string {
  const cp = parseCheckpointNote(text)
  const own = cp.note.signatures.filter((s) => s.name === cp.checkpoint.origin)
  if (own.length !== 1) {
    throw new LedgerError('BAD_ROSTER_CHANGE', `the checkpoint carries ${own.length} signature lines named ${cp.checkpoint.origin}; it needs exactly one, the log's`)
  }
  return formatNote(cp.note.body, own)
}

/**
 * Checks that the standing checkpoint opens under the key of the member's
 * log valid at index N − 1 (`keys`: the member's log keys before the
 * resolution applies). Throws UNKNOWN_KEY / BAD_SIGNATURE / WRONG_ORIGIN.
 */
export function checkStandingCheckpoint(cp: CheckpointNote, keys: LogKeys): void {
  const { origin, size } = cp.checkpoint
  const index = size - 1
  let first: unknown
  for (const k of keys) {
    if (index < k.from || (k.until !== undefined && index >= k.until)) continue
    try {
      openCheckpoint(cp, k.vkey ?? verifierKey(origin, k.publicKey))
      return
    } catch (e) {
      first ??= e
    }
  }
  throw first ?? new LedgerError('UNKNOWN_KEY', `resolve_fork: no log key of ${origin} is valid at index ${index}, where the standing checkpoint of size ${size} ends`)
}

/** The largest N of `resolutions` (0: none). */
export function resolvedSize(resolutions: readonly ForkResolution[]): number {
  return resolutions.reduce((n, r) => Math.max(n, r.size), 0)
}

/** True when a verified equivocation lies wholly within a resolved fork: both checkpoints of size ≤ N. */
export function isResolvedEquivocation(eq: Pick<VerifiedEquivocation, 'checkpoints'>, resolutions: readonly ForkResolution[]): boolean {
  const n = resolvedSize(resolutions)
  return n > 0 && eq.checkpoints.every((c) => c.size <= n)
}

/**
 * Verifies an equivocation proof with the member's log key valid where its
 * checkpoints end (a key rotated or compromised since still made what it
 * signed then; a compromised key past its end makes no proof) and says
 * whether it freezes the log: true unless it is resolved. Throws what
 * verifyEquivocationProof throws, UNKNOWN_KEY when no key fits both
 * checkpoints.
 */
export function equivocationFreezes(proof: string | Uint8Array, keys: LogKeys, origin: string, resolutions: readonly ForkResolution[]): boolean {
  const p = parseEquivocationProof(proof)
  const notes = p.kind === 'same-size' ? p.checkpoints : p.proofs.map((x) => parseTlogProof(x.proof).checkpoint)
  const indexes = notes.map((n) => Math.max(0, parseCheckpointNote(n).checkpoint.size - 1))
  const key = keys.find((k) => indexes.every((i) => i >= k.from && (k.until === undefined || i < k.until)))
  if (!key) throw new LedgerError('UNKNOWN_KEY', `no one log key of ${origin} was valid where both checkpoints of the proof end`)
  const eq = verifyEquivocationProof(proof, key.vkey ?? verifierKey(origin, key.publicKey))
  if (eq.origin !== origin) throw new LedgerError('WRONG_ORIGIN', `the proof is about ${eq.origin}, not ${origin}`)
  return !isResolvedEquivocation(eq, resolutions)
}
