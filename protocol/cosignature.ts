/**
 * c2sp.org/tlog-cosignature, Ed25519 cosignature/v1 (signature type 0x04).
 *
 * A witness signs
 *
 *   "cosignature/v1\n" "time " <decimal seconds> "\n" <whole checkpoint body>
 *
 * and the note signature bytes are key ID (4) ‖ timestamp (8, big-endian) ‖
 * Ed25519 signature (64). In cairn the witness key name is the member's
 * origin; its key ID differs from the log key's because the type byte and
 * the key differ. No clock here: the timestamp is a parameter.
 */
import { LedgerError } from './errors.ts'
import { concat, utf8 } from './bytes.ts'
import { generateKeyPair, sign, verify } from './ed25519.ts'
import {
  appendSignatureLines,
  formatSignatureLine,
  keyId,
  keyIdHex,
  parseNote,
  parseSignatureLine,
  parseVerifierKey,
  verifierIndex,
  SIG_TYPE_COSIGNATURE_V1,
  type NoteLimits,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type ParsedNote,
  assertNoteBody,
  verifierKey,
} from './note.ts'

export const COSIGNATURE_V1_HEADER = 'cosignature/v1'
/** timestamp (8) ‖ Ed25519 signature (64). */
export const COSIGNATURE_V1_BYTES = 72
const MAX_U63 = (1n << 63n) - 1n

export interface Cosignature {
  /** Witness key name (in cairn: the witnessing member's origin). */
  name: string
  keyId: number
  /** The witness verifier key that verified it. */
  vkey: string
  /** Seconds since the Epoch, as signed. */
  timestamp: number
  /** The signature line, without its newline. */
  line: string
}

/** The exact bytes a cosigner signs. */
export function cosignatureMessage(checkpointBody: string, timestamp: number): Uint8Array {
  return utf8(`${COSIGNATURE_V1_HEADER}\ntime ${timestamp}\n${checkpointBody}`)
}

/** Key ID of a witness key: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pub)[:4]. */
export function witnessKeyId(name: string, publicKey: Uint8Array): number {
  return keyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey)
}

/** The vkey of a witness: `name+hex(key ID)+base64(0x04 ‖ pub)`. */
export function witnessVerifierKey(name: string, publicKey: Uint8Array): string {
  return verifierKey(name, publicKey, SIG_TYPE_COSIGNATURE_V1)
}

/**
 * Cosigns a checkpoint body at `timestamp` (seconds, > 0) and returns the
 * signature line including its final newline.
 */
export function cosign(checkpointBody: string, witness: NoteSigner, timestamp: number): string {
  assertNoteBody(checkpointBody)
  if (!Number.isSafeInteger(timestamp) || timestamp <= 0) {
    throw new LedgerError('BAD_FIELD', 'a cosignature timestamp is a positive whole number of seconds since the Epoch')
  }
  const { publicKey } = generateKeyPair(witness.seed)
  const ts = new Uint8Array(8)
  new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp))
  const sig = sign(witness.seed, cosignatureMessage(checkpointBody, timestamp))
  return formatSignatureLine(witness.name, witnessKeyId(witness.name, publicKey), concat(ts, sig))
}

/** Reads the timestamp of a cosignature/v1 signature (bytes after the key ID), or throws BAD_COSIGNATURE. */
export function cosignatureTimestamp(sig: Uint8Array): number {
  if (sig.length !== COSIGNATURE_V1_BYTES) {
    throw new LedgerError('BAD_COSIGNATURE', `a cosignature/v1 signature is ${COSIGNATURE_V1_BYTES} bytes after the key ID, got ${sig.length}`)
  }
  const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0)
  if (t > MAX_U63) throw new LedgerError('BAD_COSIGNATURE', 'cosignature timestamp exceeds 2^63 - 1')
  // The spec lets verifiers reject future timestamps; anything past 2^53 s is.
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) throw new LedgerError('BAD_COSIGNATURE', 'cosignature timestamp is in the far future')
  return Number(t)
}

interface WitnessKey {
  verifier: NoteVerifier
  publicKey: Uint8Array
}

