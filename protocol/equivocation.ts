/**
 * Equivocation proofs: evidence that a log signed two views that cannot both
 * be true, verifiable offline with the log's public key alone.
 *
 * Encoding (UTF-8 text, every length in bytes, no trailing data):
 *
 *   cairn/equivocation/v1\n
 *   same-size\n
 *   checkpoint <n>\n <n bytes: signed checkpoint note>
 *   checkpoint <n>\n <n bytes: signed checkpoint note>
 *
 *   cairn/equivocation/v1\n
 *   same-index\n
 *   leaf <base64 leaf hash>\n proof <n>\n <n bytes: c2sp tlog-proof>
 *   leaf <base64 leaf hash>\n proof <n>\n <n bytes: c2sp tlog-proof>
 *
 * Canonical form: each checkpoint note carries exactly one signature line
 * (the log's), tlog-proofs carry no extra line, and the two items are in
 * ascending bytewise order (same-size: of the notes; same-index: of the
 * leaf hashes). Length prefixes make the notes' own newlines unambiguous.
 */
import { LedgerError } from './errors.ts'
import { compareBytes, equalBytes, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.ts'
import { HASH_SIZE } from './hash.ts'
import { formatNote, parseNote, MAX_NOTE_BYTES } from './note.ts'
import { openCheckpoint, type Checkpoint } from './checkpoint.ts'
import { encodeTlogProof, parseTlogProof, verifyTlogProofForLeaf, MAX_TLOG_PROOF_BYTES } from './tlog-proof.ts'

export const EQUIVOCATION_HEADER = 'cairn/equivocation/v1'
export const MAX_EQUIVOCATION_BYTES = 2 * MAX_TLOG_PROOF_BYTES + 1024

export type EquivocationProof =
  | { kind: 'same-size'; checkpoints: [string, string] }
  | { kind: 'same-index'; proofs: [IndexedLeaf, IndexedLeaf] }

export interface IndexedLeaf {
  /** The leaf hash (cairn record id) the proof places at its index. */
  leafHash: Uint8Array
  /** A c2sp tlog-proof text. */
  proof: string
}

export interface VerifiedEquivocation {
  kind: 'same-size' | 'same-index'
  origin: string
  checkpoints: [Checkpoint, Checkpoint]
  /** same-index only: the index and the two leaf hashes placed there. */
  index?: number
  leafHashes?: [Uint8Array, Uint8Array]
}

function block(label: string, text: string): string {
  return `${label} ${utf8(text).length}\n${text}`
}

/** Serialises a proof as given; buildEquivocationProof produces the canonical form. */
export function encodeEquivocationProof(p: EquivocationProof): string {
  if (p.kind === 'same-size') {
    return `${EQUIVOCATION_HEADER}\nsame-size\n` + p.checkpoints.map((c) => block('checkpoint', c)).join('')
  }
  if (p.kind === 'same-index') {
    let out = `${EQUIVOCATION_HEADER}\nsame-index\n`
    for (const { leafHash, proof } of p.proofs) {
      if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) throw new LedgerError('MALFORMED_PROOF', `leaf hashes are ${HASH_SIZE} bytes`)
      out += `leaf ${toBase64(leafHash)}\n` + block('proof', proof)
    }
    return out
  }
  throw new LedgerError('MALFORMED_PROOF', 'unknown equivocation kind')
}

