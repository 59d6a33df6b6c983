/**
 * spec/vectors/proofs/: c2sp tlog-proofs of cairn entries in the log
 * `vectors.cairn/eu-centre` (same keys as checkpoints/).
 *
 * Each case: `description`, `vkey` (the log's verifier key), `entry` (hex of
 * the entry bytes: a real cairn entry, an indicator record signed by the log),
 * `proof` (the tlog-proof text), `valid`; invalid cases add `error` (the
 * LedgerError code). A case is valid when the checkpoint is signed by the log
 * key, its origin is the key name, and the proof places SHA-256(0x00 ‖ entry)
 * at the proof's index. Cosignatures are not checked (no witness keys given).
 */
import { sha256, toBase64, toHex, utf8 } from '../../protocol/bytes.ts'
import { leafHash } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import { signEntry } from '../../protocol/entry.ts'
import { signNote } from '../../protocol/note.ts'
import { formatCheckpoint, signCheckpoint } from '../../protocol/checkpoint.ts'
import { addCosignatures, cosign } from '../../protocol/cosignature.ts'
import { encodeTlogProof, type TlogProof } from '../../protocol/tlog-proof.ts'
import type { ErrorCode } from '../../protocol/errors.ts'
import { VECTOR_ORIGIN, vectorLog, vectorLogVkey, vectorWitnesses } from './checkpoints.ts'
import { vectorKey, VECTOR_TIME_MS, VECTOR_TIME_S, type VectorCase } from './seeds.ts'

const CATEGORIES = ['A1', 'A2', 'B1', 'B2'] as const

/** Entry i: an sha256 indicator at seq i, signed by the vector log. */
export function proofVectorEntry(i: number): Uint8Array {
  return signEntry(vectorLog.seed, {
    v: 1,
    type: 'indicator',
    log: VECTOR_ORIGIN,
    seq: i,
    time: VECTOR_TIME_MS + i * 1000,
    alg: 'sha256',
    value: sha256(utf8(`cairn-proof-vector-indicator-${i}`)),
    category: CATEGORIES[i % CATEGORIES.length]!,
    kind: 'known_material',
    media: 'image',
  })
}

const SIZE = 7
const entries = Array.from({ length: SIZE }, (_, i) => proofVectorEntry(i))
const tree = MerkleTree.from(entries.map(leafHash))
const checkpointAt = (size: number) => signCheckpoint({ origin: VECTOR_ORIGIN, size, root: tree.root(size) }, vectorLog)
const CP = checkpointAt(SIZE)

function proofText(index: number, over: Partial<TlogProof> = {}, size = SIZE): string {
  return encodeTlogProof({ index, proof: tree.inclusionProof(index, size), checkpoint: checkpointAt(size), ...over })
}

function ok(name: string, description: string, entry: Uint8Array, proof: string): VectorCase {
  return { name: `valid-${name}`, data: { description, vkey: vectorLogVkey, entry: toHex(entry), proof, valid: true } }
}

function bad(name: string, description: string, entry: Uint8Array, proof: string, error: ErrorCode): VectorCase {
  return { name: `invalid-${name}`, data: { description, vkey: vectorLogVkey, entry: toHex(entry), proof, valid: false, error } }
}