function witnessKey(vkey: string): WitnessKey {
  const k = parseVerifierKey(vkey)
  if (k.type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new LedgerError('BAD_VERIFIER_KEY', `${k.name}: a witness key has type 0x04 (cosignature/v1), got 0x${k.type.toString(16).padStart(2, '0')}`)
  }
  const verifier: NoteVerifier = {
    name: k.name,
    keyId: k.keyId,
    vkey,
    verify: (message, sig) => {
      let t: number
      try {
        t = cosignatureTimestamp(sig)
      } catch {
        return false
      }
      return verify(k.publicKey, concat(utf8(`${COSIGNATURE_V1_HEADER}\ntime ${t}\n`), message), sig.subarray(8))
    },
  }
  return { verifier, publicKey: k.publicKey }
}

/** A signed-note verifier for a witness vkey (type 0x04), usable with openNote. */
export function cosignatureVerifier(vkey: string): NoteVerifier {
  return witnessKey(vkey).verifier
}

function checkOne(body: Uint8Array, s: NoteSignature, v: NoteVerifier, now: number | undefined): Cosignature {
  const who = `${s.name}+${keyIdHex(s.keyId)}`
  const timestamp = cosignatureTimestamp(s.sig)
  if (!v.verify(body, s.sig)) throw new LedgerError('BAD_COSIGNATURE', `the cosignature by witness ${who} does not verify`)
  if (now !== undefined && timestamp > now) {
    throw new LedgerError('BAD_COSIGNATURE', `the cosignature by witness ${who} is dated ${timestamp}, after now (${now})`)
  }
  return { name: s.name, keyId: s.keyId, vkey: v.vkey, timestamp, line: s.line }
}

/** Verifies one cosignature line (with or without newline) on a checkpoint body; throws BAD_COSIGNATURE. */
export function verifyCosignature(checkpointBody: string, line: string, witnessVkey: string, options: { now?: number } = {}): Cosignature {
  const { verifier } = witnessKey(witnessVkey)
  const s = parseSignatureLine(line.endsWith('\n') ? line.slice(0, -1) : line)
  if (s.name !== verifier.name || s.keyId !== verifier.keyId) {
    throw new LedgerError('BAD_COSIGNATURE', `the signature line is by ${s.name}+${keyIdHex(s.keyId)}, not witness ${verifier.name}+${keyIdHex(verifier.keyId)}`)
  }
  return checkOne(utf8(checkpointBody), s, verifier, options.now)
}

export interface CosignaturePolicy {
  /** Minimum number of distinct witnesses that must have cosigned (default 0). */
  quorum?: number
  /** Reject cosignatures dated after this instant (seconds). */
  now?: number
}

/**
 * Checks every cosignature in a note by one of `witnessVkeys` and returns the
 * valid ones, one per witness. A failing cosignature by a known witness, or
 * fewer than `quorum` witnesses, throws BAD_COSIGNATURE. Other lines (the
 * log's signature, unknown witnesses) are ignored.
 */
export function verifyCosignatures(
  note: string | Uint8Array | ParsedNote,
  witnessVkeys: readonly string[],
  policy: CosignaturePolicy & NoteLimits = {},
): Cosignature[] {
  const parsed = typeof note === 'string' || note instanceof Uint8Array ? parseNote(note, policy) : note
  const known = verifierIndex(witnessVkeys.map(cosignatureVerifier))
  const body = utf8(parsed.body)
  const out: Cosignature[] = []
  const seen = new Set<string>()
  for (const s of parsed.signatures) {
    const id = `${s.name}+${keyIdHex(s.keyId)}`
    const v = known.get(id)
    if (!v) continue
    const c = checkOne(body, s, v, policy.now)
    if (seen.has(id)) continue
    seen.add(id)
    out.push(c)
  }
  const quorum = policy.quorum ?? 0
  if (out.length < quorum) {
    const missing = [...known.keys()].filter((id) => !seen.has(id))
    throw new LedgerError('BAD_COSIGNATURE', `checkpoint has cosignatures from ${out.length} of the required ${quorum} witnesses (missing: ${missing.join(', ')})`)
  }
  return out
}

/** Adds cosignature lines (e.g. a witness's add-checkpoint response) to a signed checkpoint. */
export function addCosignatures(noteText: string, lines: readonly string[], limits: NoteLimits = {}): string {
  return appendSignatureLines(noteText, lines, limits)
}

/** Signature lines on a checkpoint other than the log's own (the first line). */
export function countCosignatures(note: string): number {
  return Math.max(0, parseNote(note).signatures.length - 1)
}
