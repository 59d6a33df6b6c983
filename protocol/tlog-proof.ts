/**
 * c2sp.org/tlog-proof: an offline-verifiable inclusion proof of one entry.
 *
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64>]
 *   index <decimal>
 *   <base64 hash>            (zero or more, leaf's sibling first)
 *   <empty line>
 *   <signed checkpoint, verbatim>
 *
 * Parsing is strict (canonical decimal and base64, at most 63 hashes, a byte
 * budget); verification checks the log's signature on the checkpoint, the
 * given witnesses' cosignatures, and the inclusion of the leaf hash.
 */
import { LedgerError } from './errors.ts'
import { fromBase64, toBase64 } from './bytes.ts'
import { HASH_SIZE, leafHash as entryLeafHash } from './hash.ts'
import { verifyInclusion } from './merkle.ts'
import { noteString, parseNote, MAX_NOTE_BYTES } from './note.ts'
import { openCheckpoint, parseCheckpoint, parseDecimal, type Checkpoint, type OpenCheckpointOptions } from './checkpoint.ts'
import type { Cosignature } from './cosignature.ts'

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1'
/** A tree of at most 2^63 leaves needs at most 63 proof hashes. */
export const MAX_TLOG_PROOF_HASHES = 63
/** Extra data is opaque; cairn writes none and caps what it reads. */
export const MAX_TLOG_PROOF_EXTRA_BYTES = 4096
export const MAX_TLOG_PROOF_BYTES = MAX_NOTE_BYTES + 16 * 1024

export interface TlogProof {
  /** Unauthenticated application data; absent when the proof has no extra line. */
  extra?: Uint8Array
  index: number
  /** Inclusion proof hashes, leaf's sibling first. */
  proof: Uint8Array[]
  /** The signed checkpoint note, verbatim. */
  checkpoint: string
}

export function encodeTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw new LedgerError('MALFORMED_PROOF', 'proof index must be a non-negative safe integer')
  if (p.proof.length > MAX_TLOG_PROOF_HASHES) throw new LedgerError('MALFORMED_PROOF', `an inclusion proof has at most ${MAX_TLOG_PROOF_HASHES} hashes`)
  let out = TLOG_PROOF_HEADER + '\n'
  if (p.extra !== undefined) {
    if (p.extra.length > MAX_TLOG_PROOF_EXTRA_BYTES) {
      throw new LedgerError('MALFORMED_PROOF', `extra data is at most ${MAX_TLOG_PROOF_EXTRA_BYTES} bytes`)
    }
    out += `extra ${toBase64(p.extra)}\n`
  }
  out += `index ${p.index}\n`
  for (const h of p.proof) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new LedgerError('MALFORMED_PROOF', `proof hashes are ${HASH_SIZE} bytes`)
    out += toBase64(h) + '\n'
  }
  parseNote(p.checkpoint) // a proof carries a well-formed signed note
  return out + '\n' + p.checkpoint
}