/** Parses the encoding strictly, including the canonical-form rules; throws MALFORMED_PROOF. */
export function parseEquivocationProof(input: string | Uint8Array, maxBytes = MAX_EQUIVOCATION_BYTES): EquivocationProof {
  const bytes = typeof input === 'string' ? utf8(input) : input
  if (!(bytes instanceof Uint8Array)) throw new LedgerError('MALFORMED_PROOF', 'an equivocation proof is text or bytes')
  if (bytes.length > maxBytes) throw new LedgerError('TOO_LARGE', `equivocation proof is ${bytes.length} bytes, more than ${maxBytes}`)
  let pos = 0
  const line = (what: string): string => {
    const nl = bytes.indexOf(0x0a, pos)
    if (nl < 0 || nl - pos > 256) throw new LedgerError('MALFORMED_PROOF', `equivocation proof: expected ${what}`)
    let s: string
    try {
      s = fromUtf8(bytes.subarray(pos, nl), 'BAD_FIELD')
    } catch (e) {
      throw new LedgerError('MALFORMED_PROOF', `equivocation proof: ${what} is not valid UTF-8`, { cause: e })
    }
    pos = nl + 1
    return s
  }
  const sized = (label: string, limit: number): string => {
    const l = line(`a "${label} <length>" line`)
    const m = /^([a-z]+) (0|[1-9][0-9]{0,9})$/.exec(l)
    if (!m || m[1] !== label) throw new LedgerError('MALFORMED_PROOF', `equivocation proof: expected "${label} <length>", got ${JSON.stringify(l.slice(0, 40))}`)
    const n = Number(m[2])
    if (n > limit || pos + n > bytes.length) throw new LedgerError('MALFORMED_PROOF', `equivocation proof: ${label} length ${n} is too large or runs past the end`)
    let text: string
    try {
      text = fromUtf8(bytes.subarray(pos, pos + n), 'MALFORMED_NOTE')
    } catch (e) {
      throw new LedgerError('MALFORMED_PROOF', `equivocation proof: ${label} is not valid UTF-8`, { cause: e })
    }
    pos += n
    return text
  }
  const header = line('the header line')
  if (header !== EQUIVOCATION_HEADER) throw new LedgerError('MALFORMED_PROOF', `an equivocation proof starts with ${EQUIVOCATION_HEADER}`)
  const kind = line('the kind line')
  let proof: EquivocationProof
  if (kind === 'same-size') {
    const a = sized('checkpoint', MAX_NOTE_BYTES)
    const b = sized('checkpoint', MAX_NOTE_BYTES)
    for (const c of [a, b]) {
      if (parseNote(c).signatures.length !== 1) throw new LedgerError('MALFORMED_PROOF', 'each checkpoint in an equivocation proof carries only the log signature')
    }
    if (compareBytes(utf8(a), utf8(b)) >= 0) throw new LedgerError('MALFORMED_PROOF', 'the two checkpoints must differ and be in ascending bytewise order')
    proof = { kind, checkpoints: [a, b] }
  } else if (kind === 'same-index') {
    const items: IndexedLeaf[] = []
    for (let i = 0; i < 2; i++) {
      const l = line('a "leaf <base64>" line')
      if (!l.startsWith('leaf ')) throw new LedgerError('MALFORMED_PROOF', 'equivocation proof: expected "leaf <base64 hash>"')
      let leafHash: Uint8Array
      try {
        leafHash = fromBase64(l.slice(5), 'leaf hash')
      } catch (e) {
        throw new LedgerError('MALFORMED_PROOF', 'equivocation proof: leaf hash is not canonical base64', { cause: e })
      }
      if (leafHash.length !== HASH_SIZE) throw new LedgerError('MALFORMED_PROOF', `equivocation proof: leaf hash is not ${HASH_SIZE} bytes`)
      const text = sized('proof', MAX_TLOG_PROOF_BYTES)
      const p = parseTlogProof(text)
      if (p.extra !== undefined) throw new LedgerError('MALFORMED_PROOF', 'tlog-proofs in an equivocation proof carry no extra data')
      if (parseNote(p.checkpoint).signatures.length !== 1) throw new LedgerError('MALFORMED_PROOF', 'each checkpoint in an equivocation proof carries only the log signature')
      items.push({ leafHash, proof: text })
    }
    if (compareBytes(items[0]!.leafHash, items[1]!.leafHash) >= 0) {
      throw new LedgerError('MALFORMED_PROOF', 'the two leaf hashes must differ and be in ascending bytewise order')
    }
    proof = { kind, proofs: [items[0]!, items[1]!] }
  } else {
    throw new LedgerError('MALFORMED_PROOF', `unknown equivocation kind ${JSON.stringify(kind.slice(0, 40))}`)
  }
  if (pos !== bytes.length) throw new LedgerError('MALFORMED_PROOF', 'equivocation proof has trailing data')
  return proof
}

/**
 * Verifies an equivocation proof with the log's key alone. Throws
 * MALFORMED_PROOF (encoding), the signature codes (UNKNOWN_KEY,
 * BAD_SIGNATURE, WRONG_ORIGIN) or BAD_PROOF when the evidence is not
 * authentic, and NOT_EQUIVOCATION when authentic evidence shows no fork.
 */