export function proofCases(): VectorCase[] {
  const e3 = entries[3]!
  const p3 = tree.inclusionProof(3)
  const good3 = proofText(3)
  const h0 = toBase64(p3[0]!)
  const one = MerkleTree.from([leafHash(entries[0]!)])
  const body = formatCheckpoint({ origin: VECTOR_ORIGIN, size: SIZE, root: tree.root() })
  const cosigned = addCosignatures(CP, vectorWitnesses.map((w, i) => cosign(body, w, VECTOR_TIME_S + i)))
  const impostor = { name: VECTOR_ORIGIN, ...vectorKey('eu-centre/impostor') }
  const flipped = p3.map((h, i) => (i === 1 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h))
  const nonCanonical = h0.slice(0, 42) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(h0[42]!) | 1
  ] + '='
  return [
    // --- valid -------------------------------------------------------------
    ok('first-entry', 'entry 0 of a 7-entry log', entries[0]!, proofText(0)),
    ok('middle-entry', 'entry 3 of a 7-entry log', e3, good3),
    ok('last-entry', 'entry 6 of a 7-entry log (the unpaired last leaf)', entries[6]!, proofText(6)),
    ok('single-entry-tree', 'the only entry of a 1-entry log: no proof hashes', entries[0]!,
      encodeTlogProof({ index: 0, proof: [], checkpoint: signCheckpoint({ origin: VECTOR_ORIGIN, size: 1, root: one.root() }, vectorLog) })),
    ok('older-checkpoint', 'entry 2 proven against the checkpoint of size 5', entries[2]!, proofText(2, {}, 5)),
    ok('extra-data', 'with an "extra" line (opaque, unauthenticated, ignored)', e3, proofText(3, { extra: utf8('cairn vector extra data') })),
    ok('empty-extra', 'an "extra " line with empty data (as some encoders write it)', e3, good3.replace('index 3\n', 'extra \nindex 3\n')),
    ok('cosigned-checkpoint', 'checkpoint carries three witness cosignatures (not checked without witness keys)', e3, proofText(3, { checkpoint: cosigned })),

    // --- does not prove inclusion ------------------------------------------
    bad('wrong-entry', 'entry 4 with the proof of entry 3', entries[4]!, good3, 'BAD_PROOF'),
    bad('wrong-index', 'entry 3 and its proof, but index 2', e3, encodeTlogProof({ index: 2, proof: p3, checkpoint: CP }), 'BAD_PROOF'),
    bad('index-equals-size', 'index 7 in a tree of size 7', e3, encodeTlogProof({ index: SIZE, proof: p3, checkpoint: CP }), 'BAD_PROOF'),
    bad('truncated-proof', 'the last proof hash removed', e3, proofText(3, { proof: p3.slice(0, -1) }), 'BAD_PROOF'),
    bad('extra-proof-hash', 'one proof hash too many', e3, proofText(3, { proof: [...p3, p3[0]!] }), 'BAD_PROOF'),
    bad('tampered-proof-hash', 'one bit of the second proof hash flipped', e3, proofText(3, { proof: flipped }), 'BAD_PROOF'),
    bad('proof-for-other-size', 'proof computed for size 7, checkpoint of size 5', e3, encodeTlogProof({ index: 3, proof: p3, checkpoint: checkpointAt(5) }), 'BAD_PROOF'),
    bad('reordered-proof', 'the first two proof hashes swapped', e3, proofText(3, { proof: [p3[1]!, p3[0]!, ...p3.slice(2)] }), 'BAD_PROOF'),

    // --- checkpoint not acceptable ------------------------------------------
    bad('wrong-log-key', 'checkpoint signed under the log name by another key', e3,
      proofText(3, { checkpoint: signCheckpoint({ origin: VECTOR_ORIGIN, size: SIZE, root: tree.root() }, impostor) }), 'UNKNOWN_KEY'),
    bad('wrong-origin', 'checkpoint signed by the log key but naming another origin', e3,
      proofText(3, { checkpoint: signNote(`vectors.cairn/ncmec\n${SIZE}\n${toBase64(tree.root())}\n`, [vectorLog]) }), 'WRONG_ORIGIN'),
    bad('tampered-checkpoint', 'checkpoint size changed after signing', e3, proofText(3, { checkpoint: CP.replace(`\n${SIZE}\n`, `\n${SIZE + 1}\n`) }), 'BAD_SIGNATURE'),
    bad('checkpoint-malformed-note', 'checkpoint signature line with a hyphen for the em dash', e3, good3.replace('—', '-'), 'MALFORMED_NOTE'),
    bad('checkpoint-malformed-body', 'checkpoint size with a leading zero, validly signed', e3,
      proofText(3, { checkpoint: signNote(`${VECTOR_ORIGIN}\n0${SIZE}\n${toBase64(tree.root())}\n`, [vectorLog]) }), 'MALFORMED_CHECKPOINT'),

    // --- malformed proof text -----------------------------------------------
    bad('wrong-header', 'header c2sp.org/tlog-proof@v2', e3, good3.replace('tlog-proof@v1', 'tlog-proof@v2'), 'MALFORMED_PROOF'),
    bad('crlf', 'CRLF line endings in the proof lines (lines end in U+000A only; Go\'s bufio.Scanner would strip the CR)', e3, good3.replace('c2sp.org/tlog-proof@v1\nindex 3\n', 'c2sp.org/tlog-proof@v1\r\nindex 3\r\n'), 'MALFORMED_PROOF'),
    bad('missing-index', 'no index line', e3, good3.replace('index 3\n', ''), 'MALFORMED_PROOF'),
    bad('index-leading-zero', 'index 03 (no leading zeros; strconv.ParseUint would accept it)', e3, good3.replace('index 3\n', 'index 03\n'), 'MALFORMED_PROOF'),
    bad('hash-wrong-length', 'a 31-byte proof hash', e3, good3.replace(h0, toBase64(p3[0]!.subarray(0, 31))), 'MALFORMED_PROOF'),
    bad('hash-non-canonical-base64', 'a proof hash with non-zero base64 padding bits (cairn requires canonical base64)', e3, good3.replace(h0, nonCanonical), 'MALFORMED_PROOF'),
    bad('missing-blank-line', 'no empty line between the proof hashes and the checkpoint', e3, good3.replace(`\n\n${VECTOR_ORIGIN}\n`, `\n${VECTOR_ORIGIN}\n`), 'MALFORMED_PROOF'),
    bad('too-many-hashes', '64 proof hash lines (at most 63)', e3, good3.replace('index 3\n', 'index 3\n' + `${h0}\n`.repeat(64 - p3.length)), 'MALFORMED_PROOF'),
  ]
}