/** Parses a tlog-proof strictly; throws MALFORMED_PROOF (or the note's MALFORMED_NOTE / MALFORMED_CHECKPOINT). */
export function parseTlogProof(input: string | Uint8Array, maxBytes = MAX_TLOG_PROOF_BYTES): TlogProof {
  let text: string
  try {
    text = noteString(input, maxBytes, 'tlog-proof')
  } catch (e) {
    if (e instanceof LedgerError && e.code === 'TOO_LARGE') throw e
    throw new LedgerError('MALFORMED_PROOF', (e as Error).message, { cause: e })
  }
  let pos = 0
  const nextLine = (what: string): string => {
    const nl = text.indexOf('\n', pos)
    if (nl < 0) throw new LedgerError('MALFORMED_PROOF', `tlog-proof ends before ${what}`)
    const line = text.slice(pos, nl)
    pos = nl + 1
    return line
  }
  if (nextLine('its header') !== TLOG_PROOF_HEADER) throw new LedgerError('MALFORMED_PROOF', `a tlog-proof starts with the line ${TLOG_PROOF_HEADER}`)
  let line = nextLine('its index line')
  let extra: Uint8Array | undefined
  if (line.startsWith('extra ')) {
    try {
      extra = fromBase64(line.slice(6), 'extra data')
    } catch (e) {
      throw new LedgerError('MALFORMED_PROOF', 'tlog-proof extra data is not canonical base64', { cause: e })
    }
    // An "extra " line with empty data is accepted: Go's transparency-dev encoder writes one.
    if (extra.length > MAX_TLOG_PROOF_EXTRA_BYTES) {
      throw new LedgerError('MALFORMED_PROOF', `tlog-proof extra data is more than ${MAX_TLOG_PROOF_EXTRA_BYTES} bytes`)
    }
    line = nextLine('its index line')
  }
  if (!line.startsWith('index ')) throw new LedgerError('MALFORMED_PROOF', 'tlog-proof needs an "index <n>" line after its header')
  const index = parseDecimal(line.slice(6), 'MALFORMED_PROOF', 'tlog-proof index')
  const proof: Uint8Array[] = []
  for (;;) {
    line = nextLine('the empty line before its checkpoint')
    if (line === '') break
    if (proof.length === MAX_TLOG_PROOF_HASHES) throw new LedgerError('MALFORMED_PROOF', `tlog-proof has more than ${MAX_TLOG_PROOF_HASHES} proof hashes`)
    let h: Uint8Array
    try {
      h = fromBase64(line, 'proof hash')
    } catch (e) {
      throw new LedgerError('MALFORMED_PROOF', `tlog-proof hash ${proof.length + 1} is not canonical base64`, { cause: e })
    }
    if (h.length !== HASH_SIZE) throw new LedgerError('MALFORMED_PROOF', `tlog-proof hash ${proof.length + 1} is ${h.length} bytes, not ${HASH_SIZE}`)
    proof.push(h)
  }
  const checkpoint = text.slice(pos)
  if (checkpoint === '') throw new LedgerError('MALFORMED_PROOF', 'tlog-proof has no checkpoint after its empty line')
  const note = parseNote(checkpoint)
  parseCheckpoint(note.body)
  return extra !== undefined ? { extra, index, proof, checkpoint } : { index, proof, checkpoint }
}

export interface VerifiedTlogProof {
  index: number
  leafHash: Uint8Array
  checkpoint: Checkpoint
  cosignatures: Cosignature[]
  /** Unauthenticated extra data, if any. */
  extra?: Uint8Array
}

/**
 * Verifies that `entry` is at the proof's index in the log whose key is
 * `logVkey`: checkpoint signature (and cosignatures per `options`), then
 * inclusion. Throws BAD_PROOF when the entry is not shown to be included.
 */
export function verifyTlogProof(proofText: string | Uint8Array, entry: Uint8Array, logVkey: string, options: OpenCheckpointOptions = {}): VerifiedTlogProof {
  return verifyTlogProofForLeaf(proofText, entryLeafHash(entry), logVkey, options)
}

/** As verifyTlogProof, given the leaf hash (= cairn record id) instead of the entry. */
export function verifyTlogProofForLeaf(proofText: string | Uint8Array, leafHash: Uint8Array, logVkey: string, options: OpenCheckpointOptions = {}): VerifiedTlogProof {
  const p = parseTlogProof(proofText)
  const { checkpoint, cosignatures } = openCheckpoint(p.checkpoint, logVkey, options)
  if (p.index >= checkpoint.size) {
    throw new LedgerError('BAD_PROOF', `proof index ${p.index} is not in the checkpoint's tree of size ${checkpoint.size}`)
  }
  verifyInclusion(leafHash, p.index, checkpoint.size, p.proof, checkpoint.root)
  const out: VerifiedTlogProof = { index: p.index, leafHash, checkpoint, cosignatures }
  if (p.extra !== undefined) out.extra = p.extra
  return out
}