export function verifyEquivocationProof(proofText: string | Uint8Array, logVkey: string): VerifiedEquivocation {
  const p = parseEquivocationProof(proofText)
  if (p.kind === 'same-size') {
    const a = openCheckpoint(p.checkpoints[0], logVkey).checkpoint
    const b = openCheckpoint(p.checkpoints[1], logVkey).checkpoint
    if (a.size !== b.size) throw new LedgerError('NOT_EQUIVOCATION', `the checkpoints have different sizes (${a.size}, ${b.size})`)
    if (equalBytes(a.root, b.root)) throw new LedgerError('NOT_EQUIVOCATION', `the checkpoints agree on the root at size ${a.size}`)
    return { kind: 'same-size', origin: a.origin, checkpoints: [a, b] }
  }
  const [x, y] = p.proofs
  const a = verifyTlogProofForLeaf(x.proof, x.leafHash, logVkey)
  const b = verifyTlogProofForLeaf(y.proof, y.leafHash, logVkey)
  if (a.index !== b.index) throw new LedgerError('NOT_EQUIVOCATION', `the proofs are for different indexes (${a.index}, ${b.index})`)
  if (equalBytes(a.leafHash, b.leafHash)) throw new LedgerError('NOT_EQUIVOCATION', 'the proofs place the same leaf')
  return {
    kind: 'same-index',
    origin: a.checkpoint.origin,
    checkpoints: [a.checkpoint, b.checkpoint],
    index: a.index,
    leafHashes: [a.leafHash, b.leafHash],
  }
}

/** Reduces a signed checkpoint to its body and the log's signature line. */
function logSignedOnly(noteText: string, logVkey: string): string {
  const { note } = openCheckpoint(noteText, logVkey)
  return formatNote(note.body, [note.verified[0]!])
}

/** Evidence in any form: notes may carry cosignatures, proofs extra data, in any order. */
export type EquivocationEvidence = EquivocationProof

/**
 * Builds the canonical proof from evidence (cosignatures and extra data are
 * dropped, items sorted) and verifies it before returning it. Throws
 * NOT_EQUIVOCATION when the evidence shows no fork.
 */
export function buildEquivocationProof(evidence: EquivocationEvidence, logVkey: string): string {
  let proof: EquivocationProof
  if (evidence.kind === 'same-size') {
    const [a, b] = evidence.checkpoints.map((c) => logSignedOnly(c, logVkey)) as [string, string]
    proof = { kind: 'same-size', checkpoints: compareBytes(utf8(a), utf8(b)) <= 0 ? [a, b] : [b, a] }
  } else {
    const items = evidence.proofs.map(({ leafHash, proof: text }) => {
      const p = parseTlogProof(text)
      return { leafHash, proof: encodeTlogProof({ index: p.index, proof: p.proof, checkpoint: logSignedOnly(p.checkpoint, logVkey) }) }
    }) as [IndexedLeaf, IndexedLeaf]
    items.sort((x, y) => compareBytes(x.leafHash, y.leafHash))
    proof = { kind: 'same-index', proofs: items }
  }
  const text = encodeEquivocationProof(proof)
  if (proof.kind === 'same-size' ? proof.checkpoints[0] === proof.checkpoints[1] : equalBytes(proof.proofs[0].leafHash, proof.proofs[1].leafHash)) {
    throw new LedgerError('NOT_EQUIVOCATION', 'the two pieces of evidence are the same')
  }
  verifyEquivocationProof(text, logVkey)
  return text
}

/**
 * Compares two signed checkpoints of one log: returns a canonical
 * equivocation proof when they have the same size and different roots, else
 * null. Throws if either is not validly signed by the log.
 */
export function detectEquivocation(noteA: string, noteB: string, logVkey: string): string | null {
  const a = openCheckpoint(noteA, logVkey).checkpoint
  const b = openCheckpoint(noteB, logVkey).checkpoint
  if (a.size !== b.size || equalBytes(a.root, b.root)) return null
  return buildEquivocationProof({ kind: 'same-size', checkpoints: [noteA, noteB] }, logVkey)
}
